/**
 * The fast path (a first attempt nothing can interrupt) hands a failure over to the
 * general loop. These check that breakers and budgets see each attempt exactly once on
 * both sides of the handover.
 */
import { describe, expect, it } from 'vitest';
import { backoff, circuitBreaker, policy, type RetryBudget, retryBudget } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';

class CountingBudget implements RetryBudget {
  readonly kind = 'tokens' as const;
  requests = 0;
  successes = 0;
  failures = 0;
  retries = 0;
  onRequest(): void {
    this.requests++;
  }
  onSuccess(): void {
    this.successes++;
  }
  onFailure(): void {
    this.failures++;
  }
  tryRetry(): boolean {
    this.retries++;
    return true;
  }
  available(): number {
    return Number.POSITIVE_INFINITY;
  }
}

const fastPathPolicies = (clock: ManualClock, budget: RetryBudget) => ({
  plain: policy({ clock, retry: { budget, maxAttempts: 3, backoff: backoff.constant(1) } }),
  withBreaker: policy({
    clock,
    circuitBreaker: circuitBreaker({ clock, consecutiveFailures: 1_000 }),
    retry: { budget, maxAttempts: 3, backoff: backoff.constant(1) },
  }),
});

describe('fast path handover', () => {
  for (const variant of ['plain', 'withBreaker'] as const) {
    it(`books every attempt once with a token budget (${variant})`, async () => {
      const clock = new ManualClock();
      const budget = new CountingBudget();
      const p = fastPathPolicies(clock, budget)[variant];
      await p.execute(async () => 'ok');
      expect([budget.requests, budget.successes, budget.failures, budget.retries]).toEqual([1, 1, 0, 0]);
      // Async failure on the fast path, then success in the loop.
      const r1 = clock.settle(
        p.execute(async (ctx) => (ctx.attempt === 1 ? Promise.reject(new Error('x')) : 'ok')),
      );
      expect((await r1).status).toBe('fulfilled');
      expect([budget.requests, budget.successes, budget.failures, budget.retries]).toEqual([2, 2, 1, 1]);
      // Synchronous throw on the fast path, then failures to the end.
      const r2 = clock.settle(
        p.execute(() => {
          throw new Error('sync');
        }),
      );
      expect((await r2).status).toBe('rejected');
      expect([budget.requests, budget.successes, budget.failures, budget.retries]).toEqual([3, 2, 4, 3]);
    });
  }

  it('a real token budget drains by one per failed attempt and refills on success', async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ maxTokens: 10, tokenRatio: 1 });
    const p = policy({ clock, retry: { budget, maxAttempts: 2, backoff: backoff.constant(1) } });
    const tokens = () => (budget as unknown as { tokens: number }).tokens;
    await clock.settle(p.execute(() => Promise.reject(new Error('x'))));
    expect(tokens()).toBe(8);
    await p.execute(async () => 1);
    expect(tokens()).toBe(9);
  });

  it('a breaker counts a fast-path failure once, then the loop attempts', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 3, openDuration: 100 });
    const p = policy({
      clock,
      circuitBreaker: breaker,
      retry: { maxAttempts: 2, backoff: backoff.constant(1) },
    });
    await clock.settle(p.execute(() => Promise.reject(new Error('x')))); // 2 failures
    expect(breaker.state).toBe('closed');
    await clock.settle(p.execute(() => Promise.reject(new Error('x')))); // the 3rd opens it
    expect(breaker.state).toBe('open');
  });

  it('a half-open probe that fails on the fast path re-opens the breaker and is not retried', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1, openDuration: 100 });
    const p = policy({
      clock,
      circuitBreaker: breaker,
      retry: { maxAttempts: 3, backoff: backoff.constant(1) },
    });
    await clock.settle(p.execute(() => Promise.reject(new Error('x'))));
    await clock.advance(100);
    let n = 0;
    const settled = await clock.settle(
      p.execute(() => {
        n++;
        throw new Error('probe failed');
      }),
    );
    expect(n).toBe(1);
    expect(settled).toMatchObject({ status: 'rejected' });
    expect(breaker.state).toBe('open');
  });

  it('a half-open probe that succeeds on the fast path closes the breaker', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({
      clock,
      consecutiveFailures: 1,
      openDuration: 100,
      halfOpen: { successThreshold: 2, maxProbes: 2 },
    });
    const p = policy({ clock, circuitBreaker: breaker, retry: false });
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await clock.advance(100);
    await Promise.all([p.execute(async () => 1), p.execute(() => 2)]);
    expect(breaker.state).toBe('closed');
  });

  it('a breaker with a slow-call rule measures fast-path attempts', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({
      clock,
      window: { type: 'count', size: 2 },
      minimumCalls: 2,
      failureRateThreshold: 1,
      slowCall: { durationMs: 50, rateThreshold: 1 },
    });
    const p = policy({ clock, circuitBreaker: breaker, retry: false });
    const slow = () => p.execute(() => new Promise((r) => clock.setTimeout(() => r('slow'), 60)));
    await clock.settle(slow());
    await clock.settle(slow());
    expect(breaker.state).toBe('open');
  });

  it('a listener subscribed while a fast-path call runs does not see a half operation as broken', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 2, backoff: backoff.constant(10) } });
    const log = new EventLog();
    const result = clock.watch(
      p.execute((ctx) => (ctx.attempt === 1 ? Promise.reject(new Error('x')) : 'ok')),
    );
    p.onEvent(log.listener);
    await clock.runAll();
    expect(result.settled).toMatchObject({ status: 'fulfilled', value: 'ok' });
    expect(log.of('operation-end')).toMatchObject([{ outcome: 'success', attempts: 2 }]);
  });
});
