/** Rules of the attempt timeout. */
import { describe, expect, it } from 'vitest';
import { AttemptTimeoutError, backoff, circuitBreaker, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog, never } from '../support/events.js';

describe('attempt timeout', () => {
  it("aborts the attempt's signal with AttemptTimeoutError, counts as a failure and is retried", async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({
      clock,
      attemptTimeout: 100,
      onEvent: log.listener,
      retry: { maxAttempts: 3, backoff: backoff.constant(10) },
    });
    const t0 = clock.now();
    const signals: AbortSignal[] = [];
    const settled = await clock.settle(
      p.execute(async (ctx) => {
        signals.push(ctx.signal);
        if (ctx.attempt < 3) return never<string>();
        return 'third';
      }),
    );
    expect(settled).toEqual({ status: 'fulfilled', value: 'third', at: t0 + 220 });
    expect(signals).toHaveLength(3);
    for (const s of signals.slice(0, 2)) {
      expect(s.aborted).toBe(true);
      expect(s.reason).toBeInstanceOf(AttemptTimeoutError);
      expect(s.reason).toMatchObject({ code: 'BREAKWATER_ATTEMPT_TIMEOUT', timeoutMs: 100 });
    }
    expect(signals[0]?.reason).not.toBe(signals[1]?.reason);
    expect(signals[2]?.aborted).toBe(false);
    expect(log.of('attempt-end').map((e) => e.outcome)).toEqual(['timeout', 'timeout', 'success']);
    expect(log.of('attempt-end')[0]).toMatchObject({ durationMs: 100, error: signals[0]?.reason });
    expect(log.of('retry-scheduled').map((e) => e.error)).toEqual([signals[0]?.reason, signals[1]?.reason]);
  });

  it('the last attempt timing out rejects with its AttemptTimeoutError (the one its signal carries)', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, attemptTimeout: 50, retry: { maxAttempts: 2, backoff: backoff.constant(0) } });
    let last: AbortSignal | undefined;
    const settled = await clock.settle(
      p.execute((ctx) => {
        last = ctx.signal;
        return never();
      }),
    );
    expect(settled.status).toBe('rejected');
    expect(settled.status === 'rejected' ? settled.reason : undefined).toBe(last?.reason);
    expect(last?.reason).toBeInstanceOf(AttemptTimeoutError);
  });

  it('a late result of a timed-out attempt is ignored', async () => {
    const clock = new ManualClock();
    const p = policy({
      clock,
      attemptTimeout: 50,
      retry: { maxAttempts: 2, backoff: backoff.constant(100) },
    });
    const settled = await clock.settle(
      p.execute(
        (ctx) =>
          new Promise<string>((resolve) =>
            clock.setTimeout(() => resolve(`late ${ctx.attempt}`), ctx.attempt === 1 ? 60 : 10),
          ),
      ),
    );
    // Attempt 1 timed out at 50 (its result at 60 is dropped); attempt 2 starts at 150.
    expect(settled).toMatchObject({ status: 'fulfilled', value: 'late 2' });
  });

  it('counts against the circuit breaker', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 2 });
    const p = policy({
      clock,
      attemptTimeout: 10,
      circuitBreaker: breaker,
      retry: { maxAttempts: 5, backoff: backoff.constant(1) },
    });
    let n = 0;
    const settled = await clock.settle(
      p.execute(() => {
        n++;
        return never();
      }),
    );
    expect(n).toBe(2);
    expect(breaker.state).toBe('open');
    expect(settled.status === 'rejected' ? settled.reason : undefined).toBeInstanceOf(AttemptTimeoutError);
  });

  it('ctx.attemptDeadline is the earlier of the attempt timeout and the deadline', async () => {
    const clock = new ManualClock();
    const p = policy({
      clock,
      deadline: 250,
      attemptTimeout: 100,
      retry: { maxAttempts: 3, backoff: backoff.constant(0) },
    });
    const t0 = clock.now();
    const seen: (number | undefined)[] = [];
    await clock.settle(
      p.execute((ctx) => {
        seen.push(ctx.attemptDeadline);
        return never();
      }),
    );
    expect(seen).toEqual([t0 + 100, t0 + 200, t0 + 250]);
    const noTimeout = policy({ clock });
    await noTimeout.execute((ctx) => expect(ctx.attemptDeadline).toBeUndefined());
  });

  it('an attempt that succeeds in time leaves no timer behind', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, attemptTimeout: 100 });
    for (let i = 0; i < 5; i++) await expect(p.execute(async () => i)).resolves.toBe(i);
    expect(clock.pending).toBe(0);
  });
});
