// Efficacy of admission control under overload: a loopback gRPC server with a fixed
// capacity, an open-loop client at 1×, 2× and 4× that capacity, and one policy per
// configuration: no limit; a fixed bulkhead set to 4× the right value; adaptiveLimit with
// each algorithm; adaptiveThrottle. Reported per run: goodput (successes per second, all
// within the deadline), the p99 latency of the successes, and the client's in-flight
// high-water mark.
//
// The server (this file, started with the argument `server`, in a child process) has
// HANDLERS handlers that each take SERVICE_MS per call, and a FIFO queue of QUEUE calls
// behind them: latency grows with the queue, and a call that finds the queue full is refused
// at once with RESOURCE_EXHAUSTED. Like most servers it does not notice that a caller gave
// up: a queued call whose deadline passed still takes a handler when its turn comes.
//
// The client issues calls at a fixed rate whatever happens to them (open loop: arrivals do
// not wait for answers, as users do not), through a policy with a deadline and no retries.
// Each run warms up (the adaptive limits find their value) and then counts only the calls
// issued in its measured span. Between runs the server drops its queue and the client
// opens a new channel. The capacity the loads are multiples of is measured first (a
// closed-loop client keeping every handler busy): timers and a shared machine make it a
// little lower than HANDLERS / SERVICE_MS.
//
// The adaptive configurations run through real policies, as users write them
// (`policy({ bulkhead: adaptiveLimit() })`, `policy({ throttle: adaptiveThrottle() })`): the
// engine feeds the limit every attempt and asks the throttle before each one. A start-up
// check refuses to report figures if a policy does not (so a broken wiring cannot pass as a
// run without admission control).
import { credentials, loadPackageDefinition, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { forkServer, loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';

const PROTO = new URL('../test/fixtures/grpc/orders.proto', import.meta.url).pathname;
const { OrderService } = loadPackageDefinition(loadSync(PROTO)).orders.v1;

const HANDLERS = 32;
const SERVICE_MS = 50;
const QUEUE = 4 * HANDLERS;
/** The server's capacity on paper, calls per second; the runs use the measured one. */
const NOMINAL = (HANDLERS * 1_000) / SERVICE_MS;
const DEADLINE_MS = 3 * SERVICE_MS;
const quick = process.env.BENCH_QUICK === '1';
const WARMUP_MS = quick ? 1_500 : 2_500;
const MEASURE_MS = quick ? 1_500 : 3_000;
const LOADS = [1, 2, 4];

function serve() {
  let busy = 0;
  let queue = [];
  let head = 0;
  const reply = (callback) => callback(null, { id: 'o-42', item: 'book', quantity: 1 });
  const start = (callback) => {
    busy++;
    setTimeout(() => {
      busy--;
      reply(callback);
      next();
    }, SERVICE_MS);
  };
  const next = () => {
    while (busy < HANDLERS && head < queue.length) {
      const callback = queue[head];
      queue[head++] = undefined;
      start(callback);
    }
    if (head > 1_024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };
  const server = new Server();
  server.addService(OrderService.service, {
    GetOrder(_call, callback) {
      if (busy < HANDLERS) start(callback);
      else if (queue.length - head < QUEUE) queue.push(callback);
      else callback({ code: status.RESOURCE_EXHAUSTED, details: 'queue full' });
    },
  });
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    process.send?.({ port });
  });
  process.on('message', (message) => {
    if (message !== 'reset') return;
    // Between runs: refuse what is queued, and answer once the handlers are idle.
    for (let i = head; i < queue.length; i++) queue[i]?.({ code: status.UNAVAILABLE, details: 'reset' });
    queue = [];
    head = 0;
    const idle = setInterval(() => {
      if (busy > 0) return;
      clearInterval(idle);
      process.send?.('idle');
    }, 5);
  });
  process.on('disconnect', () => process.exit(0));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** What happened to one call, from the error the client got. */
function outcome(error) {
  if (error == null) return 'ok';
  const cause = error.cause?.code;
  if (cause === 'BREAKWATER_BULKHEAD_FULL' || cause === 'BREAKWATER_THROTTLED') return 'rejected';
  if (error.code === status.DEADLINE_EXCEEDED) return 'deadline';
  if (error.code === status.RESOURCE_EXHAUSTED) return 'refused';
  return 'other';
}

/** Whether the policy engine feeds an adaptive limit's `sample`. */
async function limitWired(bw) {
  const limit = bw.adaptiveLimit();
  let heard = 0;
  const sample = limit.sample.bind(limit);
  limit.sample = (s) => {
    heard++;
    return sample(s);
  };
  await bw.policy({ bulkhead: limit }).execute(async () => 1);
  return heard > 0;
}

/** Whether policies accept a `throttle` and consult it. */
async function throttleWired(bw) {
  try {
    const throttle = bw.adaptiveThrottle();
    let asked = 0;
    const allow = throttle.allow.bind(throttle);
    throttle.allow = (random, now) => {
      asked++;
      return allow(random, now);
    };
    await bw.policy({ throttle }).execute(async () => 1);
    return asked > 0;
  } catch {
    return false;
  }
}

async function main() {
  const bw = await loadBreakwater();
  const { grpcInterceptor } = await loadBreakwater('grpc');
  const { child, port } = await forkServer(import.meta.url);
  const address = `127.0.0.1:${port}`;
  if (!(await limitWired(bw)) || !(await throttleWired(bw))) {
    child.disconnect();
    throw new Error('a policy does not feed its adaptive limit or consult its throttle: nothing to measure');
  }

  const base = { deadline: DEADLINE_MS, retry: false };
  /** Clients opened for the current run, closed after it. */
  const open = [];
  const channel = (policy) => {
    const client = new OrderService(address, credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      interceptors: [grpcInterceptor(policy)],
    });
    open.push(client);
    return client;
  };
  const closeAll = () => {
    for (const client of open.splice(0)) client.close();
  };
  const unary = (client) => (request) =>
    new Promise((resolve) => client.GetOrder(request, (error) => resolve(outcome(error))));

  const adaptive = (algorithm) => ({
    name: `adaptiveLimit('${algorithm}')`,
    adaptive: true,
    // AIMD reads no latency below its timeout: give it the latency that means overload here.
    make: () =>
      bw.adaptiveLimit(algorithm === 'aimd' ? { algorithm, timeoutMs: 2 * SERVICE_MS } : { algorithm }),
    build: (limit) => unary(channel(bw.policy({ ...base, bulkhead: limit }))),
  });
  const configurations = [
    { name: 'no limit', build: () => unary(channel(bw.policy(base))) },
    {
      name: `bulkhead(${4 * HANDLERS}): 4× the right value`,
      build: () =>
        unary(channel(bw.policy({ ...base, bulkhead: bw.bulkhead({ maxConcurrent: 4 * HANDLERS }) }))),
    },
    adaptive('vegas'),
    adaptive('gradient2'),
    adaptive('aimd'),
    {
      name: 'adaptiveThrottle()',
      adaptive: true,
      make: () => bw.adaptiveThrottle(),
      build: (throttle) => unary(channel(bw.policy({ ...base, throttle }))),
    },
  ];

  const reset = () =>
    new Promise((resolve) => {
      child.once('message', resolve);
      child.send('reset');
    });

  /** One open-loop run of `call` at `rate` calls per second. */
  async function run(call, rate) {
    const counts = { ok: 0, late: 0, rejected: 0, deadline: 0, refused: 0, other: 0 };
    const latencies = [];
    let inFlight = 0;
    let highWater = 0;
    let issued = 0;
    const begin = performance.now();
    const measureFrom = begin + WARMUP_MS;
    const end = measureFrom + MEASURE_MS;
    const fire = () => {
      const started = performance.now();
      inFlight++;
      if (inFlight > highWater) highWater = inFlight;
      call({ id: 'o-42' }).then((result) => {
        inFlight--;
        if (started < measureFrom || started >= end) return;
        const latency = performance.now() - started;
        // Goodput counts successes within the deadline, as the caller saw them.
        const counted = result === 'ok' && latency > DEADLINE_MS ? 'late' : result;
        counts[counted]++;
        if (counted === 'ok') latencies.push(latency);
      });
    };
    await new Promise((resolve) => {
      const tick = setInterval(() => {
        const now = performance.now();
        const due = Math.floor(((Math.min(now, end) - begin) * rate) / 1_000);
        while (issued < due) {
          issued++;
          fire();
        }
        if (now >= end) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    // Every call ends by its deadline; leave room for a loaded machine.
    for (let waited = 0; inFlight > 0 && waited < 5_000; waited += 10) await sleep(10);
    latencies.sort((a, b) => a - b);
    return {
      goodput: counts.ok / (MEASURE_MS / 1_000),
      p99: percentile(latencies, 0.99),
      p50: percentile(latencies, 0.5),
      highWater,
      counts,
    };
  }

  /** The server's real capacity: completions per second with every handler kept busy. */
  async function calibrate(call) {
    let done = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) if ((await call({ id: 'o-42' })) === 'ok') done++;
    };
    const workers = Array.from({ length: 2 * HANDLERS }, worker);
    await sleep(1_000);
    const before = done;
    const from = performance.now();
    await sleep(quick ? 2_000 : 3_000);
    const rate = ((done - before) * 1_000) / (performance.now() - from);
    stop = true;
    await Promise.all(workers);
    return rate;
  }

  const CAPACITY = await calibrate(unary(channel(bw.policy({ retry: false }))));
  closeAll();
  await reset();
  console.log(`capacity: ${CAPACITY.toFixed(0)} calls/s measured (${NOMINAL} on paper)`);

  const rows = [];
  const log = (row) =>
    console.log(
      `${row.name.padEnd(38)} ${`${row.load}×`.padStart(5)}  ${row.goodput.toFixed(0).padStart(5)}/s` +
        `  p99 ${row.p99.toFixed(1).padStart(6)} ms  in flight ≤ ${String(row.highWater).padStart(4)}` +
        `  ${JSON.stringify(row.counts)}`,
    );

  // The unloaded latency: a quarter of the capacity, no limit.
  const unloaded = await run(configurations[0].build(), CAPACITY / 4);
  closeAll();
  await reset();
  rows.push({ name: 'no limit (unloaded)', load: 0.25, ...unloaded });
  log(rows[0]);

  for (const config of configurations) {
    for (const load of LOADS) {
      const stage = config.make?.();
      const call = config.build(stage);
      const result = await run(call, load * CAPACITY);
      closeAll();
      await reset();
      const row = {
        name: config.name,
        load,
        limit: stage?.limit,
        ...result,
      };
      rows.push(row);
      log(row);
    }
  }
  child.disconnect();

  const table = [
    '| configuration | load | goodput (/s) | % of capacity | p99 of successes (ms) | in-flight high-water | rejected locally | refused by server | deadline exceeded | late successes |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.load}× | ${r.goodput.toFixed(0)} | ${((100 * r.goodput) / CAPACITY).toFixed(1)}% | ${Number.isNaN(r.p99) ? '—' : r.p99.toFixed(1)} | ${r.highWater} | ${r.counts.rejected} | ${r.counts.refused} | ${r.counts.deadline} | ${r.counts.late} |`,
    ),
  ].join('\n');

  const at = (name, load) => rows.find((r) => r.name === name && r.load === load);
  const adaptiveNames = configurations.filter((c) => c.adaptive).map((c) => c.name);
  const verdicts = [];
  const best = adaptiveNames
    .map((n) => at(n, 4))
    .sort((a, b) => b.goodput - a.goodput)
    .at(0);
  verdicts.push(
    `At 4×, the best adaptive configuration (${best.name}) keeps ${((100 * best.goodput) / CAPACITY).toFixed(1)}% of capacity (target ≥ 90%) with p99 ${best.p99.toFixed(1)} ms, ${(best.p99 / unloaded.p99).toFixed(2)}× the unloaded p99 (target ≤ 2×).`,
  );
  const oneX = at('no limit', 1);
  for (const n of adaptiveNames) {
    const r = at(n, 1);
    verdicts.push(
      oneX.goodput > 0
        ? `At 1×, ${n} keeps ${((100 * r.goodput) / oneX.goodput).toFixed(1)}% of the goodput without a limit (target ≥ 98%).`
        : `At 1×, ${n}: ${r.goodput.toFixed(0)}/s, where no limit collapsed to 0 (target: at most 2% below no limit).`,
    );
  }
  for (const n of ['no limit', `bulkhead(${4 * HANDLERS}): 4× the right value`]) {
    const r = at(n, 4);
    verdicts.push(
      `At 4×, ${n}: ${((100 * r.goodput) / CAPACITY).toFixed(1)}% of capacity (target: below 50%).`,
    );
  }
  const body = `${table}

The server has ${HANDLERS} handlers of ${SERVICE_MS} ms each (${NOMINAL} calls/s on paper, ${CAPACITY.toFixed(0)} measured
with every handler kept busy: the capacity the loads and percentages refer to) and a FIFO
queue of ${QUEUE} behind them (refused at once with RESOURCE_EXHAUSTED when full); it serves a
queued call even after its caller gave up. The client issues calls open-loop at the given
multiple of the capacity through \`grpcInterceptor(policy({ deadline: ${DEADLINE_MS}, retry: false, ... }))\`, a
new channel per run; each run warms up ${WARMUP_MS / 1_000} s and counts the calls issued in the next ${MEASURE_MS / 1_000} s.
Goodput counts successes that reached the caller within the deadline (later ones: "late successes").
The unloaded row (a quarter of the capacity, no limit) gives the unloaded p99, ${unloaded.p99.toFixed(1)} ms.
\`adaptiveLimit('aimd')\` gets \`timeoutMs: ${2 * SERVICE_MS}\`: it reads no latency below it.

${verdicts.map((v) => `- ${v}`).join('\n')}`;

  writeSection('limits', 'Admission under overload: goodput, p99 and in-flight calls on loopback gRPC', body);
}

if (process.argv[2] === 'server') {
  serve();
} else {
  await main();
}
