/**
 * Child process of hygiene.test.ts: gRPC calls through the interceptor ending every way
 * (success, retried success, exhausted retries, attempt timeout, deadline, cancelled in
 * flight, cancelled during a 30 s backoff, cancelled in a bulkhead queue, open breaker,
 * full bulkhead, streams), under policies whose timers run for up to a minute. Then it
 * closes its client and server and prints what still holds the event loop. It must exit
 * by itself: a timer or listener left behind by a call would hold it.
 */
import { status } from '@grpc/grpc-js';
import { grpcInterceptor } from '../../../src/grpc/index.js';
import { backoff, bulkhead, circuitBreaker, policy } from '../../../src/index.js';
import { clientOptions, GET_ORDER, getOrder, makeClient, startServer, WATCH_ORDER } from './harness.js';

const ROUNDS = 5;
const server = await startServer();
const long = { deadline: 60_000, attemptTimeout: 30_000 };
const retrying = policy({ ...long, retry: { maxAttempts: 3, backoff: backoff.constant(5), budget: false } });
const slowBackoff = policy({
  ...long,
  retry: { maxAttempts: 3, backoff: backoff.constant(30_000), budget: false },
});
const shortDeadline = policy({ deadline: 150, retry: false });
const shortAttempt = policy({
  deadline: 60_000,
  attemptTimeout: 100,
  retry: { maxAttempts: 2, backoff: backoff.constant(5) },
});
const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
const guarded = policy({ ...long, retry: false, circuitBreaker: breaker });
const narrow = policy({ ...long, bulkhead: bulkhead({ maxConcurrent: 1, maxQueue: 1 }) });
const fail = { kind: 'fail', code: status.UNAVAILABLE } as const;

const client = (p: ReturnType<typeof policy>) =>
  makeClient('proto-loader', server.address, clientOptions([grpcInterceptor(p)]));
const clients = {
  retrying: client(retrying),
  slowBackoff: client(slowBackoff),
  shortDeadline: client(shortDeadline),
  shortAttempt: client(shortAttempt),
  guarded: client(guarded),
  narrow: client(narrow),
};
const outcomes: Record<string, number> = {};
const count = async (p: Promise<{ error?: { code: number } | undefined }>) => {
  const { error } = await p;
  const name = error === undefined ? 'OK' : (status[error.code] ?? String(error.code));
  outcomes[name] = (outcomes[name] ?? 0) + 1;
};
const waitCalls = (n: number) => server.waitForCalls(GET_ORDER, n);

for (let round = 0; round < ROUNDS; round++) {
  // Success, retried success, exhausted retries.
  await count(getOrder(clients.retrying).outcome);
  server.script(GET_ORDER, fail);
  await count(getOrder(clients.retrying).outcome);
  server.script(GET_ORDER, fail, fail, fail);
  await count(getOrder(clients.retrying).outcome);
  // Deadline and attempt timeouts.
  server.script(GET_ORDER, { kind: 'hang' });
  await count(getOrder(clients.shortDeadline).outcome);
  server.script(GET_ORDER, { kind: 'hang' }, { kind: 'hang' });
  await count(getOrder(clients.shortAttempt).outcome);
  // Cancelled in flight, and during a 30 s backoff.
  server.script(GET_ORDER, { kind: 'hang' });
  let seen = server.seen(GET_ORDER).length;
  const inFlight = getOrder(clients.retrying);
  await waitCalls(seen + 1);
  inFlight.cancel();
  await count(inFlight.outcome);
  server.script(GET_ORDER, fail);
  seen = server.seen(GET_ORDER).length;
  const waiting = getOrder(clients.slowBackoff);
  await waitCalls(seen + 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  waiting.cancel();
  await count(waiting.outcome);
  // A bulkhead queue, and a full bulkhead.
  server.script(GET_ORDER, { kind: 'hang' });
  seen = server.seen(GET_ORDER).length;
  const holder = getOrder(clients.narrow);
  await waitCalls(seen + 1);
  const queued = getOrder(clients.narrow);
  await count(getOrder(clients.narrow).outcome);
  queued.cancel();
  await count(queued.outcome);
  holder.cancel();
  await count(holder.outcome);
  // A server stream.
  await new Promise<void>((resolve) => {
    const stream = clients.retrying.watchOrder({ id: 's' });
    stream.on('data', () => {});
    stream.on('end', resolve);
    stream.on('error', resolve);
  });
  server.seen(WATCH_ORDER);
}
// An open breaker (opened once, then rejecting).
server.script(GET_ORDER, fail);
await count(getOrder(clients.guarded).outcome);
await count(getOrder(clients.guarded).outcome);

for (const c of Object.values(clients)) c.close();
server.kill();
const settledAt = Date.now();
setImmediate(() => {
  console.log(JSON.stringify({ settledAt, outcomes, resources: process.getActiveResourcesInfo() }));
});
