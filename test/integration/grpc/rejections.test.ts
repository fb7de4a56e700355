/**
 * Breakwater's own rejections (open circuit, full bulkhead) as gRPC statuses, per-target
 * breaker state, and the caller's cancellation at every stage of an operation.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type GrpcInterceptorOptions,
  grpcInterceptor,
  isGrpcFailure,
  tagChannelTarget,
} from '../../../src/grpc/index.js';
import {
  type BreakwaterEvent,
  backoff,
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  isBreakwaterError,
  keyedCircuitBreaker,
  type Policy,
  policy,
} from '../../../src/index.js';
import type { Order, OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
import {
  clientOptions,
  GET_ORDER,
  getOrder,
  makeClient,
  type OrdersServer,
  type Outcome,
  startServer,
} from './harness.js';

function causeOf(error: unknown): unknown {
  return (error as { cause?: unknown } | undefined)?.cause;
}

/** Resolves with the first event of `type` a policy emits from now on. */
function nextEvent<T extends BreakwaterEvent['type']>(
  p: Policy,
  type: T,
): Promise<Extract<BreakwaterEvent, { type: T }>> {
  return new Promise((resolve) => {
    const off = p.onEvent((event) => {
      if (event.type === type) {
        off();
        resolve(event as Extract<BreakwaterEvent, { type: T }>);
      }
    });
  });
}

const failing = { kind: 'fail', code: status.UNAVAILABLE } as const;

describe('rejections and cancellation', () => {
  let server: OrdersServer;
  const clients: OrderServiceClient[] = [];
  const client = (p: Policy, options?: GrpcInterceptorOptions, target = server.address, extra = {}) => {
    const c = makeClient('generated', target, clientOptions([grpcInterceptor(p, options)], extra));
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    server.kill();
  });

  it('rejects with UNAVAILABLE and the CircuitOpenError as cause once the breaker opens', async () => {
    server.script(GET_ORDER, failing, failing, failing);
    const breaker = circuitBreaker({ consecutiveFailures: 2, openDuration: 60_000 });
    const c = client(policy({ retry: false, circuitBreaker: breaker }));
    expect((await getOrder(c).outcome).error?.code).toBe(status.UNAVAILABLE);
    expect((await getOrder(c).outcome).error?.code).toBe(status.UNAVAILABLE);
    expect(breaker.state).toBe('open');
    const { error } = await getOrder(c).outcome;
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toMatch(/^breakwater: Circuit breaker is open/);
    expect(causeOf(error)).toBeInstanceOf(CircuitOpenError);
    expect(server.seen(GET_ORDER)).toHaveLength(2);
  });

  it('keeps the breaker closed on a healthy server’s refusals with isGrpcFailure', async () => {
    const notFound = { kind: 'fail', code: status.NOT_FOUND } as const;
    server.script(GET_ORDER, notFound, notFound, notFound, failing, failing);
    const breaker = circuitBreaker({
      consecutiveFailures: 2,
      openDuration: 60_000,
      isFailure: isGrpcFailure,
    });
    const c = client(policy({ retry: false, circuitBreaker: breaker }));
    for (let i = 0; i < 3; i++) expect((await getOrder(c).outcome).error?.code).toBe(status.NOT_FOUND);
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 2; i++) expect((await getOrder(c).outcome).error?.code).toBe(status.UNAVAILABLE);
    expect(breaker.state).toBe('open');
  });

  it('rejects with RESOURCE_EXHAUSTED and the BulkheadRejectedError as cause when the bulkhead is full', async () => {
    server.script(GET_ORDER, { kind: 'hang' });
    const c = client(policy({ bulkhead: bulkhead({ maxConcurrent: 1 }) }));
    const hanging = getOrder(c, 'first');
    await server.waitForCalls(GET_ORDER, 1);
    const { error } = await getOrder(c, 'second').outcome;
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    const cause = causeOf(error);
    expect(isBreakwaterError(cause) && cause.code).toBe('BREAKWATER_BULKHEAD_FULL');
    expect(server.seen(GET_ORDER)).toHaveLength(1);
    hanging.cancel();
    expect((await hanging.outcome).error?.code).toBe(status.CANCELLED);
  });

  it('books a call before answering: a call made from the callback finds the slot free', async () => {
    const c = client(policy({ bulkhead: bulkhead({ maxConcurrent: 1 }) }));
    const second = await new Promise<Outcome<Order>>((resolve) => {
      c.getOrder({ id: 'first' }, new Metadata(), {}, (error) => {
        expect(error).toBeNull();
        // Synchronously, from the first call's callback.
        void getOrder(c, 'second').outcome.then(resolve);
      });
    });
    expect(second.error).toBeUndefined();
    expect(second.value?.id).toBe('second');
  });

  describe('a keyed breaker keeps one state per channel target', () => {
    let healthy: OrdersServer;
    beforeEach(async () => {
      healthy = await startServer();
    });
    afterEach(() => healthy.kill());

    async function expectIsolation(failingClient: OrderServiceClient, healthyClient: OrderServiceClient) {
      server.script(GET_ORDER, failing, failing, failing);
      expect((await getOrder(failingClient).outcome).error?.code).toBe(status.UNAVAILABLE);
      expect((await getOrder(failingClient).outcome).error?.code).toBe(status.UNAVAILABLE);
      const rejected = await getOrder(failingClient).outcome;
      expect(causeOf(rejected.error)).toBeInstanceOf(CircuitOpenError);
      expect((causeOf(rejected.error) as CircuitOpenError).key).toContain(String(server.port));
      const ok = await getOrder(healthyClient, 'fine').outcome;
      expect(ok.error).toBeUndefined();
      expect(ok.value?.id).toBe('fine');
      expect(server.seen(GET_ORDER)).toHaveLength(2);
    }

    it('with one interceptor shared by two clients through tagChannelTarget', async () => {
      const shared = grpcInterceptor(
        policy({
          retry: false,
          circuitBreaker: keyedCircuitBreaker({ consecutiveFailures: 2, openDuration: 60_000 }),
        }),
      );
      const options = clientOptions([shared], { callInvocationTransformer: tagChannelTarget });
      const a = makeClient('proto-loader', server.address, options);
      const b = makeClient('proto-loader', healthy.address, options);
      clients.push(a, b);
      await expectIsolation(a, b);
    });

    it('with the target option, one interceptor per client sharing the policy', async () => {
      const p = policy({
        retry: false,
        circuitBreaker: keyedCircuitBreaker({ consecutiveFailures: 2, openDuration: 60_000 }),
      });
      await expectIsolation(
        client(p, { target: server.address }),
        client(p, { target: healthy.address }, healthy.address),
      );
    });
  });

  describe('call.cancel()', () => {
    it('stops a backoff wait at once: no further attempt, the operation ends', async () => {
      server.script(GET_ORDER, failing, failing);
      const p = policy({ retry: { maxAttempts: 5, backoff: backoff.constant(60_000), budget: false } });
      const scheduled = nextEvent(p, 'retry-scheduled');
      const ended = nextEvent(p, 'operation-end');
      const call = getOrder(client(p));
      await scheduled;
      call.cancel();
      const { error } = await call.outcome;
      expect(error?.code).toBe(status.CANCELLED);
      expect(error?.details).toBe('Cancelled on client');
      // Without the cancellation this would only come after the 60 s wait (a test timeout).
      expect((await ended).outcome).toBe('failure');
      expect(server.seen(GET_ORDER)).toHaveLength(1);
    });

    it('cancels the attempt in flight, which does not count against the breaker', async () => {
      server.script(GET_ORDER, { kind: 'hang' });
      const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
      const p = policy({ circuitBreaker: breaker });
      const attemptEnd = nextEvent(p, 'attempt-end');
      const call = getOrder(client(p));
      const [seen] = await server.waitForCalls(GET_ORDER, 1);
      call.cancel();
      expect((await call.outcome).error?.code).toBe(status.CANCELLED);
      await seen?.cancelled;
      expect((await attemptEnd).outcome).toBe('aborted');
      expect(breaker.state).toBe('closed');
    });

    it('cancels a first attempt on the lean path (no listener, no timeout) the same way', async () => {
      // With no listener and no timer the first attempt runs without an operation state,
      // and nothing in the core listens to the call's signal: the cancel must reach it.
      server.script(GET_ORDER, { kind: 'hang' }, { kind: 'hang' });
      const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
      const c = client(policy({ circuitBreaker: breaker }));
      const call = getOrder(c);
      const [seen] = await server.waitForCalls(GET_ORDER, 1);
      call.cancel();
      const { error } = await call.outcome;
      expect(error?.code).toBe(status.CANCELLED);
      expect(error?.details).toBe('Cancelled on client');
      await seen?.cancelled;
      expect(breaker.state).toBe('closed');
      expect(server.seen(GET_ORDER)).toHaveLength(1);
      // The breaker lent its permit back: the next call goes through.
      const next = getOrder(c, 'next');
      await server.waitForCalls(GET_ORDER, 2);
      next.cancel();
      expect((await next.outcome).error?.code).toBe(status.CANCELLED);
    });
    it('takes a call out of the bulkhead queue; it never reaches the server', async () => {
      server.script(GET_ORDER, { kind: 'hang' });
      const c = client(policy({ bulkhead: bulkhead({ maxConcurrent: 1, maxQueue: 1 }) }));
      const first = getOrder(c, 'first');
      await server.waitForCalls(GET_ORDER, 1);
      const queued = getOrder(c, 'queued');
      queued.cancel();
      expect((await queued.outcome).error?.code).toBe(status.CANCELLED);
      first.cancel();
      expect((await first.outcome).error?.code).toBe(status.CANCELLED);
      expect(server.seen(GET_ORDER).map((s) => s.request)).toEqual([{ id: 'first' }]);
    });

    it('sends queued requests once a bulkhead slot frees up', async () => {
      server.script(GET_ORDER, { kind: 'ok', delayMs: 50 });
      const c = client(policy({ bulkhead: bulkhead({ maxConcurrent: 1, maxQueue: 1 }) }));
      const first = getOrder(c, 'first');
      const second = getOrder(c, 'second');
      const [a, b] = await Promise.all([first.outcome, second.outcome]);
      expect(a.value?.id).toBe('first');
      expect(b.value?.id).toBe('second');
      expect(server.seen(GET_ORDER).map((s) => s.request)).toEqual([{ id: 'first' }, { id: 'second' }]);
    });
  });
});
