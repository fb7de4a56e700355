import { describe, expect, it } from 'vitest';
import { backoff, policy } from '../../src/index.js';
import { clampDeadline, retryHorizon, worstCaseDuration } from '../../src/nats/duplicate-window.js';

describe('retry horizon inside the duplicate window', () => {
  it('keeps a margin of a tenth of the window, at most 5 s', () => {
    expect(retryHorizon(120_000)).toBe(115_000);
    expect(retryHorizon(10_000)).toBe(9_000);
    expect(retryHorizon(1_500)).toBe(1_350);
  });

  it('bounds an operation by its attempts and waits, or by its deadline', () => {
    const config = policy({ retry: { maxAttempts: 3, backoff: backoff.constant(100) } }).config;
    // 3 attempts of the client's 5 s timeout and 2 waits of at most 100 ms.
    expect(worstCaseDuration(config, 5_000)).toBe(15_200);
    const timed = policy({ attemptTimeout: 500, retry: { maxAttempts: 4, backoff: backoff.constant(100) } });
    expect(worstCaseDuration(timed.config, 5_000)).toBe(2_300);
    const bounded = policy({ deadline: 1_000, retry: { maxAttempts: 50 } });
    expect(worstCaseDuration(bounded.config, 5_000)).toBe(1_000);
    expect(worstCaseDuration(policy({ retry: false }).config, 5_000)).toBe(0);
  });

  it('leaves the deadline alone when the operation cannot outlast the horizon', () => {
    expect(clampDeadline(1_000, 120_000, 35_000, undefined)).toBeUndefined();
    expect(clampDeadline(1_000, 120_000, 35_000, 5_000)).toBe(5_000);
    // The caller's deadline is what bounds it here.
    expect(clampDeadline(1_000, 120_000, 1_000_000, 61_000)).toBe(61_000);
  });

  it('clamps a deadline that would let retries run past the window', () => {
    expect(clampDeadline(1_000, 120_000, 200_000, undefined)).toBe(116_000);
    expect(clampDeadline(1_000, 120_000, 200_000, 1_000_000)).toBe(116_000);
    expect(clampDeadline(1_000, 1_500, 60_000, undefined)).toBe(2_350);
    expect(clampDeadline(0, 120_000, Number.POSITIVE_INFINITY, undefined)).toBe(115_000);
  });
});
