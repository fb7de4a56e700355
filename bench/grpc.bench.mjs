// gRPC adapter overhead: unary calls per second on loopback through a grpc-js client,
// raw, with the breakwater interceptor and a default policy (success path), and with
// grpc-js's own retries configured by a service config, at 1 and 64 calls in flight.
//
// The server runs in a child process (this file, started with the argument `server`) so
// that the client process measures the client's cost only. Every variant has a channel
// (and an HTTP/2 connection) of its own, with the same options except the one under test,
// against the same server, measured in rounds whose order rotates (see lib/throughput.mjs).
import {
  credentials,
  InterceptingCall,
  loadPackageDefinition,
  Server,
  ServerCredentials,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
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

const PROTO = new URL('../test/fixtures/grpc/orders.proto', import.meta.url).pathname;
const { OrderService } = loadPackageDefinition(loadSync(PROTO)).orders.v1;

if (process.argv[2] === 'server') {
  const server = new Server();
  server.addService(OrderService.service, {
    GetOrder(call, callback) {
      callback(null, { id: call.request.id, item: 'book', quantity: 1 });
    },
  });
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    process.send?.({ port });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const { policy } = await loadBreakwater();
  const { grpcInterceptor } = await loadBreakwater('grpc');

  const { child, port } = await forkServer(import.meta.url);
  const address = `127.0.0.1:${port}`;

  // A channel of its own per variant: grpc-js otherwise shares one connection between
  // channels with the same options.
  const base = { 'grpc.use_local_subchannel_pool': 1 };
  const serviceConfig = {
    methodConfig: [
      {
        name: [{ service: 'orders.v1.OrderService' }],
        retryPolicy: {
          maxAttempts: 3,
          initialBackoff: '0.1s',
          maxBackoff: '10s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
    retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
  };
  const raw = new OrderService(address, credentials.createInsecure(), base);
  const intercepted = new OrderService(address, credentials.createInsecure(), {
    ...base,
    interceptors: [grpcInterceptor(policy())],
  });
  // What any interceptor costs in grpc-js: one that passes everything through untouched.
  const passThrough = new OrderService(address, credentials.createInsecure(), {
    ...base,
    interceptors: [(options, nextCall) => new InterceptingCall(nextCall(options))],
  });
  const native = new OrderService(address, credentials.createInsecure(), {
    ...base,
    'grpc.service_config': JSON.stringify(serviceConfig),
  });
  const clients = [raw, passThrough, intercepted, native];
  await Promise.all(
    clients.map(
      (c) =>
        new Promise((resolve, reject) =>
          c.waitForReady(Date.now() + 5_000, (e) => (e ? reject(e) : resolve())),
        ),
    ),
  );

  const request = { id: 'o-42' };
  const op = (client) => () =>
    new Promise((resolve, reject) => {
      client.GetOrder(request, (error, value) => (error ? reject(error) : resolve(value)));
    });
  const variants = [
    { name: 'raw client', op: op(raw) },
    { name: 'pass-through interceptor', op: op(passThrough) },
    { name: 'breakwater interceptor', op: op(intercepted) },
    { name: 'grpc-js service-config retries', op: op(native) },
  ];

  const quick = process.env.BENCH_QUICK === '1';
  const rows = await compareThroughput(variants);
  // Client CPU per call: wall-clock throughput on a shared machine moves with the
  // neighbours; CPU time spent in this process per call moves less. Measured in
  // interleaved rounds too, median reported.
  const cpuRounds = quick ? 3 : 7;
  const cpuCalls = quick ? 2_000 : 5_000;
  const cpu = await compareCpu(variants, { concurrency: 64, operations: cpuCalls, rounds: cpuRounds });
  for (const c of clients) c.close();
  child.disconnect();

  const ratio = 100 * pairedRatio(rows, 'breakwater interceptor', 'raw client', 64);
  const passRatio = 100 * pairedRatio(rows, 'pass-through interceptor', 'raw client', 64);
  writeSection(
    'grpc',
    'gRPC adapter: unary calls per second on loopback',
    `${throughputTable(rows, 'raw client')}

${cpuTable(cpu, 'client CPU per call (µs, 64 in flight)')}

Each variant is a proto-loader \`OrderService\` client with its own channel and HTTP/2
connection to one grpc-js server in a child process; \`GetOrder\` answers at once. The
interceptor runs \`policy()\` (defaults: 3 attempts, a retry budget, no deadline); the
service config has a \`retryPolicy\` (3 attempts, UNAVAILABLE) and \`retryThrottling\`. The
"pass-through interceptor" does nothing (\`new InterceptingCall(nextCall(options))\`): what
grpc-js's interceptor machinery costs any interceptor.
${methodText('raw client')} Target: the interceptor keeps at least 95% of the raw client's throughput at 64 in flight; this run:
${ratio.toFixed(1)}% (the pass-through interceptor: ${passRatio.toFixed(1)}%). The CPU table counts user + system time of the client
process per call, median of ${cpuRounds} interleaved rounds of ${cpuCalls.toLocaleString('en-US')} calls.`,
  );
}
