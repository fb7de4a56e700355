/**
 * The lean path: a policy with nothing that can interrupt an attempt (no deadline, attempt
 * timeout, bulkhead, keyed breaker or listener) runs a call's first attempt without
 * per-operation state, and builds it only when that attempt fails. What the attempt's
 * context says, and what the retries see, must not depend on which path ran.
 */

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LightSignal } from '../../src/abort.js';
import {
  type AttemptContext,
  AttemptTimeoutError,
  BreakwaterError,
  backoff,
  circuitBreaker,
  DeadlineExceededError,
  policy,
  retryBudget,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

const transient = (): Error => Object.assign(new Error('reset'), { code: 'ECONNRESET' });

describe('lean first attempt', () => {
  it('keeps a key generated on the first attempt for the retries', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, idempotency: true, retry: { maxAttempts: 3, backoff: backoff.constant(5) } });
    const keys: (string | undefined)[] = [];
    const result = p.execute(async (ctx) => {
      keys.push(ctx.idempotencyKey);
      keys.push(ctx.idempotencyKey); // read twice: still one key
      if (ctx.attempt < 3) throw transient();
      return ctx.attempt;
    });
    await clock.runAll();
    await expect(result).resolves.toBe(3);
    expect(keys).toHaveLength(6);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('makes the key on the retry when the first attempt never read it', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, idempotency: true, retry: { maxAttempts: 2, backoff: backoff.constant(5) } });
    const seen: (string | undefined)[] = [];
    const result = p.execute(async (ctx) => {
      if (ctx.attempt === 1) throw transient();
      seen.push(ctx.idempotencyKey, ctx.idempotencyKey);
      return 'ok';
    });
    await clock.runAll();
    await expect(result).resolves.toBe('ok');
    expect(seen[0]).toBeDefined();
    expect(seen[0]).toBe(seen[1]);
  });

  it("answers the call's options (key, idempotency key, retryOn) on every attempt", async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(5) } });
    const contexts: AttemptContext[] = [];
    const classified: number[] = [];
    const result = p.execute(
      async (ctx) => {
        contexts.push(ctx);
        if (ctx.attempt < 3) throw new Error('not retryable by default');
        return 'ok';
      },
      {
        key: 'orders',
        idempotencyKey: 'order-42',
        retryOn: (_error, ctx) => {
          classified.push(ctx.attempt);
          return true;
        },
      },
    );
    await clock.runAll();
    await expect(result).resolves.toBe('ok');
    expect(classified).toEqual([1, 2]);
    expect(contexts.map((c) => [c.attempt, c.key, c.idempotencyKey, c.deadline, c.attemptDeadline])).toEqual([
      [1, 'orders', 'order-42', undefined, undefined],
      [2, 'orders', 'order-42', undefined, undefined],
      [3, 'orders', 'order-42', undefined, undefined],
    ]);
    // The first attempt's context still describes the first attempt after the handover.
    expect(contexts[0]?.attempt).toBe(1);
    expect(contexts[0]?.remaining()).toBe(Number.POSITIVE_INFINITY);
  });

  it('retries a first attempt that throws synchronously', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 2, backoff: backoff.constant(5) } });
    let calls = 0;
    const result = p.execute((ctx) => {
      calls++;
      if (ctx.attempt === 1) throw transient();
      return 'sync';
    });
    await clock.runAll();
    await expect(result).resolves.toBe('sync');
    expect(calls).toBe(2);
  });

  it('aborts the first attempt signal when it is read, and only for that attempt', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 2, backoff: backoff.constant(5) } });
    const signals: AbortSignal[] = [];
    const result = p.execute(async (ctx) => {
      signals.push(ctx.signal);
      if (ctx.attempt === 1) throw transient();
      return 'ok';
    });
    await clock.runAll();
    await expect(result).resolves.toBe('ok');
    expect(signals).toHaveLength(2);
    expect(signals[0]).not.toBe(signals[1]);
    expect(signals.every((s) => !s.aborted)).toBe(true);
  });

  it('books a slow first attempt on a breaker that measures durations', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({
      clock,
      minimumCalls: 2,
      window: { type: 'count', size: 2 },
      slowCall: { durationMs: 100, rateThreshold: 1 },
    });
    const p = policy({ clock, retry: false, circuitBreaker: breaker });
    const answerAfter = async (ms: number): Promise<void> => {
      const call = p.execute(
        () =>
          new Promise<string>((resolve) => {
            clock.setTimeout(() => resolve('answer'), ms);
          }),
      );
      await clock.runAll();
      await expect(call).resolves.toBe('answer');
    };
    // Timed from the attempt's start: 50 ms is fast, 150 ms is slow.
    await answerAfter(50);
    await answerAfter(50);
    expect(breaker.current).toBe('closed');
    await answerAfter(150);
    await answerAfter(150);
    expect(breaker.current).toBe('open');
    await expect(p.execute(async () => 'never')).rejects.toMatchObject({ code: 'BREAKWATER_CIRCUIT_OPEN' });
  });

  it('still rejects invalid options, and still honours a signal or a deadline', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 2 } });
    const bad = p.execute(async () => 1, { key: 7 as unknown as string });
    await expect(bad).rejects.toBeInstanceOf(BreakwaterError);
    await expect(bad).rejects.toMatchObject({ code: 'BREAKWATER_INVALID_OPTIONS' });

    const controller = new AbortController();
    const aborted = p.execute(() => new Promise(() => {}), { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');

    const late = p.execute(() => new Promise(() => {}), { deadline: clock.now() + 50 });
    const rejected = expect(late).rejects.toMatchObject({ code: 'BREAKWATER_DEADLINE_EXCEEDED' });
    await clock.advance(50);
    await rejected;
  });
});

/**
 * With an attempt timeout shorter than the deadline, the first attempt races only its
 * timeout; the deadline is armed when the first attempt fails or times out.
 */
describe('lean first attempt with an attempt timeout', () => {
  const timedPolicy = (clock: ManualClock, maxAttempts = 10) =>
    policy({
      clock,
      deadline: 1_000,
      attemptTimeout: 100,
      retry: { maxAttempts, backoff: backoff.constant(10), budget: false },
      circuitBreaker: circuitBreaker({ clock, consecutiveFailures: 1_000 }),
    });

  it("tells the first attempt the operation's deadline", async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const p = timedPolicy(clock);
    const seen: [number | undefined, number | undefined, number][] = [];
    const result = p.execute(async (ctx) => {
      seen.push([ctx.deadline, ctx.attemptDeadline, ctx.remaining()]);
      return 'ok';
    });
    await expect(result).resolves.toBe('ok');
    expect(seen).toEqual([[start + 1_000, start + 100, 1_000]]);
  });

  it('times out the first attempt, aborts its signal, and retries', async () => {
    const clock = new ManualClock();
    const p = timedPolicy(clock);
    const signals: AbortSignal[] = [];
    const result = p.execute((ctx) => {
      signals.push(ctx.signal);
      if (ctx.attempt === 1) return new Promise<string>(() => {});
      return 'second';
    });
    const settled = await clock.settle(result);
    expect(settled).toMatchObject({ status: 'fulfilled', value: 'second', at: clock.now() });
    expect(signals).toHaveLength(2);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(AttemptTimeoutError);
    expect(signals[1]?.aborted).toBe(false);
  });

  it('arms the deadline once the first attempt failed: later attempts stop at it', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const p = timedPolicy(clock, 1_000);
    const starts: number[] = [];
    const result = p.execute((ctx) => {
      starts.push(clock.now() - start);
      if (ctx.attempt === 1) return Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
      // Later attempts answer after 95 ms: inside their own timeout, so only the deadline
      // can stop the operation.
      return new Promise<string>((_, reject) => {
        clock.setTimeout(() => reject(Object.assign(new Error('slow reset'), { code: 'ECONNRESET' })), 95);
      });
    });
    const settled = await clock.settle(result);
    expect(settled.status).toBe('rejected');
    if (settled.status !== 'rejected') return;
    expect(settled.reason).toBeInstanceOf(DeadlineExceededError);
    expect(settled.at - start).toBe(1_000);
    expect(starts.every((t) => t < 1_000)).toBe(true);
    expect(starts.length).toBeGreaterThan(5);
  });

  it('after a first attempt timeout, the deadline still bounds the operation', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const p = timedPolicy(clock, 1_000);
    const result = p.execute(() => new Promise<string>(() => {}));
    const settled = await clock.settle(result);
    expect(settled.status).toBe('rejected');
    if (settled.status !== 'rejected') return;
    expect(settled.reason).toBeInstanceOf(DeadlineExceededError);
    expect((settled.reason as Error).cause).toBeInstanceOf(AttemptTimeoutError);
    expect(settled.at - start).toBe(1_000);
  });

  it('leaves no timer behind on success, and books the breaker and a token budget once', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 2 });
    const budget = retryBudget({ maxTokens: 4, tokenRatio: 1 });
    const p = policy({
      clock,
      deadline: 1_000,
      attemptTimeout: 100,
      retry: { maxAttempts: 2, budget },
      circuitBreaker: breaker,
    });
    for (let i = 0; i < 10; i++) await expect(p.execute(async () => i)).resolves.toBe(i);
    expect(clock.pending).toBe(0);
    expect(breaker.toJSON()).toMatchObject({ state: 'closed' });
    // Two timeouts in a row open the consecutive breaker: the first attempts were booked.
    const first = clock.settle(p.execute(() => new Promise(() => {})));
    expect(await first).toMatchObject({ status: 'rejected' });
    expect(breaker.current).toBe('open');
  });
});

/** A caller's signal: the lean first attempt listens to it, and hands over when it aborts. */
describe('lean first attempt with a caller signal', () => {
  const signalled = (clock: ManualClock) =>
    policy({
      clock,
      retry: { maxAttempts: 3, backoff: backoff.constant(50), budget: false },
      circuitBreaker: circuitBreaker({ clock, consecutiveFailures: 1 }),
    });

  it('settles at once with the reason, aborts the attempt, and does not count it against the breaker', async () => {
    const clock = new ManualClock();
    const p = signalled(clock);
    const controller = new AbortController();
    let attemptSignal: AbortSignal | undefined;
    const call = clock.watch(
      p.execute(
        (ctx) => {
          attemptSignal = ctx.signal;
          return new Promise<string>(() => {});
        },
        { signal: controller.signal },
      ),
    );
    await flushMicrotasks();
    expect(call.settled).toBeUndefined();
    const reason = new Error('caller left');
    controller.abort(reason);
    await flushMicrotasks();
    expect(call.settled).toMatchObject({ status: 'rejected', reason });
    expect(attemptSignal?.aborted).toBe(true);
    expect(attemptSignal?.reason).toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // consecutiveFailures: 1 would have opened on a failure: an abort is not one.
    expect(p.config.breaker?.current).toBe('closed');
    await expect(p.execute(async () => 'next')).resolves.toBe('next');
  });

  it('hands the signal over on failure: an abort during the backoff wait settles at once', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(50), budget: false } });
    const controller = new AbortController();
    let calls = 0;
    const call = clock.watch(
      p.execute(
        async () => {
          calls++;
          throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
        },
        { signal: controller.signal },
      ),
    );
    await flushMicrotasks();
    expect(calls).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('gave up'));
    await flushMicrotasks();
    expect(call.settled).toMatchObject({ status: 'rejected', reason: new Error('gave up') });
    expect(calls).toBe(1);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener on a long-lived signal after successes', async () => {
    const clock = new ManualClock();
    const p = signalled(clock);
    const controller = new AbortController();
    for (let i = 0; i < 100; i++) {
      await expect(p.execute(async () => i, { signal: controller.signal })).resolves.toBe(i);
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('hears an abort that the attempt itself causes', async () => {
    const clock = new ManualClock();
    const p = signalled(clock);
    const controller = new AbortController();
    const reason = new Error('aborted from inside');
    const call = p.execute(
      () => {
        controller.abort(reason);
        return new Promise<string>(() => {});
      },
      { signal: controller.signal },
    );
    await expect(call).rejects.toBe(reason);
  });
});

describe('lean first attempt with an adapter’s own signal', () => {
  it('books the attempt as aborted when the owner aborts and fails it, and rejects with the reason', async () => {
    const clock = new ManualClock();
    const p = policy({
      clock,
      retry: { maxAttempts: 3, backoff: backoff.constant(50), budget: false },
      circuitBreaker: circuitBreaker({ clock, consecutiveFailures: 1 }),
    });
    const signal = new LightSignal();
    let failAttempt: ((reason: unknown) => void) | undefined;
    let attemptSignal: AbortSignal | undefined;
    let calls = 0;
    const call = clock.watch(
      p.execute(
        (ctx) => {
          calls++;
          attemptSignal = ctx.signal;
          return new Promise<string>((_, reject) => {
            failAttempt = reject;
          });
        },
        { signal: signal.asAbortSignal() },
      ),
    );
    await flushMicrotasks();
    const reason = new Error('caller cancelled');
    signal.abort(reason);
    failAttempt?.(reason);
    await flushMicrotasks();
    expect(call.settled).toMatchObject({ status: 'rejected', reason });
    expect(calls).toBe(1);
    expect(clock.pending).toBe(0);
    expect(attemptSignal?.aborted).toBe(true);
    expect(p.config.breaker?.current).toBe('closed');
    await expect(p.execute(async () => 'next')).resolves.toBe('next');
  });

  it('hands the signal over when the first attempt fails: an abort during the backoff wait settles at once', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(50), budget: false } });
    const signal = new LightSignal();
    const call = clock.watch(
      p.execute(async () => Promise.reject(transient()), { signal: signal.asAbortSignal() }),
    );
    await flushMicrotasks();
    expect(signal.subscriber).toBeDefined();
    signal.abort(new Error('gave up'));
    await flushMicrotasks();
    expect(call.settled).toMatchObject({ status: 'rejected', reason: new Error('gave up') });
    expect(clock.pending).toBe(0);
  });
});

function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
