/**
 * The adaptive stages through a policy: an adaptive limit hears every attempt that ran and
 * reports its moves as `limit-changed`; a throttle is asked before every attempt, its
 * rejection is never retried, and it hears what the dependency accepted.
 */
import { describe, expect, it } from 'vitest';
import {
  adaptiveLimit,
  adaptiveThrottle,
  isBreakwaterError,
  policy,
  ThrottledError,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';

describe('adaptive limit through a policy', () => {
  it('learns from attempts: a slow, timing-out dependency brings the limit down', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const limit = adaptiveLimit({ algorithm: 'aimd', initialLimit: 20 });
    const p = policy({ clock, onEvent: log.listener, bulkhead: limit, attemptTimeout: 50, retry: false });
    for (let round = 0; round < 40; round++) {
      const calls = Array.from({ length: 10 }, () =>
        p.execute(() => new Promise<never>(() => {})).catch(() => {}),
      );
      await clock.advance(50);
      await Promise.all(calls);
    }
    expect(limit.maxConcurrent).toBeLessThan(20);
    expect(log.of('limit-changed').length).toBeGreaterThan(0);
    const first = log.of('limit-changed')[0];
    expect(first?.previous).toBe(20);
  });
});

describe('attempt durations an adaptive limit hears', () => {
  it('are the attempts’ own, even when nothing else in the policy reads the clock', async () => {
    const clock = new ManualClock();
    const limit = adaptiveLimit({ algorithm: 'aimd' });
    const durations: number[] = [];
    const sample = limit.sample.bind(limit);
    Object.assign(limit, {
      sample: (s: Parameters<typeof sample>[0]) => {
        durations.push(s.durationMs);
        return sample(s);
      },
    });
    // No deadline, attempt timeout, listener or breaker: only the limit needs the time.
    const p = policy({ clock, bulkhead: limit, retry: false });
    for (let i = 0; i < 3; i++) {
      const call = p.execute(
        () =>
          new Promise<string>((resolve) => {
            clock.setTimeout(() => resolve('ok'), 7);
          }),
      );
      await clock.advance(7);
      await call;
    }
    expect(durations).toEqual([7, 7, 7]);
  });
});

describe('adaptive throttle through a policy', () => {
  it('rejects locally once the dependency accepts little, and never retries the rejection', async () => {
    const clock = new ManualClock();
    const throttle = adaptiveThrottle({ k: 1, minRequests: 1 });
    let calls = 0;
    const p = policy({ clock, throttle, random: () => 0, retry: { maxAttempts: 3, backoff: () => 1 } });
    const failing = async () => {
      calls++;
      throw Object.assign(new Error('unavailable'), { code: 'E' });
    };
    const outcomes: unknown[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await clock.settle(p.execute(failing)));
    const throttled = outcomes.filter(
      (o) => (o as { reason?: unknown }).reason instanceof ThrottledError,
    ) as { reason: ThrottledError }[];
    expect(throttled.length).toBeGreaterThan(0);
    expect(isBreakwaterError(throttled[0]?.reason)).toBe(true);
    expect(throttled[0]?.reason.code).toBe('BREAKWATER_THROTTLED');
    // Every throttled operation stopped at once: fewer calls than 3 per operation.
    expect(calls).toBeLessThan(20 * 3);
  });
});
