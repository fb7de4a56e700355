/**
 * The lean path: a policy with nothing that can interrupt an attempt (no deadline, attempt
 * timeout, bulkhead, keyed breaker or listener) runs a call's first attempt without
 * per-operation state, and builds it only when that attempt fails. What the attempt's
 * context says, and what the retries see, must not depend on which path ran.
 */
import { describe, expect, it } from 'vitest';
import { type AttemptContext, BreakwaterError, backoff, circuitBreaker, policy } from '../../src/index.js';
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
