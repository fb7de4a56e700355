// HTTP adapter overhead: requests per second on loopback with `undici.request`, through a
// plain Agent, through an interceptor that passes the handler it gets on unchanged,
// through the breakwater interceptor (success path, default policy), and through undici's
// own retry interceptor, at 1 and 64 requests in flight.
//
// The server runs in a child process (this file, started with the argument `server`) so
// that the client process measures the client's cost only. Every variant uses its own
// Agent with the same settings, against the same server, measured in rounds whose order
// rotates (see lib/throughput.mjs).
import { createServer } from 'node:http';
import { Agent, interceptors, request } from 'undici';
import { forkServer, loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';
import {
  compareCpu,
  compareThroughput,
  cpuTable,
  methodText,
  pairedRatio,
  throughputTable,
} from './lib/throughput.mjs';

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
  // An interceptor that passes on the handler it gets. compose() hands it a WrapHandler
  // (both handler APIs) around the caller's legacy handler, and the Agent, finding the new
  // API on it, wraps that in an UnwrapHandler: every response's headers are parsed into an
  // object and turned back into raw buffers, as under undici's own interceptors. The
  // breakwater interceptor avoids that round trip by speaking the legacy API on both sides.
  const passThrough = new Agent(agentOptions).compose(
    (dispatch) => (opts, handler) => dispatch(opts, handler),
  );
  const withBreakwater = new Agent(agentOptions).compose(httpInterceptor(policy()));
  const withUndiciRetry = new Agent(agentOptions).compose(interceptors.retry());

  const op = (dispatcher) => async () => {
    const { statusCode, body } = await request(url, { dispatcher });
    await body.text();
    if (statusCode !== 200) throw new Error(`status ${statusCode}`);
  };
  const variants = [
    { name: 'plain Agent', op: op(plain) },
    { name: 'pass-through interceptor', op: op(passThrough) },
    { name: 'breakwater interceptor', op: op(withBreakwater) },
    { name: 'undici interceptors.retry', op: op(withUndiciRetry) },
  ];

  const quick = process.env.BENCH_QUICK === '1';
  const rows = await compareThroughput(variants);

  // Client CPU per request: less sensitive than throughput to a busy neighbour on a
  // shared machine (it still moves with cache and frequency effects).
  const cpu = await compareCpu(variants, {
    concurrency: 64,
    operations: quick ? 5_000 : 20_000,
    rounds: quick ? 3 : 7,
  });

  await Promise.all([plain.close(), passThrough.close(), withBreakwater.close(), withUndiciRetry.close()]);
  child.disconnect();

  const ratio = 100 * pairedRatio(rows, 'breakwater interceptor', 'plain Agent', 64);
  const passRatio = 100 * pairedRatio(rows, 'pass-through interceptor', 'plain Agent', 64);
  writeSection(
    'http',
    'HTTP adapter: undici.request on loopback',
    `${throughputTable(rows, 'plain Agent')}

Each row: \`undici.request\` of a 11-byte JSON body from a \`node:http\` server in a separate
process, keep-alive, body read in full. "breakwater interceptor" is
\`new Agent().compose(httpInterceptor(policy()))\` (default policy: 3 attempts, retry
budget, no breaker); "pass-through interceptor" does nothing but pass on the handler it
gets (\`(dispatch) => (opts, handler) => dispatch(opts, handler)\`): undici 7 then
converts every response from its core's legacy handler API to the new one and back
(\`UnwrapHandler\`, \`WrapHandler\`, headers included), as it does under its own
interceptors, whose handlers speak the new API; the breakwater interceptor avoids that by
speaking the legacy API on both sides; "undici interceptors.retry" is undici's own retry
interceptor with its defaults. ${methodText('plain Agent')} Target: breakwater keeps at least 95% of the plain Agent's throughput at 64 in flight; this run:
${ratio.toFixed(1)}% (the pass-through interceptor: ${passRatio.toFixed(1)}%).

Client CPU time per request at 64 in flight (user + system, median of interleaved rounds;
less sensitive to a busy machine than the throughput above):

${cpuTable(cpu, 'client CPU µs/request')}`,
  );
}
