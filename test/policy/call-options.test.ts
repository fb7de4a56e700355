/**
 * Per-call options as a new user meets them: `timeout` (relative) beside `deadline`
 * (absolute), a duration passed as a deadline, unknown keys; and what a failure and a
 * policy tell afterwards (`attemptsMade`, the policy's stages, the attemptTimeout warning).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  attemptsMade,
  backoff,
  bulkhead,
  circuitBreaker,
  DeadlineExceededError,
  InvalidOptionsError,
  policy,
  retryBudget,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

describe('per-call timeout and deadline', () => {
  it('timeout is ms from now, and the earliest of timeout, deadline and the policy deadline wins', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, deadline: 1_000, retry: false });
    const start = clock.now();
    const seen: (number | undefined)[] = [];
    const hang = (ctx: { deadline: number | undefined }) => {
      seen.push(ctx.deadline);
      return new Promise<never>(() => {});
    };
    const a = clock.watch(p.execute(hang, { timeout: 200 }));
    const b = clock.watch(p.execute(hang, { timeout: 500, deadline: start + 300 }));
    const c = clock.watch(p.execute(hang, { timeout: 5_000 }));
    expect(seen).toEqual([start + 200, start + 300, start + 1_000]);
    await clock.advance(1_000);
    for (const w of [a, b, c])
      expect((w.settled as { reason: unknown }).reason).toBeInstanceOf(DeadlineExceededError);
    expect([a.settled?.at, b.settled?.at, c.settled?.at]).toEqual([start + 200, start + 300, start + 1_000]);
  });

  it('a deadline that is plainly a duration is refused, naming timeout and Date.now() + ms', async () => {
    const p = policy(); // the real clock
    let ran = false;
    const error = await p
      .execute(
        async () => {
          ran = true;
        },
        { deadline: 2_000 },
      )
      .catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).option).toBe('deadline');
    expect((error as Error).message).toContain('{ timeout: 2000 }');
    expect((error as Error).message).toContain('Date.now() + 2000');
    await expect(p.execute(async () => 'ok', { deadline: Date.now() + 2_000 })).resolves.toBe('ok');
    await expect(p.execute(async () => 'ok', { timeout: 2_000 })).resolves.toBe('ok');
  });

  it('refuses a bad timeout with the allowed range', async () => {
    const p = policy();
    for (const timeout of [0, -1, Number.NaN, 2 ** 31, '5' as unknown as number]) {
      const error = await p.execute(async () => 1, { timeout }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as Error).message).toMatch(
        /timeout must be a number of ms above 0 and at most 2147483647/,
      );
    }
  });

  it('refuses an unknown per-call key, listing the options', async () => {
    const p = policy();
    const error = await p
      .execute(async () => 1, { timeOut: 5 } as unknown as { timeout: number })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).option).toBe('timeOut');
    expect((error as Error).message).toContain('signal, deadline, timeout, idempotencyKey, key, retryOn');
  });
});

describe('what a failure and a policy tell', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('attemptsMade(error) counts the attempts behind the error, whatever its type', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(1) } });
    class TransportError extends Error {}
    const error = new TransportError('reset');
    const settled = await clock.settle(
      p.execute(async () => {
        throw error;
      }),
    );
    expect((settled as { reason: unknown }).reason).toBe(error);
    expect(attemptsMade(error)).toBe(3);
    expect(attemptsMade(new Error('other'))).toBeUndefined();
    expect(attemptsMade('text')).toBeUndefined();
  });

  it('a policy exposes its breaker, budget and bulkhead', () => {
    const breaker = circuitBreaker();
    const budget = retryBudget();
    const slots = bulkhead();
    const p = policy({ circuitBreaker: breaker, retry: { budget }, bulkhead: slots });
    expect([p.circuitBreaker, p.retryBudget, p.bulkhead]).toEqual([breaker, budget, slots]);
    expect(policy({ retry: false }).retryBudget).toBeUndefined();
  });

  it('warns once at construction when attemptTimeout is not below deadline', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    policy({ name: 'loyalty', deadline: 500, attemptTimeout: 500 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(
      /loyalty.*attemptTimeout \(500 ms\) is not below deadline/,
    );
    policy({ deadline: 500, attemptTimeout: 200 });
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe('policy.with()', () => {
  it('refuses a retry that is neither an object nor false, as policy() does', () => {
    expect(() => policy().with({ retry: 3 as unknown as false })).toThrow(InvalidOptionsError);
    expect(() => policy().with({ retry: 3 as unknown as false })).toThrow(/retry must be an object/);
  });
});
