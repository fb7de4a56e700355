/**
 * Rejections name their context: the policy, the key, the deadline, the time spent, the
 * attempts made, the bulkhead's limits. Built directly, as the engine builds them.
 */
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../src/breaker/circuit-breaker.js';
import { keyedCircuitBreaker } from '../src/breaker/keyed.js';
import { bulkhead } from '../src/bulkhead.js';
import { BulkheadRejectedError, CircuitOpenError, DeadlineExceededError } from '../src/errors.js';
import { ManualClock } from './support/clock.js';

describe('DeadlineExceededError', () => {
  const deadline = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

  it('names the policy, the deadline (ISO and ms), the time spent and the attempts', () => {
    const cause = new Error('slow');
    const error = new DeadlineExceededError(deadline, {
      cause,
      policy: 'orders',
      attempts: 3,
      elapsedMs: 2_003.4,
    });
    expect(error).toMatchObject({ deadline, policy: 'orders', attempts: 3, elapsedMs: 2_003.4, cause });
    expect(error.message).toBe(
      'Deadline exceeded for policy "orders": the deadline 2026-01-02T03:04:05.678Z ' +
        `(${deadline} ms since the epoch) passed after 2003 ms and 3 attempts; give the operation ` +
        "more time (the policy's deadline, or the caller's) or make attempts end sooner (attemptTimeout)",
    );
  });

  it('says what to do when no attempt could start (a duration passed as an absolute deadline)', () => {
    const error = new DeadlineExceededError(2_000, { policy: 'p', attempts: 0, elapsedMs: 0 });
    expect(error.message).toBe(
      'Deadline exceeded for policy "p": the deadline 1970-01-01T00:00:02.000Z (2000 ms since the ' +
        'epoch) passed after 0 ms and 0 attempts; no attempt could start. A per-call deadline is an ' +
        'absolute time in ms since the epoch: pass Date.now() + ms, or give a duration as the per-call timeout',
    );
  });

  it('one attempt is singular; the attempts alone read naturally; fields are undefined when not given', () => {
    expect(new DeadlineExceededError(deadline, { attempts: 1 }).message).toContain('passed after 1 attempt;');
    const bare = new DeadlineExceededError(deadline);
    expect([bare.policy, bare.attempts, bare.elapsedMs]).toEqual([undefined, undefined, undefined]);
    expect('cause' in bare).toBe(false);
  });

  it('a deadline that is no time prints as it is instead of throwing', () => {
    expect(new DeadlineExceededError(Number.NaN).message).toMatch(
      /^Deadline exceeded: the deadline \(NaN\) passed; /,
    );
    expect(new DeadlineExceededError(Number.POSITIVE_INFINITY).message).toContain('(Infinity)');
  });
});

describe('CircuitOpenError', () => {
  it('names the key, the policy and the wait, rounded up to whole ms', () => {
    const error = new CircuitOpenError(4_199.2, 'payments.internal:443', { policy: 'payments' });
    expect(error).toMatchObject({ retryAfterMs: 4_199.2, key: 'payments.internal:443', policy: 'payments' });
    expect(error.message).toBe(
      'Circuit breaker is open for payments.internal:443 (policy "payments"): calls are refused for ' +
        'another 4200 ms, then a probe is let through; serve a fallback meanwhile, or if the dependency ' +
        "is healthy, check the breaker's isFailure and failureRateThreshold",
    );
  });

  it('tells half-open with every probe in flight and isolated apart', () => {
    expect(new CircuitOpenError(0, 'k').message).toBe(
      'Circuit breaker is half-open for k with every probe in flight: other calls are rejected, not ' +
        'queued, until a probe settles; retry shortly or serve a fallback (halfOpen.maxProbes allows more probes)',
    );
    expect(new CircuitOpenError(Number.POSITIVE_INFINITY, undefined, { policy: 'x' }).message).toBe(
      'Circuit breaker is isolated (policy "x"): every call is refused until breaker.reset() is called',
    );
  });

  it("breaker.rejection(cause, { policy }) carries the breaker's key, wait and the policy, cheaply", () => {
    const clock = new ManualClock();
    const keyed = keyedCircuitBreaker({ clock, consecutiveFailures: 1, openDuration: 1_000 });
    const breaker = keyed.get('db');
    breaker.record(breaker.acquire(), new Error('down'), true, 0);
    clock.set(clock.now() + 250);
    expect(breaker.acquire()).toBe(-1);
    const cause = new Error('last');
    const error = breaker.rejection(cause, { policy: 'orders' });
    expect(error).toMatchObject({ key: 'db', policy: 'orders', retryAfterMs: 750, cause });
    expect(error.message).toMatch(
      /^Circuit breaker is open for db \(policy "orders"\): calls are refused for another 750 ms/,
    );
    // Built without the Error constructor: no stack captured, the message computed on read.
    expect(Object.hasOwn(error, 'message')).toBe(false);
    expect(Object.hasOwn(error, 'stack')).toBe(false);
    // The old call shape still works.
    expect(breaker.rejection(undefined).policy).toBeUndefined();
  });

  it('an isolated breaker rejects with Infinity and says how to end it', () => {
    const breaker = circuitBreaker();
    breaker.isolate();
    expect(breaker.acquire()).toBe(-1);
    expect(breaker.rejection(undefined).message).toMatch(/^Circuit breaker is isolated: /);
  });
});

describe('BulkheadRejectedError', () => {
  it('says in plain words how full the bulkhead and its queue are, and what to change', () => {
    const error = new BulkheadRejectedError(10, 0, { policy: 'loyalty' });
    expect(error).toMatchObject({ maxConcurrent: 10, maxQueue: 0, active: 10, queued: 0, policy: 'loyalty' });
    expect(error.message).toBe(
      'Bulkhead full (policy "loyalty"): 10 of 10 calls running and 0 of 0 queue places taken; raise ' +
        'maxConcurrent or maxQueue if the dependency can take more, or shed load before it reaches this bulkhead',
    );
  });

  it('bulkhead.rejection({ policy }) reports the slots and queue places taken now', () => {
    const b = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    expect([b.tryAcquire(), b.tryAcquire()]).toEqual([true, true]);
    expect(b.enqueue(() => {})).toBeTypeOf('function');
    const error = b.rejection({ policy: 'p' });
    expect(error).toMatchObject({ active: 2, queued: 1, maxConcurrent: 2, maxQueue: 1, policy: 'p' });
    expect(error.message).toMatch(
      /^Bulkhead full \(policy "p"\): 2 of 2 calls running and 1 of 1 queue place taken; /,
    );
    expect(Object.hasOwn(error, 'stack')).toBe(false);
    expect(b.rejection().policy).toBeUndefined();
  });
});
