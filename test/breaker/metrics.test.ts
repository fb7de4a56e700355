/** breaker.metrics() and keyed.metrics(key): the counts the rules see, readable at any time. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { keyedCircuitBreaker } from '../../src/breaker/keyed.js';
import { call, calls, StepClock } from './helpers.js';

describe('breaker.metrics()', () => {
  it('a new breaker: closed, an empty count window, rates 0 (not NaN)', () => {
    expect(circuitBreaker().metrics()).toEqual({
      state: 'closed',
      window: 'count',
      calls: 0,
      failures: 0,
      slowCalls: 0,
      failureRate: 0,
      slowCallRate: 0,
      minimumCalls: 20,
      consecutiveFailures: 0,
      retryAfterMs: 0,
      halfOpen: undefined,
      reopenCount: 0,
    });
  });

  it('counts calls, failures and slow calls in the window, with their rates', () => {
    const b = circuitBreaker({
      window: { type: 'count', size: 10 },
      minimumCalls: 10,
      slowCall: { durationMs: 100, rateThreshold: 0.9 },
    });
    call(b, 'success');
    call(b, 'failure');
    call(b, 'slow');
    call(b, 'failure');
    expect(b.metrics()).toMatchObject({
      state: 'closed',
      calls: 4,
      failures: 2,
      slowCalls: 1,
      failureRate: 0.5,
      slowCallRate: 0.25,
      minimumCalls: 10,
      consecutiveFailures: 1,
    });
    // The count window slides: the oldest calls leave it.
    calls(b, 10, 'success');
    expect(b.metrics()).toMatchObject({ calls: 10, failures: 0, slowCalls: 0, failureRate: 0 });
  });

  it('a time window drops the buckets that left it before reporting', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ window: { type: 'time', durationMs: 1_000, buckets: 10 }, clock });
    calls(b, 3, 'failure');
    expect(b.metrics()).toMatchObject({ window: 'time', calls: 3, failures: 3, failureRate: 1 });
    clock.advance(1_000);
    expect(b.metrics()).toMatchObject({ calls: 0, failures: 0, failureRate: 0 });
  });

  it('open: the wait until a probe; half-open: probes in flight and successes; isolated: Infinity', () => {
    const clock = new StepClock();
    const b = circuitBreaker({
      consecutiveFailures: 2,
      openDuration: 1_000,
      halfOpen: { maxProbes: 2, successThreshold: 2 },
      clock,
    });
    calls(b, 2, 'failure');
    clock.advance(400);
    expect(b.metrics()).toMatchObject({
      state: 'open',
      window: 'none',
      retryAfterMs: 600,
      halfOpen: undefined,
    });
    clock.advance(600);
    const probe = b.acquire();
    call(b, 'success');
    expect(b.metrics()).toMatchObject({
      state: 'half-open',
      retryAfterMs: 0,
      halfOpen: { inFlight: 1, successes: 1 },
      reopenCount: 0,
    });
    b.record(probe, new Error('x'), true, 1);
    expect(b.metrics()).toMatchObject({ state: 'open', reopenCount: 1, retryAfterMs: 1_000 });
    b.isolate();
    expect(b.metrics()).toMatchObject({ state: 'isolated', retryAfterMs: Number.POSITIVE_INFINITY });
  });

  it('reading it lets an open breaker whose time is up turn half-open, as reading state does', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 10, clock });
    const changes: string[] = [];
    b.onStateChange((c) => changes.push(`${c.from}->${c.to}`));
    call(b, 'failure');
    clock.advance(10);
    expect(b.metrics().state).toBe('half-open');
    expect(changes).toEqual(['closed->open', 'open->half-open']);
  });
});

describe('keyed.metrics(key)', () => {
  it("one key's counts, undefined for an untracked key, and reading creates nothing", () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 2, minimumCalls: 20 });
    call(keyed.get('a'), 'failure');
    call(keyed.get('b'), 'success');
    expect(keyed.metrics('a')).toMatchObject({
      state: 'closed',
      consecutiveFailures: 1,
      failures: 1,
      calls: 1,
    });
    expect(keyed.metrics('b')).toMatchObject({ consecutiveFailures: 0, failures: 0, calls: 1 });
    expect(keyed.metrics('c')).toBeUndefined();
    expect(keyed.size).toBe(2);
  });
});

describe("a policy's breaker, read through the policy", () => {
  it('narrows on `keyed`, so policy.circuitBreaker.metrics() type-checks for a plain breaker', async () => {
    const { policy } = await import('../../src/index.js');
    const plain = policy({ retry: false, circuitBreaker: circuitBreaker({ consecutiveFailures: 1 }) });
    await plain
      .execute(() => {
        throw new Error('down');
      })
      .catch(() => undefined);
    const breaker = plain.circuitBreaker;
    if (breaker === undefined || breaker.keyed) throw new Error('expected a plain breaker');
    expectTypeOf(breaker.metrics).toBeFunction();
    expect(breaker.metrics().state).toBe('open');

    const perHost = policy({ retry: false, circuitBreaker: keyedCircuitBreaker() });
    await perHost.execute(() => 1, { key: 'a' });
    const keyed = perHost.circuitBreaker;
    if (keyed === undefined || !keyed.keyed) throw new Error('expected a keyed breaker');
    expect(keyed.metrics('a')).toMatchObject({ state: 'closed', calls: 1 });
    expect(circuitBreaker().keyed).toBe(false);
  });
});
