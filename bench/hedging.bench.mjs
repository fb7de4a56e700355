// Hedging efficacy: how much of the latency tail hedging cuts, and at what cost in extra
// requests, on a real gRPC server and a real HTTP server on loopback where a seeded 2% of
// responses take 50 times the median service time. Every configuration gets the same
// open-loop load (seeded Poisson arrivals at a fixed rate: a slow response does not slow the
// arrivals down, so the tail is not hidden by coordinated omission), in the same run:
//
//   - the floor: the plain client when no answer is slow at all (the best any hedging can
//     do on this machine: a hedge's own latency comes from this distribution);
//   - no hedging (the plain client);
//   - breakwater hedging with a fixed delay at the p95 measured on the plain client;
//   - breakwater hedging with the adaptive delay `{ quantile: 0.95 }`;
//   - for gRPC, grpc-js's own `hedgingPolicy` from a service config, its delay at the same
//     measured p95 (the anchor).
//
// Then a total outage (the server fails every call at once): attempts per request, which
// the retry budget and the circuit breaker should hold to at most 1.1 under a hedged policy.
//
// Requests, cancellations and slow answers are counted at the server. Whether a response is
// slow is decided from the request's place in its round (not its configuration's label) and
// how many times it has arrived (a hash with a fixed seed), so the first attempt of request n
// is slow for every configuration alike, and a hedge is slow with the same 2% chance,
// independently.
//
// Takes about 2.5 minutes (BENCH_QUICK=1: under a minute, for a smoke run).
//
// The servers run in a child process (this file, started with the argument `server`). A
// configuration whose client cannot be built because the policy rejects `hedge` is reported
// as skipped ("needs hedging in the core") instead of failing the run.
import { createServer } from 'node:http';
import { createHistogram } from 'node:perf_hooks';
import { credentials, loadPackageDefinition, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Agent, request } from 'undici';
import { forkServer, loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';
import { exponentialGap, seeded, uniformOf } from './lib/seeded.mjs';

const PROTO = new URL('../test/fixtures/grpc/orders.proto', import.meta.url).pathname;
const { OrderService } = loadPackageDefinition(loadSync(PROTO)).orders.v1;

const SEED = 0x5eed19;
/** Median service time of a normal response, ms; normal ones are uniform in [0.75, 1.25] × this. */
const BASE_MS = 4;
const SLOW_SHARE = 0.02;
const SLOW_FACTOR = 50;

const quick = process.env.BENCH_QUICK === '1';
/** Arrivals per second, for every configuration. */
const RATE = quick ? 300 : 500;
/**
 * Measured rounds per configuration, each `ROUND_SECONDS` long, the order rotating. Short
 * rounds, many of them: on a shared 2-core machine a stall of a few seconds (a neighbour's
 * build, a GC) would land whole on one configuration's 4 s round and set its p99.9 alone;
 * in 1 s rounds it lands on every configuration alike.
 */
const ROUNDS = quick ? 4 : 16;
const ROUND_SECONDS = quick ? 0.75 : 1;
/** An unmeasured run per configuration first (JIT, connections, the adaptive estimator). */
const WARMUP_SECONDS = quick ? 1 : 2;
/** The fixed delays: the p95 of the plain client over a run this long, before the rounds. */
const PROBE_SECONDS = quick ? 2 : 4;
const OUTAGE_SECONDS = quick ? 1.5 : 4;
/** Every attempt of a configuration counts: the original included. */
const MAX_ATTEMPTS = 2;
/** A request that takes longer than this fails (none should, below the outage). */
const CALL_TIMEOUT_MS = 5_000;

// ---------------------------------------------------------------- server (child process)

/**
 * How the server answers the `n`th arrival (1-based) of request `request` (its place in its
 * round's arrivals, `${seed}:${seq}`, the same for every configuration); `slowShare` is
 * SLOW_SHARE, or 0 for the floor (the same normal answers, none slow).
 */
function serviceTime(request, n, slowShare) {
  const key = `${request}@${n}`;
  if (uniformOf(key, SEED) < slowShare) return { slow: true, ms: SLOW_FACTOR * BASE_MS };
  return { slow: false, ms: BASE_MS * (0.75 + 0.5 * uniformOf(key, SEED ^ 0x9e3779b9)) };
}

async function serve() {
  /** label -> { arrivals, cancelled, slow } */
  const stats = new Map();
  /**
   * label -> how late the server's event loop ran while that configuration's requests were
   * arriving (µs): a stall of the server process delays every answer of the round it hits.
   */
  const loops = new Map();
  let loop;
  let lastTick = performance.now();
  setInterval(() => {
    const now = performance.now();
    loop?.record(Math.max(1, Math.round((now - lastTick - 1) * 1000)));
    lastTick = now;
  }, 1);
  /** request id -> arrivals so far */
  const arrivals = new Map();
  // An id is `${mode}/${label}#${seq}`: mode is 'ok', 'floor' (no slow answers) or 'outage'.
  const arrive = (id) => {
    const hash = id.indexOf('#');
    const slash = id.indexOf('/');
    const mode = id.slice(0, slash);
    const label = id.slice(slash + 1, hash);
    let s = stats.get(label);
    if (s === undefined) {
      s = { arrivals: 0, cancelled: 0, slow: 0 };
      stats.set(label, s);
      loops.set(label, createHistogram());
    }
    loop = loops.get(label);
    s.arrivals++;
    const n = (arrivals.get(id) ?? 0) + 1;
    arrivals.set(id, n);
    if (mode === 'outage') return { s, outage: true, slow: false, ms: 0 };
    // Keyed without the label: the same requests are slow in every configuration. (Keyed
    // with it, each configuration drew its own slow set: 12 to 28 slow first attempts of
    // 893 in one quick run, where the comparison needs the same ones.)
    const t = serviceTime(id.slice(hash + 1), n, mode === 'floor' ? 0 : SLOW_SHARE);
    if (t.slow) s.slow++;
    return { s, outage: false, ...t };
  };

  const grpcServer = new Server();
  grpcServer.addService(OrderService.service, {
    GetOrder(call, callback) {
      const a = arrive(call.request.id);
      if (a.outage) {
        callback({ code: status.UNAVAILABLE, details: 'outage' });
        return;
      }
      // grpc-js emits 'cancelled' when the stream closes, after an answer too: count only
      // the calls cancelled before they were answered.
      let answered = false;
      const timer = setTimeout(() => {
        answered = true;
        callback(null, { id: call.request.id, item: 'book', quantity: 1 });
      }, a.ms);
      call.once('cancelled', () => {
        if (answered) return;
        clearTimeout(timer);
        a.s.cancelled++;
      });
    },
  });
  const grpcPort = await new Promise((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, port) =>
      e ? reject(e) : resolve(port),
    ),
  );

  const body = Buffer.from('{"ok":true}');
  const httpServer = createServer((req, res) => {
    const id = new URL(req.url, 'http://x').searchParams.get('id') ?? '';
    const a = arrive(id);
    if (a.outage) {
      res.writeHead(503, { 'content-length': 0 });
      res.end();
      return;
    }
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    }, a.ms);
    res.once('close', () => {
      if (res.writableFinished) return;
      clearTimeout(timer);
      a.s.cancelled++;
    });
  });
  httpServer.keepAliveTimeout = 60_000;
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));

  process.on('message', (m) => {
    if (m?.cmd !== 'stats') return;
    const all = {};
    for (const [label, s] of stats) {
      const h = loops.get(label);
      all[label] = { ...s, loopP99: h.percentile(99) / 1e3, loopMax: h.max / 1e3 };
    }
    process.send({ stats: all });
  });
  process.on('disconnect', () => process.exit(0));
  // forkServer() reads `port`; this server has two.
  process.send({ port: { grpc: grpcPort, http: httpServer.address().port } });
}

// ---------------------------------------------------------------- client (this process)

/** The server's counters, by label. */
function serverStats(child) {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m.stats));
    child.send({ cmd: 'stats' });
  });
}

/**
 * Sends requests at seeded Poisson arrival times for `seconds` through `send(id)` (which
 * resolves or rejects), without waiting for answers; resolves once every request settled.
 * A request's latency runs from its scheduled time, so a client that falls behind pays.
 */
async function openLoop(send, { mode, label, seconds, seed }) {
  const random = seeded(seed);
  const latencies = [];
  let failures = 0;
  let firstError;
  const settled = [];
  const start = performance.now() + 2;
  const end = start + seconds * 1000;
  let next = start;
  let seq = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next <= now && next < end) {
        const scheduled = next;
        const id = `${mode}/${label}#${seed}:${seq++}`;
        settled.push(
          send(id).then(
            () => latencies.push(performance.now() - scheduled),
            (error) => {
              failures++;
              firstError ??= error;
              latencies.push(performance.now() - scheduled);
            },
          ),
        );
        next += exponentialGap(random, RATE);
      }
      if (next >= end) resolve();
      else setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  });
  await Promise.all(settled);
  return { sent: seq, latencies, failures, firstError };
}

/**
 * Samples how late this process's event loop runs, into `histogram` (µs), until the
 * returned function is called: a 1 ms interval timer, each tick recording how much later
 * than 1 ms after the previous one it ran. (perf_hooks' monitorEventLoopDelay would count
 * the pause between two rounds as a delay, and its histograms cannot be added up.)
 */
function sampleLoopDelay(histogram) {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    histogram.record(Math.max(1, Math.round((now - last - 1) * 1000)));
    last = now;
  }, 1);
  return () => clearInterval(timer);
}

/** Nearest-rank quantile of sorted `values`. */
function quantileOf(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The configuration that measures the floor: no hedging, and no slow answers. */
const FLOOR = 'no hedging, no slow answers (the floor)';

const isUnknownHedgeOption = (error) =>
  error?.code === 'BREAKWATER_INVALID_OPTIONS' &&
  (error.option === 'hedge' || error.option === 'policy.hedge') &&
  /unknown option/.test(error.message);

/**
 * Builds a configuration's client. `build()` returns `{ send(id), close() }`; a policy that
 * rejects the `hedge` option (the core without hedging) makes the configuration skipped.
 */
function tryBuild(config) {
  try {
    return { client: config.build() };
  } catch (error) {
    if (isUnknownHedgeOption(error))
      return { skipped: 'needs hedging in the core (policy() rejects `hedge`)' };
    throw error;
  }
}

async function main() {
  const { policy, circuitBreaker } = await loadBreakwater();
  const { grpcInterceptor } = await loadBreakwater('grpc');
  const { httpInterceptor } = await loadBreakwater('http');
  const { child, port } = await forkServer(import.meta.url);
  const grpcAddress = `127.0.0.1:${port.grpc}`;
  const httpBase = `http://127.0.0.1:${port.http}/orders`;

  // One channel, and one HTTP/2 connection, per configuration.
  const channelBase = { 'grpc.use_local_subchannel_pool': 1 };
  const grpcClient = (options) => {
    const client = new OrderService(grpcAddress, credentials.createInsecure(), {
      ...channelBase,
      ...options,
    });
    return {
      ready: () =>
        new Promise((resolve, reject) =>
          client.waitForReady(Date.now() + 5_000, (error) => (error ? reject(error) : resolve())),
        ),
      send: (id) =>
        new Promise((resolve, reject) => {
          client.GetOrder({ id }, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, value) =>
            error ? reject(error) : resolve(value),
          );
        }),
      close: () => client.close(),
    };
  };
  const httpClient = (dispatcher) => ({
    ready: async () => {},
    send: async (id) => {
      const { statusCode, body } = await request(`${httpBase}?id=${encodeURIComponent(id)}`, {
        dispatcher,
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      await body.dump();
      if (statusCode !== 200) throw new Error(`status ${statusCode}`);
    },
    close: () => dispatcher.close(),
  });
  // The same policy shape for every breakwater configuration: hedging, and a circuit
  // breaker of its own; the retry budget is the policy's default one.
  const hedgedPolicy = (name, delay) =>
    policy({ name, hedge: { maxAttempts: MAX_ATTEMPTS, delay }, circuitBreaker: circuitBreaker() });
  const grpcHedged = (name, delay) =>
    grpcClient({ 'grpc.enable_retries': 0, interceptors: [grpcInterceptor(hedgedPolicy(name, delay))] });
  const httpHedged = (name, delay) =>
    httpClient(new Agent({ keepAliveTimeout: 30_000 }).compose(httpInterceptor(hedgedPolicy(name, delay))));
  const grpcNative = (delayMs) =>
    grpcClient({
      'grpc.service_config': JSON.stringify({
        methodConfig: [
          {
            name: [{ service: 'orders.v1.OrderService' }],
            hedgingPolicy: {
              maxAttempts: MAX_ATTEMPTS,
              hedgingDelay: `${(delayMs / 1000).toFixed(6)}s`,
              nonFatalStatusCodes: ['UNAVAILABLE'],
            },
          },
        ],
        retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
      }),
    });
  const ADAPTIVE = { quantile: 0.95 };

  const rows = [];
  const outageRows = [];
  const notes = [];

  for (const transport of ['gRPC', 'HTTP']) {
    const plain =
      transport === 'gRPC'
        ? () => grpcClient({ 'grpc.enable_retries': 0 })
        : () => httpClient(new Agent({ keepAliveTimeout: 30_000 }));
    // The fixed delays are the p95 of the plain client, measured here, in this run.
    const probe = plain();
    await probe.ready();
    await openLoop(probe.send, {
      mode: 'ok',
      label: `${transport}:probe/warmup`,
      // The first client of the process: its warm-up is the process's (JIT, both servers).
      seconds: PROBE_SECONDS,
      seed: SEED - 1,
    });
    // Long enough that a stall of the shared machine (a neighbour, a GC), which delays the
    // few requests due during it, does not reach the 95th percentile.
    const probeRun = await openLoop(probe.send, {
      mode: 'ok',
      label: `${transport}:probe`,
      seconds: PROBE_SECONDS,
      seed: SEED + 1_000,
    });
    await probe.close();
    const p95 = quantileOf(
      probeRun.latencies.sort((a, b) => a - b),
      0.95,
    );
    notes.push(
      `${transport}: the fixed delays are the plain client's p95 over ${probeRun.sent} requests (${PROBE_SECONDS} s) before the rounds: ${p95.toFixed(2)} ms.`,
    );
    console.log(`${transport}: measured p95 ${p95.toFixed(2)} ms`);

    const configs = [
      // The floor: the plain client when no answer is slow, in the same rounds. No hedging
      // can beat it: a hedge's own latency comes from this distribution.
      { name: FLOOR, delay: '-', build: plain, mode: 'floor' },
      { name: 'no hedging', delay: '-', build: plain },
      {
        name: 'breakwater, fixed delay (p95)',
        delay: `${p95.toFixed(1)} ms`,
        build: () => (transport === 'gRPC' ? grpcHedged : httpHedged)(`fixed-${transport}`, p95),
      },
      {
        name: 'breakwater, adaptive { quantile: 0.95 }',
        delay: 'p95 of recent attempts',
        build: () => (transport === 'gRPC' ? grpcHedged : httpHedged)(`adaptive-${transport}`, ADAPTIVE),
      },
    ];
    if (transport === 'gRPC') {
      configs.push({
        name: 'grpc-js hedgingPolicy (anchor)',
        delay: `${p95.toFixed(1)} ms`,
        build: () => grpcNative(p95),
      });
    }

    const live = [];
    const skippedRows = [];
    for (const config of configs) {
      const built = tryBuild(config);
      const label = `${transport}:${config.name}`;
      if (built.skipped) {
        console.log(`${label}: skipped, ${built.skipped}`);
        skippedRows.push({ transport, config, skipped: built.skipped });
        continue;
      }
      await built.client.ready();
      await openLoop(built.client.send, {
        mode: config.mode ?? 'ok',
        label: `${label}/warmup`,
        seconds: WARMUP_SECONDS,
        seed: SEED - 1,
      });
      live.push({
        config,
        label,
        client: built.client,
        // How late this process's event loop ran during the configuration's rounds: the
        // noise under every latency measured here (this process sends and times them).
        loopDelay: createHistogram(),
        latencies: [],
        sent: 0,
        failures: 0,
        firstError: undefined,
      });
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < live.length; i++) {
        const entry = live[(i + round) % live.length];
        const stopSampling = sampleLoopDelay(entry.loopDelay);
        const run = await openLoop(entry.client.send, {
          mode: entry.config.mode ?? 'ok',
          label: entry.label,
          seconds: ROUND_SECONDS,
          seed: SEED + 1 + round,
        });
        stopSampling();
        entry.latencies.push(...run.latencies);
        entry.sent += run.sent;
        entry.failures += run.failures;
        entry.firstError ??= run.firstError;
        console.log(`  round ${round + 1}/${ROUNDS} ${entry.label}: ${run.sent} requests`);
      }
    }
    const stats = await serverStats(child);
    const measured = [];
    for (const entry of live) {
      await entry.client.close();
      const sorted = entry.latencies.sort((a, b) => a - b);
      const s = stats[entry.label] ?? { arrivals: 0, cancelled: 0, slow: 0, loopP99: NaN, loopMax: NaN };
      measured.push({
        transport,
        config: entry.config,
        sent: entry.sent,
        p50: quantileOf(sorted, 0.5),
        p95: quantileOf(sorted, 0.95),
        p99: quantileOf(sorted, 0.99),
        p999: quantileOf(sorted, 0.999),
        arrivals: s.arrivals,
        cancelled: s.cancelled,
        slow: s.slow,
        failures: entry.failures,
        firstError: entry.firstError,
        loopP99: entry.loopDelay.percentile(99) / 1e3,
        loopMax: entry.loopDelay.max / 1e3,
        serverLoopP99: s.loopP99,
        serverLoopMax: s.loopMax,
      });
    }

    rows.push(
      ...[...measured, ...skippedRows].sort((a, b) => configs.indexOf(a.config) - configs.indexOf(b.config)),
    );

    // Total outage: every call fails at once with UNAVAILABLE (gRPC) or 503 (HTTP).
    const outageConfigs = [
      { name: 'no hedging', build: plain },
      {
        name: 'breakwater, adaptive { quantile: 0.95 }',
        build: () => (transport === 'gRPC' ? grpcHedged : httpHedged)(`outage-${transport}`, ADAPTIVE),
      },
    ];
    if (transport === 'gRPC')
      outageConfigs.push({ name: 'grpc-js hedgingPolicy (anchor)', build: () => grpcNative(p95) });
    for (const config of outageConfigs) {
      const built = tryBuild(config);
      const label = `${transport}:outage:${config.name}`;
      if (built.skipped) {
        outageRows.push({ transport, config, skipped: built.skipped });
        continue;
      }
      await built.client.ready();
      const run = await openLoop(built.client.send, {
        mode: 'outage',
        label,
        seconds: OUTAGE_SECONDS,
        seed: SEED,
      });
      await built.client.close();
      const s = (await serverStats(child))[label] ?? { arrivals: 0 };
      outageRows.push({ transport, config, sent: run.sent, arrivals: s.arrivals, failures: run.failures });
      console.log(`${label}: ${(s.arrivals / run.sent).toFixed(3)} attempts per request`);
    }
  }
  child.disconnect();

  const ms = (n) => (Number.isNaN(n) ? '-' : n.toFixed(1));
  const pct = (n) => `${(100 * n).toFixed(1)}%`;
  const table = [
    '| transport | configuration | hedge delay | requests | p50 ms | p95 ms | p99 ms | p99.9 ms | extra requests at the server | cancelled at the server | slow answers started | failed | client loop delay p99 / max ms | server loop delay p99 / max ms |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    if (r.skipped) {
      table.push(
        `| ${r.transport} | ${r.config.name} | ${r.config.delay} | skipped: ${r.skipped} | | | | | | | | | | |`,
      );
      continue;
    }
    table.push(
      `| ${r.transport} | ${r.config.name} | ${r.config.delay} | ${r.sent.toLocaleString('en-US')} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${ms(r.p999)} | ${pct((r.arrivals - r.sent) / r.sent)} | ${r.cancelled} | ${r.slow} | ${r.failures} | ${ms(r.loopP99)} / ${ms(r.loopMax)} | ${ms(r.serverLoopP99)} / ${ms(r.serverLoopMax)} |`,
    );
  }
  const outageTable = [
    '| transport | configuration | requests | attempts at the server | attempts per request | target |',
    '| --- | --- | ---: | ---: | ---: | --- |',
  ];
  for (const r of outageRows) {
    if (r.skipped) {
      outageTable.push(`| ${r.transport} | ${r.config.name} | skipped: ${r.skipped} | | | ≤ 1.1 |`);
      continue;
    }
    const perRequest = r.arrivals / r.sent;
    const target = r.config.name.startsWith('breakwater')
      ? perRequest <= 1.1
        ? '≤ 1.1: met'
        : '≤ 1.1: missed'
      : '';
    outageTable.push(
      `| ${r.transport} | ${r.config.name} | ${r.sent.toLocaleString('en-US')} | ${r.arrivals.toLocaleString('en-US')} | ${perRequest.toFixed(3)} | ${target} |`,
    );
  }

  // The issue's targets, for the adaptive configuration against the plain client.
  const verdicts = [];
  for (const transport of ['gRPC', 'HTTP']) {
    const base = rows.find((r) => r.transport === transport && r.config.name === 'no hedging' && !r.skipped);
    const adaptive = rows.find((r) => r.transport === transport && r.config.name.includes('adaptive'));
    if (base === undefined || adaptive === undefined) continue;
    if (adaptive.skipped) {
      verdicts.push(`${transport}, adaptive: not measured (${adaptive.skipped}).`);
      continue;
    }
    const cut = base.p999 / adaptive.p999;
    const extra = (adaptive.arrivals - adaptive.sent) / adaptive.sent;
    verdicts.push(
      `${transport}, adaptive: p99.9 cut ${cut.toFixed(1)}x (target ≥ 10x) with ${pct(extra)} extra requests (target ≤ 5%): ${cut >= 10 && extra <= 0.05 ? 'met' : 'missed'}.`,
    );
    const floor = rows.find((r) => r.transport === transport && r.config.name === FLOOR && !r.skipped);
    if (floor !== undefined) {
      verdicts.push(
        `${transport}, the floor: p99.9 ${ms(floor.p999)} ms with no slow answers at all, so no hedging can cut the p99.9 of ${ms(base.p999)} ms by more than ${(base.p999 / floor.p999).toFixed(1)}x here; a 10x cut needs ${ms(base.p999 / 10)} ms.`,
      );
    }
    const anchor = rows.find(
      (r) => r.transport === transport && r.config.name.includes('anchor') && !r.skipped,
    );
    if (anchor !== undefined) {
      const anchorExtra = (anchor.arrivals - anchor.sent) / anchor.sent;
      verdicts.push(
        `${transport}, adaptive vs grpc-js hedgingPolicy: p99.9 ${ms(adaptive.p999)} vs ${ms(anchor.p999)} ms, extra requests ${pct(extra)} vs ${pct(anchorExtra)}.`,
      );
    }
  }
  const failed = rows.filter((r) => !r.skipped && r.failures > 0);
  for (const r of failed) {
    notes.push(
      `${r.transport} ${r.config.name}: ${r.failures} requests failed; first: ${r.firstError?.message ?? r.firstError}.`,
    );
  }

  writeSection(
    'hedging',
    'Hedging: tail latency and extra load on loopback (gRPC and HTTP)',
    `${table.join('\n')}

Total outage (every call fails at once: gRPC \`UNAVAILABLE\`, HTTP 503), the same arrival rate for ${OUTAGE_SECONDS} s:

${outageTable.join('\n')}

${verdicts.length > 0 ? verdicts.map((v) => `- ${v}`).join('\n') : '- No breakwater configuration ran: the targets are not measured.'}

${notes.map((n) => `- ${n}`).join('\n')}

Servers: one grpc-js server and one \`node:http\` server in a child process; a normal answer
waits a uniform ${0.75 * BASE_MS}-${1.25 * BASE_MS} ms (median ${BASE_MS} ms), and ${100 * SLOW_SHARE}% of answers, chosen by a
seeded hash of the request's place in its round and its arrival count, wait ${SLOW_FACTOR * BASE_MS} ms (${SLOW_FACTOR}x the median), so the
first attempts of the same requests are slow in every configuration and a hedge is slow
with the same ${100 * SLOW_SHARE}% chance. Load: seeded Poisson arrivals at ${RATE}/s, open loop (latency counted
from each request's scheduled time); after ${WARMUP_SECONDS} s of unmeasured warm-up per configuration,
${ROUNDS} rounds of ${ROUND_SECONDS} s per configuration, the order rotating, the same arrival times for
every configuration in a round. Every hedged configuration allows ${MAX_ATTEMPTS} attempts (one hedge).
breakwater: \`policy({ hedge: { maxAttempts: ${MAX_ATTEMPTS}, delay }, circuitBreaker: circuitBreaker() })\` (the
policy's default retry budget) through \`grpcInterceptor\` (channel with
\`grpc.enable_retries: 0\`) or \`new Agent().compose(httpInterceptor(...))\`. grpc-js:
a service config with \`hedgingPolicy: { maxAttempts: ${MAX_ATTEMPTS}, hedgingDelay, nonFatalStatusCodes: ['UNAVAILABLE'] }\`
and \`retryThrottling: { maxTokens: 10, tokenRatio: 0.1 }\` (in grpc-js 1.14 a failed hedge takes a
token, but no hedge asks the throttle before it starts: only retries do, in
\`retrying-call.ts\`). "Extra requests" is what
the server received beyond one per request; "cancelled at the server" counts attempts the
server saw cancelled before it answered (the losers of a race); "slow answers started"
counts arrivals the server chose to answer slowly; "client loop delay" is how late the
client process's event loop ran during that configuration's rounds (a 1 ms interval timer's
lateness), and "server loop delay" the same in the server process while that configuration's
requests arrived: the machine's noise under its figures. "The floor" is the plain client in the
same rounds with no slow answer at all (the same normal ones): the best p99.9 any hedging
can reach on this machine, since a hedge's own latency is drawn from that distribution.`,
  );
}

if (process.argv[2] === 'server') {
  await serve();
} else {
  await main();
}
