// What each adapter itself costs per call, with the network taken out: every transport's
// bottom layer is replaced by an in-process fake that answers on the next turn of the
// event loop (setImmediate, as a socket's data would arrive, so process.nextTick work
// runs between answers as it does for real), so
// the client library, the adapter and the harness are all that run. The transport
// benchmarks (grpc, http, nats) measure the same calls over loopback, where the network,
// the kernel and the server cost the client far more, and where a shared 2-core machine
// moves throughput by more than an adapter costs; this section isolates the adapter.
//
// - gRPC: a proto-loader client whose channel (`channelOverride`, a grpc-js client option)
//   makes calls that answer with headers, the response message and an OK status.
// - HTTP: an undici `Dispatcher` that answers 200 with an 11-byte JSON body through either
//   handler API; `undici.request` and `body.text()` run as over a socket.
// - NATS: a JetStream client whose `publish` resolves with an ack.
//
// Measured: CPU time (user + system) of this process per operation with 64 in flight,
// median of interleaved rounds whose variant order rotates; and bytes allocated per
// operation (V8's sampling heap profiler), which does not move with the machine's load.
import {
  credentials,
  InterceptingCall,
  loadPackageDefinition,
  Metadata,
  status as Status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Dispatcher, interceptors, request } from 'undici';
import { loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';
import { allocationTable, compareAllocation, compareCpu, cpuTable } from './lib/throughput.mjs';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = quick ? 3 : 15;
const OPERATIONS = quick ? 5_000 : 20_000;
const CONCURRENCY = 64;

const { policy, circuitBreaker } = await loadBreakwater();
const { grpcInterceptor } = await loadBreakwater('grpc');
const { httpInterceptor } = await loadBreakwater('http');
const { jetStreamPublisher } = await loadBreakwater('nats');

/** A policy with everything on the success path: retry, budget, breaker, deadline, attempt timeout. */
const fullPolicy = () =>
  policy({
    deadline: 10_000,
    attemptTimeout: 5_000,
    retry: { maxAttempts: 3 },
    circuitBreaker: circuitBreaker(),
  });

// gRPC ------------------------------------------------------------------------------------
const PROTO = new URL('../test/fixtures/grpc/orders.proto', import.meta.url).pathname;
const { OrderService } = loadPackageDefinition(loadSync(PROTO)).orders.v1;
const reply = OrderService.service.GetOrder.responseSerialize({ id: 'o-42', item: 'book', quantity: 1 });

/** A call that answers as a server would, once the request is half-closed. */
class FakeGrpcCall {
  #listener;
  start(_metadata, listener) {
    this.#listener = listener;
  }
  sendMessageWithContext(context) {
    context.callback?.();
  }
  halfClose() {
    const listener = this.#listener;
    setImmediate(() => {
      listener.onReceiveMetadata(new Metadata());
      listener.onReceiveMessage(reply);
      listener.onReceiveStatus({ code: Status.OK, details: 'OK', metadata: new Metadata() });
    });
  }
  startRead() {}
  cancelWithStatus() {}
  getPeer() {
    return 'in-process';
  }
  setCredentials() {}
  getCallNumber() {
    return 0;
  }
  getAuthContext() {
    return null;
  }
}
const fakeChannel = {
  createCall: () => new FakeGrpcCall(),
  getTarget: () => 'in-process',
  getConnectivityState: () => 2,
  watchConnectivityState() {},
  getChannelzRef() {},
  close() {},
};
const grpcClient = (interceptorList) =>
  new OrderService('in-process', credentials.createInsecure(), {
    channelOverride: fakeChannel,
    interceptors: interceptorList,
  });
const getOrder = (client, withDeadline = false) => {
  const request = { id: 'o-42' };
  return () =>
    new Promise((resolve, reject) => {
      const done = (error, value) => (error ? reject(error) : resolve(value));
      if (withDeadline) client.GetOrder(request, { deadline: Date.now() + 10_000 }, done);
      else client.GetOrder(request, done);
    });
};
const grpcVariants = [
  { name: 'raw client', op: getOrder(grpcClient([])) },
  {
    name: 'pass-through interceptor',
    op: getOrder(grpcClient([(options, nextCall) => new InterceptingCall(nextCall(options))])),
  },
  { name: 'breakwater, policy()', op: getOrder(grpcClient([grpcInterceptor(policy())])) },
  { name: 'breakwater, full policy', op: getOrder(grpcClient([grpcInterceptor(fullPolicy())])) },
  // The full policy gives every call a deadline, and grpc-js times a call with one itself.
  { name: 'raw client, 10 s deadline', op: getOrder(grpcClient([]), true) },
];

// HTTP ------------------------------------------------------------------------------------
const body = Buffer.from('{"ok":true}');
const rawHeaders = [
  Buffer.from('content-type'),
  Buffer.from('application/json'),
  Buffer.from('content-length'),
  Buffer.from('11'),
];
const headerObject = { 'content-type': 'application/json', 'content-length': '11' };

/** A dispatcher that answers every request with 200 and `body`, in either handler API. */
class FakeDispatcher extends Dispatcher {
  dispatch(_options, handler) {
    setImmediate(() => {
      if (typeof handler.onHeaders === 'function') {
        handler.onConnect(() => {});
        handler.onHeaders(200, rawHeaders, () => {}, 'OK');
        handler.onData(body);
        handler.onComplete([]);
        return;
      }
      const controller = {
        aborted: false,
        paused: false,
        reason: null,
        abort() {},
        pause() {},
        resume() {},
      };
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, headerObject, 'OK');
      handler.onResponseData?.(controller, body);
      handler.onResponseEnd?.(controller, {});
    });
    return true;
  }
  close() {
    return Promise.resolve();
  }
  destroy() {
    return Promise.resolve();
  }
}
const url = 'http://127.0.0.1:8080/orders/42';
const httpGet = (dispatcher) => async () => {
  const { statusCode, body: responseBody } = await request(url, { dispatcher });
  await responseBody.text();
  if (statusCode !== 200) throw new Error(`status ${statusCode}`);
};
const httpVariants = [
  { name: 'plain dispatcher', op: httpGet(new FakeDispatcher()) },
  {
    name: 'pass-through interceptor',
    op: httpGet(new FakeDispatcher().compose((dispatch) => (options, handler) => dispatch(options, handler))),
  },
  { name: 'breakwater, policy()', op: httpGet(new FakeDispatcher().compose(httpInterceptor(policy()))) },
  {
    name: 'breakwater, full policy',
    op: httpGet(new FakeDispatcher().compose(httpInterceptor(fullPolicy()))),
  },
  { name: 'undici interceptors.retry', op: httpGet(new FakeDispatcher().compose(interceptors.retry())) },
];

// NATS ------------------------------------------------------------------------------------
let seq = 0;
const fakeJs = {
  publish: () =>
    new Promise((resolve) => {
      setImmediate(() => resolve({ stream: 'ORDERS', seq: ++seq, duplicate: false }));
    }),
  getOptions: () => ({ timeout: 5_000 }),
  jetstreamManager: async () => ({
    streams: {
      find: async () => 'ORDERS',
      info: async () => ({ config: { name: 'ORDERS', duplicate_window: 120_000_000_000 } }),
    },
  }),
};
const payload = new TextEncoder().encode('{"id":"o-42","item":"book","quantity":1}');
let msgIds = 0;
const publisher = jetStreamPublisher(fakeJs, policy(), { stream: 'ORDERS' });
await publisher.publish('orders.created', payload); // learns the stream's duplicate window
const natsVariants = [
  { name: 'raw js.publish', op: () => fakeJs.publish('orders.created', payload) },
  {
    name: 'raw js.publish + msgID',
    op: () => fakeJs.publish('orders.created', payload, { msgID: `m-${++msgIds}` }),
  },
  { name: 'breakwater, policy()', op: () => publisher.publish('orders.created', payload) },
];

// Measurement -----------------------------------------------------------------------------
async function compare(title, variants) {
  const options = { concurrency: CONCURRENCY, operations: OPERATIONS };
  await compareCpu(variants, { ...options, rounds: 1 }); // warm up, and check it works
  const rows = await compareCpu(variants, { ...options, rounds: ROUNDS });
  console.log(`${title}: ${rows.map((r) => `${r.name} ${r.us.toFixed(2)} µs`).join(', ')}`);
  return cpuTable(rows, `${title}: CPU µs per call`, 2);
}

/** Allocation, measured after every CPU table: the heap profiler slows what runs after it. */
async function allocation(title, variants) {
  const bytes = await compareAllocation(variants, { concurrency: CONCURRENCY, operations: OPERATIONS });
  console.log(`${title}: ${bytes.map((r) => `${r.name} ${Math.round(r.bytes)} B`).join(', ')}`);
  return allocationTable(bytes, `${title}: bytes allocated per call`);
}

const grpcTable = await compare('gRPC unary call', grpcVariants);
const httpTable = await compare('HTTP GET, undici.request', httpVariants);
const natsTable = await compare('JetStream publish', natsVariants);
const grpcBytes = await allocation('gRPC unary call', grpcVariants);
const httpBytes = await allocation('HTTP GET, undici.request', httpVariants);
const natsBytes = await allocation('JetStream publish', natsVariants);

writeSection(
  'overhead',
  'Adapter overhead with the network taken out',
  `${grpcTable}

${grpcBytes}

${httpTable}

${httpBytes}

${natsTable}

${natsBytes}

Each transport's bottom layer is an in-process fake that answers on the next turn of the
event loop (\`setImmediate\`, as data from a socket would arrive): a grpc-js
channel (\`channelOverride\`) whose calls return headers, the response and OK; an undici
\`Dispatcher\` that answers 200 with an 11-byte JSON body; a JetStream client whose
\`publish\` resolves with an ack. The client library above it runs as it does over a socket,
so the rows differ only by the interceptor or publisher. "full policy" is deadline 10 s,
attempt timeout 5 s, 3 attempts with a retry budget, and a circuit breaker. CPU time of the
process per call, 64 calls in flight, median of ${ROUNDS} interleaved rounds of
${OPERATIONS.toLocaleString('en-US')} calls. Bytes allocated per call: V8's sampling heap profiler (a sample per 256
bytes on average, collected objects included) over ${OPERATIONS.toLocaleString('en-US')} calls after as many unmeasured ones;
samples make it an estimate (repeated runs of the same code differ by up to 3%), but it does not move with the machine's load as CPU time does. The transport sections above measure the same calls
over loopback, where each one costs the client far more (see their CPU tables).`,
);
