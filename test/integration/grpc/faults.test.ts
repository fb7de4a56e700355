/**
 * Faults injected by a real server: pushback, slow answers, deadlines, a server killed
 * in the middle of a call and brought back on the same port.
 */
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grpcInterceptor, retryOnCodes } from '../../../src/grpc/index.js';
import { backoff, isBreakwaterError, type PolicyOptions, policy } from '../../../src/index.js';
import type { OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
import { CrashServer } from './crash-server.js';
import { clientOptions, GET_ORDER, getOrder, makeClient, OrdersServer, startServer } from './harness.js';

/** Timers may fire a little early or late against Date.now() on a loaded machine. */
const TIMER_SLACK = 25;

function causeOf(error: unknown): unknown {
  return (error as { cause?: unknown } | undefined)?.cause;
}

describe('faults from a real server', () => {
  let server: OrdersServer;
  const clients: OrderServiceClient[] = [];
  const client = (options: PolicyOptions, target = server) => {
    const c = makeClient('proto-loader', target.address, clientOptions([grpcInterceptor(policy(options))]));
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

  describe('pushback (grpc-retry-pushback-ms)', () => {
    const tiny = backoff.exponential({ initialDelay: 1, maxDelay: 60_000, jitter: 'none' });

    it('waits as long as the server asks instead of the computed backoff', async () => {
      server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE, pushback: '300' });
      const { error } = await getOrder(client({ retry: { maxAttempts: 3, backoff: tiny } })).outcome;
      expect(error).toBeUndefined();
      const [first, second] = server.seen(GET_ORDER);
      expect(second).toBeDefined();
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(300 - TIMER_SLACK);
    });

    it('caps a huge pushback at the backoff’s maxDelay', async () => {
      server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE, pushback: '99999999999999999999' });
      const capped = backoff.exponential({ initialDelay: 1, maxDelay: 150, jitter: 'none' });
      const { error } = await getOrder(client({ retry: { maxAttempts: 3, backoff: capped } })).outcome;
      expect(error).toBeUndefined();
      const [first, second] = server.seen(GET_ORDER);
      const gap = (second?.at ?? 0) - (first?.at ?? 0);
      expect(gap).toBeGreaterThanOrEqual(150 - TIMER_SLACK);
      // Far below the ~3 000 years asked for: the cap applied.
      expect(gap).toBeLessThan(10_000);
    });

    it.each([
      ['a negative value', '-1'],
      ['garbage', 'soon'],
      ['a fraction', '1.5'],
      ['an empty value', ''],
    ])('does not retry when the pushback is %s', async (_label, pushback) => {
      server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE, pushback, details: 'go away' });
      const { error } = await getOrder(client({ retry: { maxAttempts: 5, backoff: tiny } })).outcome;
      expect(error?.code).toBe(status.UNAVAILABLE);
      expect(error?.details).toBe('go away');
      expect(error?.metadata.get('grpc-retry-pushback-ms')).toEqual([pushback]);
      expect(server.seen(GET_ORDER)).toHaveLength(1);
    });

    it('retries RESOURCE_EXHAUSTED only when the server sends a pushback delay', async () => {
      server.script(
        GET_ORDER,
        { kind: 'fail', code: status.RESOURCE_EXHAUSTED, pushback: '20' },
        { kind: 'fail', code: status.RESOURCE_EXHAUSTED },
      );
      const { error } = await getOrder(client({ retry: { maxAttempts: 5, backoff: tiny } })).outcome;
      expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(server.seen(GET_ORDER)).toHaveLength(2);
    });

    it('stops when the pushback would end past the deadline, with the server’s status', async () => {
      server.script(GET_ORDER, {
        kind: 'fail',
        code: status.UNAVAILABLE,
        pushback: '60000',
        details: 'later',
      });
      // If the pushback were waited for, this test would time out.
      const { error } = await getOrder(client({ deadline: 1_000, retry: { maxAttempts: 3, backoff: tiny } }))
        .outcome;
      expect(error?.code).toBe(status.UNAVAILABLE);
      expect(error?.details).toBe('later');
      expect(server.seen(GET_ORDER)).toHaveLength(1);
    });
  });

  describe('slow answers and deadlines', () => {
    it('cancels an attempt slower than attemptTimeout and retries it', async () => {
      server.script(GET_ORDER, { kind: 'hang' });
      const c = client({
        deadline: 10_000,
        attemptTimeout: 200,
        retry: { maxAttempts: 3, backoff: backoff.constant(1) },
      });
      const { value, error } = await getOrder(c).outcome;
      expect(error).toBeUndefined();
      expect(value?.quantity).toBe(2);
      const [first, second] = server.seen(GET_ORDER);
      await first?.cancelled; // the timed-out attempt was cancelled, not left running
      // Each attempt's call carried its own deadline (the attempt timeout), not the operation's.
      expect((first?.deadline ?? 0) - (first?.at ?? 0)).toBeLessThanOrEqual(200);
      expect(second?.header('grpc-previous-rpc-attempts')).toBe('1');
    });

    it('reports DEADLINE_EXCEEDED with the AttemptTimeoutError as cause when every attempt is too slow', async () => {
      server.script(GET_ORDER, { kind: 'hang' }, { kind: 'hang' });
      const c = client({ attemptTimeout: 100, retry: { maxAttempts: 2, backoff: backoff.constant(1) } });
      const { error } = await getOrder(c).outcome;
      expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
      const cause = causeOf(error);
      expect(isBreakwaterError(cause) && cause.code).toBe('BREAKWATER_ATTEMPT_TIMEOUT');
      const seen = server.seen(GET_ORDER);
      expect(seen).toHaveLength(2);
      await Promise.all(seen.map((s) => s.cancelled));
    });

    it('ends the operation at the policy’s deadline with DEADLINE_EXCEEDED and the DeadlineExceededError as cause', async () => {
      server.script(GET_ORDER, { kind: 'hang' });
      const c = client({ deadline: 300, retry: { maxAttempts: 3, backoff: backoff.constant(1) } });
      const { error, ms } = await getOrder(c).outcome;
      expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
      const cause = causeOf(error);
      expect(isBreakwaterError(cause) && cause.code).toBe('BREAKWATER_DEADLINE_EXCEEDED');
      expect(ms).toBeGreaterThanOrEqual(300 - TIMER_SLACK);
      const [only] = server.seen(GET_ORDER);
      expect(server.seen(GET_ORDER)).toHaveLength(1);
      // The server was told the operation's budget.
      expect((only?.deadline ?? 0) - (only?.at ?? 0)).toBeLessThanOrEqual(300);
      await only?.cancelled;
    });

    it('gives the call the earlier of the caller’s deadline option and the policy’s', async () => {
      const c = client({ deadline: 60_000 });
      const sent = Date.now();
      const callerDeadline = sent + 400;
      const { error } = await getOrder(c, 'o-1', undefined, { deadline: callerDeadline }).outcome;
      expect(error).toBeUndefined();
      const [only] = server.seen(GET_ORDER);
      // The server computes the deadline on arrival from the relative grpc-timeout (whole
      // ms), so it can be later than the caller's by the time the request took to arrive.
      const transit = (only?.at ?? 0) - sent;
      expect(only?.deadline).toBeLessThanOrEqual(callerDeadline + transit + 1);
      expect(only?.deadline).toBeGreaterThan(callerDeadline - 400);
    });

    it('keeps retrying inside the caller’s deadline, and stops at it', async () => {
      server.script(GET_ORDER, { kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' });
      const c = client({ attemptTimeout: 150, retry: { maxAttempts: 10, backoff: backoff.constant(1) } });
      const { error, ms } = await getOrder(c, 'o-1', undefined, { deadline: Date.now() + 400 }).outcome;
      expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(ms).toBeGreaterThanOrEqual(400 - TIMER_SLACK);
      // 150 + 150 + the remaining 100: three attempts fit, the fourth would start past the deadline.
      expect(server.seen(GET_ORDER).length).toBeGreaterThanOrEqual(2);
      expect(server.seen(GET_ORDER).length).toBeLessThanOrEqual(3);
    });
  });

  it('survives a server process killed in the middle of a call and restarted on the same port', async () => {
    const first = await CrashServer.spawn(0, 'hang-first');
    const restarted: CrashServer[] = [];
    try {
      const c = makeClient(
        'proto-loader',
        `127.0.0.1:${first.port}`,
        clientOptions([
          grpcInterceptor(
            policy({
              deadline: 20_000,
              idempotency: true,
              retry: { maxAttempts: 100, backoff: backoff.constant(25), budget: false },
            }),
          ),
        ]),
      );
      clients.push(c);
      const call = getOrder(c, 'o-9');
      const [seenFirst] = await first.waitForCalls(1);
      await first.crash();
      const second = await CrashServer.spawn(first.port, 'ok');
      restarted.push(second);
      const { value, error } = await call.outcome;
      expect(error).toBeUndefined();
      expect(value).toMatchObject({ id: 'o-9', item: 'from-crash-server' });
      const [seenAgain] = second.calls;
      expect(seenAgain?.['idempotency-key']).toBe(seenFirst?.['idempotency-key']);
      expect(Number(seenAgain?.['grpc-previous-rpc-attempts'])).toBeGreaterThanOrEqual(1);
    } finally {
      await first.crash();
      for (const s of restarted) await s.crash();
    }
  });

  it('reports a forced shutdown mid-call as grpc-js does (CANCELLED), retried when listed in retryOnCodes', async () => {
    server.script(GET_ORDER, { kind: 'hang' }, { kind: 'hang' });
    const plain = client({ retry: { maxAttempts: 5, backoff: backoff.constant(25) } });
    const listed = client({
      retry: {
        maxAttempts: 100,
        backoff: backoff.constant(25),
        budget: false,
        retryOn: retryOnCodes(['UNAVAILABLE', 'CANCELLED']),
      },
    });
    const a = getOrder(plain, 'plain');
    const b = getOrder(listed, 'listed');
    await server.waitForCalls(GET_ORDER, 2);
    const port = server.port;
    server.kill();
    // Not retried by default: CANCELLED is not in the default classification.
    expect((await a.outcome).error?.code).toBe(status.CANCELLED);
    const revived = new OrdersServer();
    await revived.start(port);
    try {
      const { value, error } = await b.outcome;
      expect(error).toBeUndefined();
      expect(value?.id).toBe('listed');
      expect(revived.seen(GET_ORDER).map((s) => s.request)).toEqual([{ id: 'listed' }]);
    } finally {
      revived.kill();
    }
  });
});
