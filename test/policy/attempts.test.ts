/** Rules: maxAttempts counts every attempt; defaults of policy(); what fn may return or throw. */
import { describe, expect, it } from 'vitest';
import { backoff, policy, retryBudget } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';

function failing(calls: { n: number }, message = 'boom'): () => Promise<never> {
  return async () => {
    calls.n++;
    throw new Error(`${message} ${calls.n}`);
  };
}

describe('maxAttempts', () => {
  it('maxAttempts counts every attempt, the first one included', async () => {
    for (const maxAttempts of [1, 2, 4, 7]) {
      const clock = new ManualClock();
      const p = policy({ clock, retry: { maxAttempts, backoff: backoff.constant(10), budget: false } });
      const calls = { n: 0 };
      const result = clock.settle(p.execute(failing(calls)));
      const settled = await result;
      expect(settled.status).toBe('rejected');
      expect(calls.n).toBe(maxAttempts);
    }
  });

  it('maxAttempts: 1 means no retry and no wait', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 1 } });
    const calls = { n: 0 };
    await expect(p.execute(failing(calls))).rejects.toThrow('boom 1');
    expect(calls.n).toBe(1);
    expect(clock.created).toBe(0);
  });

  it('retry: false is a single attempt', async () => {
    const p = policy({ retry: false });
    const calls = { n: 0 };
    await expect(p.execute(failing(calls))).rejects.toThrow('boom 1');
    expect(calls.n).toBe(1);
    expect(p.config.maxAttempts).toBe(1);
  });

  it('stops retrying at the first success', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 5, backoff: backoff.constant(1) } });
    let n = 0;
    const result = p.execute(async (ctx) => {
      n++;
      if (ctx.attempt < 3) throw new Error('not yet');
      return ctx.attempt;
    });
    await clock.runAll();
    await expect(result).resolves.toBe(3);
    expect(n).toBe(3);
  });

  it('ctx.attempt is 1-based and counts up', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(1) } });
    const seen: number[] = [];
    const result = p.execute(async (ctx) => {
      seen.push(ctx.attempt);
      throw new Error('x');
    });
    await clock.settle(result);
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('policy() with no options', () => {
  it('policy() with no options retries 3 times with backoff and a default budget', () => {
    const p = policy();
    expect(p.name).toBe('default');
    expect(p.config.maxAttempts).toBe(3);
    expect(p.config.budget?.kind).toBe('ratio');
    expect(p.config.backoff.maxDelay).toBe(10_000);
    expect(p.config.deadline).toBeUndefined();
    expect(p.config.attemptTimeout).toBeUndefined();
    expect(p.config.generateKey).toBeUndefined();
  });

  it('the defaults make 3 attempts separated by exponential, fully jittered waits', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({ clock, onEvent: log.listener });
    const calls = { n: 0 };
    const settled = await clock.settle(p.execute(failing(calls)));
    expect(settled.status).toBe('rejected');
    expect(calls.n).toBe(3);
    const delays = log.of('retry-scheduled').map((e) => e.delayMs);
    expect(delays).toHaveLength(2);
    // Full jitter over 100 ms, then 200 ms (initialDelay 100, multiplier 2).
    expect(delays[0]).toBeGreaterThanOrEqual(0);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThanOrEqual(0);
    expect(delays[1]).toBeLessThanOrEqual(200);
    expect(clock.delays).toEqual(delays);
  });

  it('the default budget stops a retry storm', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({ clock, onEvent: log.listener, retry: { backoff: backoff.constant(1) } });
    const operations = 400;
    const calls = { n: 0 };
    const all = Promise.allSettled(Array.from({ length: operations }, () => p.execute(failing(calls))));
    await clock.runAll();
    await all;
    const retries = calls.n - operations;
    // 10% of 400 requests plus a floor of 10/s over the 10 s window = 140 retries at most.
    expect(retries).toBeLessThanOrEqual(0.1 * operations + 100);
    expect(retries).toBeGreaterThan(0);
    expect(calls.n).toBeLessThan(operations * 3);
    expect(log.of('retry-refused').some((e) => e.reason === 'budget')).toBe(true);
  });

  it('budget: false turns the default budget off', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { budget: false, backoff: backoff.constant(1) } });
    expect(p.config.budget).toBeUndefined();
    const calls = { n: 0 };
    const all = Promise.allSettled(Array.from({ length: 400 }, () => p.execute(failing(calls))));
    await clock.runAll();
    await all;
    expect(calls.n).toBe(1_200);
  });

  it('a policy that never retries gets no budget', () => {
    expect(policy({ retry: { maxAttempts: 1 } }).config.budget).toBeUndefined();
    expect(policy({ retry: false }).config.budget).toBeUndefined();
    const shared = retryBudget();
    expect(policy({ retry: { budget: shared } }).config.budget).toBe(shared);
  });
});

describe('what fn may return or throw', () => {
  it('fn returning a non-promise value resolves with it', async () => {
    const clock = new ManualClock();
    await expect(policy().execute(() => 42)).resolves.toBe(42);
    // Also through the general loop (a deadline makes the attempt race a timer).
    await expect(policy({ clock, deadline: 1_000 }).execute(() => 'sync')).resolves.toBe('sync');
    await expect(policy().execute(() => undefined)).resolves.toBeUndefined();
    await expect(policy().execute(() => null)).resolves.toBeNull();
  });

  it('fn returning a thenable that is not a Promise is awaited', async () => {
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose
      then: (resolve: (v: string) => void) => resolve('then'),
    } as unknown as PromiseLike<string>;
    await expect(policy().execute(() => thenable)).resolves.toBe('then');
    await expect(policy({ deadline: 1_000 }).execute(() => thenable)).resolves.toBe('then');
  });

  it('fn throwing synchronously is a failed attempt, retried like a rejection', async () => {
    for (const options of [{}, { deadline: 10_000 }, { attemptTimeout: 10_000 }]) {
      const clock = new ManualClock();
      const p = policy({ clock, ...options, retry: { maxAttempts: 3, backoff: backoff.constant(5) } });
      const errors: Error[] = [];
      const result = p.execute((ctx) => {
        const error = new Error(`sync ${ctx.attempt}`);
        errors.push(error);
        throw error;
      });
      const settled = await clock.settle(result);
      expect(errors).toHaveLength(3);
      expect(settled).toMatchObject({ status: 'rejected', reason: errors[2] });
    }
  });

  it('fn throwing synchronously and then succeeding resolves', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { backoff: backoff.constant(5) } });
    const result = p.execute((ctx) => {
      if (ctx.attempt === 1) throw new Error('sync');
      return 'second';
    });
    await clock.runAll();
    await expect(result).resolves.toBe('second');
  });

  it('execute never throws synchronously, even for a non-function', async () => {
    const p = policy();
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = p.execute(5 as never);
    }).not.toThrow();
    await expect(result).rejects.toMatchObject({ code: 'BREAKWATER_INVALID_OPTIONS', option: 'fn' });
  });
});
