/** Rules of the deadline: the policy's and the per-call one. */
import { describe, expect, it } from 'vitest';
import { backoff, circuitBreaker, DeadlineExceededError, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog, never } from '../support/events.js';

/** Fails after `ms` on the manual clock. */
function failAfter(clock: ManualClock, ms: number, error: unknown): Promise<never> {
  return new Promise((_, reject) => clock.setTimeout(() => reject(error), ms));
}

describe('deadline', () => {
  it('no attempt starts after the deadline', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 1_000, retry: { maxAttempts: 100, backoff: backoff.constant(90) } });
    const t0 = clock.now();
    const starts: number[] = [];
    const settled = await clock.settle(
      p.execute(() => {
        starts.push(clock.now() - t0);
        return failAfter(clock, 10, new Error('x'));
      }),
    );
    expect(settled.status).toBe('rejected');
    expect(starts.length).toBeGreaterThan(5);
    for (const s of starts) expect(s).toBeLessThan(1_000);
  });

  it("no wait starts that would end past it: retrying stops with the last attempt's own error", async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({
      clock,
      deadline: 1_000,
      onEvent: log.listener,
      retry: { maxAttempts: 10, backoff: backoff.constant(400) },
    });
    const t0 = clock.now();
    const errors: Error[] = [];
    const settled = await clock.settle(
      p.execute((ctx) => {
        const error = new Error(`attempt ${ctx.attempt}`);
        errors.push(error);
        return failAfter(clock, 100, error);
      }),
    );
    // t=0 attempt 1, fails at 100; wait to 500; attempt 2 fails at 600; a wait to 1000
    // would reach the deadline: stop now, with attempt 2's error.
    expect(errors).toHaveLength(2);
    expect(settled).toEqual({ status: 'rejected', reason: errors[1], at: t0 + 600 });
    expect(log.of('retry-refused')).toMatchObject([{ reason: 'deadline', attempt: 2, error: errors[1] }]);
    expect(log.of('deadline-exceeded')).toHaveLength(0);
  });

  it('a wait that would end exactly at the deadline is not started', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 500, retry: { maxAttempts: 3, backoff: backoff.constant(400) } });
    const error = new Error('only');
    let n = 0;
    const settled = await clock.settle(
      p.execute(() => {
        n++;
        return failAfter(clock, 100, error);
      }),
    );
    expect(n).toBe(1);
    expect(settled).toMatchObject({ status: 'rejected', reason: error });
  });

  it("a deadline during an attempt aborts the attempt's signal and rejects with DeadlineExceededError", async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({ clock, deadline: 1_000, onEvent: log.listener });
    const t0 = clock.now();
    let signal: AbortSignal | undefined;
    const settled = await clock.settle(
      p.execute((ctx) => {
        signal = ctx.signal;
        return never();
      }),
    );
    expect(settled.status).toBe('rejected');
    const error = settled.status === 'rejected' ? settled.reason : undefined;
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toMatchObject({ code: 'BREAKWATER_DEADLINE_EXCEEDED', deadline: t0 + 1_000 });
    expect((error as Error).cause).toBeUndefined();
    expect(settled).toMatchObject({ at: t0 + 1_000 });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
    expect(log.of('attempt-end')).toMatchObject([{ outcome: 'deadline', error }]);
  });

  it('a signal first read after the deadline is already aborted', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 100 });
    let ctxSeen: { signal: AbortSignal } | undefined;
    const settled = await clock.settle(
      p.execute((ctx) => {
        ctxSeen = ctx;
        return never();
      }),
    );
    expect(ctxSeen?.signal.aborted).toBe(true);
    expect(ctxSeen?.signal.reason).toBe(settled.status === 'rejected' ? settled.reason : 'missing');
  });

  it("the deadline error's cause is the previous attempt's error", async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 1_000, retry: { maxAttempts: 3, backoff: backoff.constant(10) } });
    const first = new Error('first');
    const settled = await clock.settle(
      p.execute((ctx) => (ctx.attempt === 1 ? failAfter(clock, 100, first) : never())),
    );
    const error = settled.status === 'rejected' ? (settled.reason as Error) : undefined;
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error?.cause).toBe(first);
  });

  it('a deadline during an attempt counts against the breaker', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1 });
    const p = policy({ clock, deadline: 100, circuitBreaker: breaker });
    await clock.settle(p.execute(() => never()));
    expect(breaker.state).toBe('open');
  });

  it('ctx.deadline and ctx.remaining() follow the deadline', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 1_000, retry: { maxAttempts: 2, backoff: backoff.constant(300) } });
    const t0 = clock.now();
    const seen: [number | undefined, number][] = [];
    await clock.settle(
      p.execute((ctx) => {
        seen.push([ctx.deadline, ctx.remaining()]);
        return failAfter(clock, 100, new Error('x'));
      }),
    );
    expect(seen).toEqual([
      [t0 + 1_000, 1_000],
      [t0 + 1_000, 600],
    ]);
    const unbounded = policy({ clock });
    await unbounded.execute((ctx) => {
      expect(ctx.deadline).toBeUndefined();
      expect(ctx.remaining()).toBe(Number.POSITIVE_INFINITY);
    });
  });

  it('ctx.remaining() is 0 once the deadline passed, never negative', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 100 });
    let remaining: (() => number) | undefined;
    await clock.settle(
      p.execute((ctx) => {
        remaining = () => ctx.remaining();
        return never();
      }),
    );
    await clock.advance(50);
    expect(remaining?.()).toBe(0);
  });
});

describe('per-call deadline', () => {
  it('the earlier of the per-call deadline and the policy deadline wins', async () => {
    for (const [own, call, expected] of [
      [1_000, 500, 500],
      [1_000, 5_000, 1_000],
      [undefined, 700, 700],
    ] as const) {
      const clock = new ManualClock();
      const p = policy({ clock, ...(own === undefined ? {} : { deadline: own }) });
      const t0 = clock.now();
      let ctxDeadline: number | undefined;
      const settled = await clock.settle(
        p.execute(
          (ctx) => {
            ctxDeadline = ctx.deadline;
            return never();
          },
          { deadline: t0 + call },
        ),
      );
      expect(ctxDeadline).toBe(t0 + expected);
      expect(settled).toMatchObject({ status: 'rejected', at: t0 + expected });
    }
  });

  it('a deadline already past rejects without any attempt', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({ clock, deadline: 1_000, onEvent: log.listener });
    for (const offset of [-1, 0, -1_000_000]) {
      let n = 0;
      const error = await p
        .execute(
          async () => {
            n++;
          },
          { deadline: clock.now() + offset },
        )
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(n).toBe(0);
    }
    expect(log.of('attempt-start')).toHaveLength(0);
    expect(log.of('deadline-exceeded')).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });

  it('per-call deadlines out of order each fire at their own time', async () => {
    const clock = new ManualClock();
    const p = policy({ clock });
    const t0 = clock.now();
    const late = clock.watch(p.execute(() => never(), { deadline: t0 + 300 }));
    const early = clock.watch(p.execute(() => never(), { deadline: t0 + 100 }));
    const middle = clock.watch(p.execute(() => never(), { deadline: t0 + 200 }));
    await clock.runAll();
    expect(early.settled).toMatchObject({ status: 'rejected', at: t0 + 100 });
    expect(middle.settled).toMatchObject({ status: 'rejected', at: t0 + 200 });
    expect(late.settled).toMatchObject({ status: 'rejected', at: t0 + 300 });
    expect(clock.pending).toBe(0);
  });
});
