// HTTP adapter overhead: requests per second on loopback with `undici.request`, through a
// plain Agent, through the breakwater interceptor (success path, default policy), and
// through undici's own retry interceptor, at 1 and 64 requests in flight.
//
// The server runs in a child process (this file, started with the argument `server`) so
// that the client process measures the client's cost only. Every variant uses its own
// Agent with the same settings, against the same server, measured in interleaved rounds.
import { createServer } from 'node:http';
import { Agent, interceptors, request } from 'undici';
import { forkServer, loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';
import { compareThroughput, throughputTable } from './lib/throughput.mjs';

if (process.argv[2] === 'server') {
  const body = Buffer.from('{"ok":true}');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const { policy } = await loadBreakwater();
  const { httpInterceptor } = await loadBreakwater('http');

  const { child, port } = await forkServer(import.meta.url);
  const url = `http://127.0.0.1:${port}/orders/42`;

  const agentOptions = { keepAliveTimeout: 30_000 };
  const plain = new Agent(agentOptions);
  const withBreakwater = new Agent(agentOptions).compose(httpInterceptor(policy()));
  const withUndiciRetry = new Agent(agentOptions).compose(interceptors.retry());

  const op = (dispatcher) => async () => {
    const { statusCode, body } = await request(url, { dispatcher });
    await body.text();
    if (statusCode !== 200) throw new Error(`status ${statusCode}`);
  };
  const variants = [
    { name: 'plain Agent', op: op(plain) },
    { name: 'breakwater interceptor', op: op(withBreakwater) },
    { name: 'undici interceptors.retry', op: op(withUndiciRetry) },
  ];

  const quick = process.env.BENCH_QUICK === '1';
  const rows = await compareThroughput(variants, {
    concurrencies: [1, 64],
    rounds: quick ? 3 : 7,
    durationMs: quick ? 1_000 : 2_000,
    warmupMs: quick ? 500 : 1_500,
    log: (line) => console.log(line),
  });

  // Client CPU per request: less sensitive than throughput to a busy neighbour on a
  // shared machine (it still moves with cache and frequency effects).
  const cpu = await cpuPerRequest(variants, {
    concurrency: 64,
    requests: quick ? 5_000 : 20_000,
    rounds: quick ? 3 : 7,
  });

  await Promise.all([plain.close(), withBreakwater.close(), withUndiciRetry.close()]);
  child.disconnect();

  const ours = rows.find((r) => r.name === 'breakwater interceptor' && r.concurrency === 64);
  const base = rows.find((r) => r.name === 'plain Agent' && r.concurrency === 64);
  const ratio = ours && base ? (100 * ours.opsPerSec) / base.opsPerSec : Number.NaN;
  writeSection(
    'http',
    'HTTP adapter: undici.request on loopback',
    `${throughputTable(rows, 'plain Agent')}

Each row: \`undici.request\` of a 11-byte JSON body from a \`node:http\` server in a separate
process, keep-alive, body read in full. "breakwater interceptor" is
\`new Agent().compose(httpInterceptor(policy()))\` (default policy: 3 attempts, retry
budget, no breaker); "undici interceptors.retry" is undici's own retry interceptor with its
defaults. Medians of ${quick ? 3 : 7} interleaved rounds of ${quick ? 1 : 2} s. Target: breakwater keeps at
least 95% of the plain Agent's throughput at 64 in flight; this run: ${ratio.toFixed(1)}%.

Client CPU time per request at 64 in flight (user + system, median of interleaved rounds;
less sensitive to a busy machine than the throughput above):

${cpuTable(cpu)}`,
  );
}

/** Median client CPU time (µs) per request of each variant, over interleaved rounds. */
async function cpuPerRequest(variants, { concurrency, requests, rounds }) {
  const run = async (op) => {
    let left = requests;
    const worker = async () => {
      while (left-- > 0) await op();
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  const samples = new Map(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const before = process.cpuUsage();
      await run(variant.op);
      const used = process.cpuUsage(before);
      samples.get(variant.name).push((used.user + used.system) / requests);
    }
  }
  return variants.map((v) => {
    const sorted = samples.get(v.name).sort((a, b) => a - b);
    return { name: v.name, us: sorted[sorted.length >> 1] };
  });
}

function cpuTable(rows) {
  const base = rows[0]?.us ?? Number.NaN;
  const lines = [`| variant | client CPU µs/request | vs ${rows[0]?.name} |`, '| --- | ---: | ---: |'];
  for (const row of rows)
    lines.push(`| ${row.name} | ${row.us.toFixed(1)} | +${(row.us - base).toFixed(1)} µs |`);
  return lines.join('\n');
}
