/** Rules of the retry budget as the policy uses it. */
import { describe, expect, it } from 'vitest';
import { backoff, policy, type RetryBudget, retryBudget } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';

/** A budget that records how the policy uses it, and allows `allow` retries. */
class RecordingBudget implements RetryBudget {
  readonly kind = 'ratio' as const;
  readonly calls: string[] = [];
  readonly times: number[] = [];
  constructor(
    private clock: { now(): number },
    private allow = Number.POSITIVE_INFINITY,
  ) {}
  onRequest(): void {
    this.calls.push('request');
  }
  onSuccess(): void {
    this.calls.push('success');
  }
  onFailure(): void {
    this.calls.push('failure');
  }
  tryRetry(): boolean {
    this.times.push(this.clock.now());
    this.calls.push('retry?');
    if (this.allow <= 0) return false;
    this.allow--;
    return true;
  }
  available(): number {
    return this.allow;
  }
}

describe('retry budget', () => {
  it('is consulted before every retry and never before a first attempt', async () => {
    const clock = new ManualClock();
    const budget = new RecordingBudget(clock);
    const p = policy({ clock, retry: { maxAttempts: 3, budget, backoff: backoff.constant(10) } });
    const t0 = clock.now();
    const fnCalls: string[] = [];
    await clock.settle(
      p.execute(async (ctx) => {
        fnCalls.push(`attempt ${ctx.attempt}`);
        budget.calls.push(`attempt ${ctx.attempt}`);
        throw new Error('x');
      }),
    );
    expect(budget.calls).toEqual([
      'request',
      'attempt 1',
      'failure',
      'retry?',
      'attempt 2',
      'failure',
      'retry?',
      'attempt 3',
      'failure',
    ]);
    // Asked with the time of the decision, right after the failed attempt.
    expect(budget.times).toEqual([t0, t0 + 10]);
  });

  it('a successful first attempt never asks', async () => {
    const budget = new RecordingBudget(Date);
    await policy({ retry: { budget } }).execute(async () => 'ok');
    expect(budget.calls).not.toContain('retry?');
  });

  it('a non-retryable failure never asks, nor counts as a failure (as in gRPC retryThrottling)', async () => {
    const budget = new RecordingBudget(Date);
    await policy({ retry: { budget } })
      .execute(() => Promise.reject(new TypeError('t')))
      .catch(() => {});
    expect(budget.calls).toEqual(['request']);
  });

  it("refusal stops retrying with the last attempt's error and a retry-refused event (budget)", async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const budget = new RecordingBudget(clock, 1);
    const p = policy({
      clock,
      onEvent: log.listener,
      retry: { maxAttempts: 5, budget, backoff: backoff.constant(1) },
    });
    const errors: Error[] = [];
    const settled = await clock.settle(
      p.execute(async (ctx) => {
        const error = new Error(`attempt ${ctx.attempt}`);
        errors.push(error);
        throw error;
      }),
    );
    expect(errors).toHaveLength(2);
    expect(settled).toMatchObject({ status: 'rejected', reason: errors[1] });
    expect(log.of('retry-refused')).toMatchObject([{ reason: 'budget', attempt: 2, error: errors[1] }]);
  });

  it('a real budget shared by two policies caps their retries together', async () => {
    const clock = new ManualClock();
    const shared = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1_000, clock });
    const a = policy({ clock, retry: { budget: shared, maxAttempts: 3, backoff: backoff.constant(1) } });
    const b = policy({ clock, retry: { budget: shared, maxAttempts: 3, backoff: backoff.constant(1) } });
    let n = 0;
    const fail = async (): Promise<never> => {
      n++;
      throw new Error('x');
    };
    const all = Promise.allSettled([a.execute(fail), b.execute(fail)]);
    await clock.runAll();
    await all;
    // Two first attempts plus the single retry the floor allows in the window.
    expect(n).toBe(3);
  });

  it('a token budget (gRPC retryThrottling) hears every outcome and refuses once half empty', async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ maxTokens: 4, tokenRatio: 0.5 });
    const log = new EventLog();
    const p = policy({
      clock,
      onEvent: log.listener,
      retry: { budget, maxAttempts: 10, backoff: backoff.constant(1) },
    });
    let n = 0;
    await clock.settle(
      p.execute(async () => {
        n++;
        throw new Error('x');
      }),
    );
    // 4 tokens; each failure takes one; retries allowed while tokens > 2.
    expect(n).toBe(2);
    expect((budget as unknown as { tokens: number }).tokens).toBe(2);
    expect(log.of('retry-refused')[0]?.reason).toBe('budget');
    await p.execute(async () => 'ok');
    expect((budget as unknown as { tokens: number }).tokens).toBe(2.5);
  });
});
