/** Rules of the circuit breaker as the policy uses it; keyed breakers isolate keys. */
import { describe, expect, it, vi } from 'vitest';
import {
  backoff,
  CircuitOpenError,
  circuitBreaker,
  isBreakwaterError,
  keyedCircuitBreaker,
  policy,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog, never } from '../support/events.js';

describe('circuit breaker', () => {
  it('is asked before every attempt: opened during a wait, the next attempt is refused', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 100, openDuration: 1_000 });
    const p = policy({
      clock,
      circuitBreaker: breaker,
      retry: { maxAttempts: 5, backoff: backoff.constant(100) },
    });
    const first = new Error('first');
    let n = 0;
    const result = clock.watch(
      p.execute(async () => {
        n++;
        throw first;
      }),
    );
    await clock.advance(50); // attempt 1 failed; waiting
    breaker.isolate();
    await clock.runAll();
    expect(n).toBe(1);
    const error = result.settled?.status === 'rejected' ? result.settled.reason : undefined;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ code: 'BREAKWATER_CIRCUIT_OPEN', retryAfterMs: Number.POSITIVE_INFINITY });
    expect((error as Error).cause).toBe(first);
  });

  it('open: rejects with CircuitOpenError and retryAfterMs, without calling fn or classifying', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({
      clock,
      initialState: { state: 'open', openUntil: clock.now() + 5_000 },
    });
    const retryOn = vi.fn(() => true);
    const p = policy({ clock, circuitBreaker: breaker, retry: { maxAttempts: 3, retryOn } });
    const fn = vi.fn(async () => 'never');
    const error = await p.execute(fn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isBreakwaterError(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: 5_000, name: 'CircuitOpenError' });
    await clock.advance(1_500);
    await expect(p.execute(fn)).rejects.toMatchObject({ retryAfterMs: 3_500 });
    expect(fn).not.toHaveBeenCalled();
    expect(retryOn).not.toHaveBeenCalled();
    expect(clock.created).toBe(0); // never retried: no wait
  });

  it('a CircuitOpenError is never retried by the same execute', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1, openDuration: 10 });
    const p = policy({
      clock,
      circuitBreaker: breaker,
      // Even a retryOn that says yes to everything: the open breaker stops the operation.
      retry: { maxAttempts: 5, retryOn: () => true, backoff: backoff.constant(50) },
    });
    const log = new EventLog();
    p.onEvent(log.listener);
    let n = 0;
    const error = new Error('dependency down');
    const settled = await clock.settle(
      p.execute(async () => {
        n++;
        throw error;
      }),
    );
    expect(n).toBe(1);
    expect(settled).toMatchObject({ status: 'rejected', reason: error });
    expect(log.of('retry-refused')).toMatchObject([{ reason: 'circuit-open', attempt: 1 }]);
  });

  it("a failing attempt that opens the breaker stops retrying with the last attempt's error", async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 2 });
    const log = new EventLog();
    const p = policy({
      clock,
      circuitBreaker: breaker,
      onEvent: log.listener,
      retry: { maxAttempts: 5, backoff: backoff.constant(1) },
    });
    const errors: Error[] = [];
    const settled = await clock.settle(
      p.execute(async (ctx) => {
        const e = new Error(`attempt ${ctx.attempt}`);
        errors.push(e);
        throw e;
      }),
    );
    expect(errors).toHaveLength(2);
    expect(settled).toMatchObject({ status: 'rejected', reason: errors[1] });
    expect(log.of('retry-refused')).toMatchObject([{ reason: 'circuit-open', attempt: 2, error: errors[1] }]);
    expect(breaker.state).toBe('open');
  });

  it('half-open: a successful probe closes the breaker, extra calls are refused at once', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1, openDuration: 100 });
    const p = policy({ clock, circuitBreaker: breaker, retry: false });
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(breaker.state).toBe('open');
    await clock.advance(100);
    let release!: (v: string) => void;
    const probe = p.execute(() => new Promise<string>((r) => (release = r)));
    await expect(p.execute(async () => 'extra')).rejects.toMatchObject({ retryAfterMs: 0 });
    release('probe ok');
    await expect(probe).resolves.toBe('probe ok');
    expect(breaker.state).toBe('closed');
  });

  it('isolate() refuses with retryAfterMs Infinity; reset() lets calls through again', async () => {
    const breaker = circuitBreaker();
    const p = policy({ circuitBreaker: breaker });
    breaker.isolate();
    await expect(p.execute(async () => 1)).rejects.toMatchObject({ retryAfterMs: Number.POSITIVE_INFINITY });
    breaker.reset();
    await expect(p.execute(async () => 1)).resolves.toBe(1);
  });

  it('an attempt aborted by the caller does not count for or against the breaker', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1, openDuration: 10 });
    const p = policy({ clock, circuitBreaker: breaker, retry: false });
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await clock.advance(10);
    const controller = new AbortController();
    const probe = p.execute(() => never(), { signal: controller.signal });
    controller.abort();
    await probe.catch(() => {});
    // The probe slot was given back: the next call is the probe.
    await expect(p.execute(async () => 'next probe')).resolves.toBe('next probe');
    expect(breaker.state).toBe('closed');
  });
});

describe('keyed circuit breaker', () => {
  it('keyed breaker via { key } isolates keys', async () => {
    const clock = new ManualClock();
    const keyed = keyedCircuitBreaker({ clock, consecutiveFailures: 1, openDuration: 1_000 });
    const log = new EventLog();
    const p = policy({ clock, circuitBreaker: keyed, retry: false, onEvent: log.listener });
    await p.execute(() => Promise.reject(new Error('a down')), { key: 'a' }).catch(() => {});
    expect(keyed.peek('a')?.state).toBe('open');
    const error = await p.execute(async () => 'a', { key: 'a' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ key: 'a', retryAfterMs: 1_000 });
    expect((error as CircuitOpenError).message).toMatch(
      /^Circuit breaker is open for a \(policy "default"\): /,
    );
    await expect(p.execute(async () => 'b', { key: 'b' })).resolves.toBe('b');
    expect(keyed.peek('b')?.state).toBe('closed');
    expect(log.of('circuit-state-change')).toMatchObject([{ from: 'closed', to: 'open', key: 'a' }]);
    expect(log.of('circuit-rejected')).toMatchObject([{ key: 'a', attempt: 1, retryAfterMs: 1_000 }]);
  });

  it('a call without a key uses one default key', async () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1 });
    const p = policy({ circuitBreaker: keyed, retry: false });
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await expect(p.execute(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(keyed.size).toBe(1);
  });
});
