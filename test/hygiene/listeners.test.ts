/**
 * Hygiene: 100,000 executions sharing one long-lived caller signal leave no listener of
 * ours on it, whatever way each call ends.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { backoff, bulkhead, circuitBreaker, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

describe('caller signal listeners', () => {
  it('none of ours is left after 100,000 executions sharing one signal', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const { signal } = controller;
    const p = policy({
      clock,
      deadline: 60_000,
      attemptTimeout: 5,
      circuitBreaker: circuitBreaker({ clock, consecutiveFailures: 1_000_000 }),
      bulkhead: bulkhead({ maxConcurrent: 700, maxQueue: 1_000 }),
      retry: { maxAttempts: 2, backoff: backoff.constant(1), budget: false },
    });
    const batch = 1_000;
    let total = 0;
    let peak = 0;
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 100; round++) {
      const calls: Promise<string>[] = [];
      for (let i = 0; i < batch; i++) {
        const kind = i % 5;
        calls.push(
          p.execute(
            (ctx): string | Promise<string> => {
              switch (kind) {
                case 0:
                  return 'ok';
                case 1:
                  return ctx.attempt === 1 ? Promise.reject(new Error('retry me')) : 'ok after retry';
                case 2:
                  throw new TypeError('not retryable');
                case 3:
                  return new Promise<string>(() => {}); // times out twice
                default:
                  return Promise.reject(new Error('always'));
              }
            },
            // Every 7th call also brings a deadline of its own, out of the lane's order.
            i % 7 === 0 ? { signal, deadline: clock.now() + 30_000 - i } : { signal },
          ),
        );
      }
      const settled = Promise.allSettled(calls);
      peak = Math.max(peak, getEventListeners(signal, 'abort').length);
      await clock.runAll();
      for (const r of await settled) {
        const key = r.status === 'fulfilled' ? 'fulfilled' : (r.reason as Error).name;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      total += calls.length;
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    }
    expect(total).toBe(100_000);
    // The calls did listen while they ran (the check above is not vacuous), through one
    // listener shared by all the calls waiting on the signal (src/abort.ts)...
    expect(peak).toBe(1);
    // ...and ended in every way: success, retried, not retryable, timed out, failed, queued.
    expect([...outcomes.keys()].sort()).toEqual(['AttemptTimeoutError', 'Error', 'TypeError', 'fulfilled']);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(clock.pending).toBe(0);
    controller.abort(); // nobody is left to hear it
  }, 90_000); // about 2 s alone; generous for a loaded shared machine
});
