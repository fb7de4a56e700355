/**
 * The adaptive limit as an admission stage: the same slots, FIFO queue and cancellation as
 * the fixed bulkhead (mirrors test/bulkhead.test.ts), plus what adapting adds: a limit that
 * moves once per sample window, waiters granted when it rises, no preemption when it falls,
 * the rejection carrying the current limit, and `onLimitChange`.
 *
 * Samples are fed by hand on a made-up clock; 'aimd' is used where a test needs the limit to
 * move predictably (+1 per good window, × 0.9 per window with a drop).
 */
import { types } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isBulkhead } from '../../src/bulkhead.js';
import {
  type AdaptiveLimit,
  adaptiveLimit,
  BreakwaterError,
  BulkheadRejectedError,
  isBreakwaterError,
  type LimitChange,
} from '../../src/index.js';
import { WaitQueue } from '../../src/limit/wait-queue.js';

const T0 = 1_000_000;

/** An 'aimd' limit whose window closes on every sample at least 1 ms after the last. */
function stepping(
  initialLimit: number,
  extra: { maxQueue?: number; minLimit?: number; maxLimit?: number } = {},
) {
  return adaptiveLimit({ algorithm: 'aimd', initialLimit, window: { minMs: 1, minSamples: 1 }, ...extra });
}

/** Feeds one sample ending at `now`; by default a good, fast one with the limit fully used (0.25 ms, so 1 ms windows). */
function feed(
  limit: AdaptiveLimit,
  now: number,
  sample: { durationMs?: number; dropped?: boolean; inFlight?: number } = {},
): void {
  limit.sample({
    durationMs: sample.durationMs ?? 0.25,
    dropped: sample.dropped ?? false,
    inFlight: sample.inFlight ?? limit.limit,
    now,
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('adaptiveLimit: the admission stage', () => {
  it('defaults: vegas, limit 20 within [1, 1000], no queue; a bulkhead to policies', () => {
    const l = adaptiveLimit();
    expect([l.algorithm, l.limit, l.maxConcurrent, l.minLimit, l.maxLimit, l.maxQueue]).toEqual([
      'vegas',
      20,
      20,
      1,
      1_000,
      0,
    ]);
    expect([l.active, l.queued]).toEqual([0, 0]);
    expect(isBulkhead(l)).toBe(true);
    for (const algorithm of ['gradient2', 'aimd'] as const) {
      const other = adaptiveLimit({ algorithm });
      expect([other.algorithm, other.limit, other.minLimit, other.maxLimit]).toEqual([algorithm, 20, 1, 200]);
    }
  });

  it('the initial limit defaults to 20 kept within [minLimit, maxLimit]', () => {
    expect(adaptiveLimit({ maxLimit: 8 }).limit).toBe(8);
    expect(adaptiveLimit({ minLimit: 30 }).limit).toBe(30);
    expect(adaptiveLimit({ algorithm: 'aimd', minLimit: 300 }).maxLimit).toBe(300);
  });

  it('hands out `limit` slots, then refuses; release frees one', () => {
    const l = stepping(2);
    expect(l.tryAcquire()).toBe(true);
    expect(l.tryAcquire()).toBe(true);
    expect(l.tryAcquire()).toBe(false);
    expect(l.active).toBe(2);
    l.release();
    expect(l.active).toBe(1);
    expect(l.tryAcquire()).toBe(true);
  });

  it('with no queue, enqueue refuses', () => {
    const l = stepping(1);
    l.tryAcquire();
    expect(l.enqueue(() => {})).toBeUndefined();
    expect(l.queued).toBe(0);
  });

  it('grants queued waiters in FIFO order as slots free up, and refuses once the queue is full', () => {
    const l = stepping(1, { maxQueue: 3 });
    l.tryAcquire();
    const granted: number[] = [];
    for (let i = 0; i < 3; i++) expect(l.enqueue(() => granted.push(i))).toBeTypeOf('function');
    expect(l.enqueue(() => granted.push(99))).toBeUndefined();
    expect(l.queued).toBe(3);
    l.release();
    expect(granted).toEqual([0]);
    expect([l.active, l.queued]).toEqual([1, 2]);
    l.release();
    l.release();
    expect(granted).toEqual([0, 1, 2]);
    l.release();
    expect([l.active, l.queued]).toEqual([0, 0]);
  });

  it('does not let a newcomer take a free slot ahead of a waiter', () => {
    const l = stepping(1, { maxQueue: 1 });
    l.tryAcquire();
    let granted = false;
    l.enqueue(() => {
      granted = true;
    });
    l.release();
    expect(granted).toBe(true);
    expect(l.tryAcquire()).toBe(false);
  });

  it('a cancelled waiter leaves the queue and is skipped; cancelling twice or after the grant is a no-op', () => {
    const l = stepping(1, { maxQueue: 3 });
    l.tryAcquire();
    const granted: string[] = [];
    const cancelA = l.enqueue(() => granted.push('a'));
    const cancelB = l.enqueue(() => granted.push('b'));
    l.enqueue(() => granted.push('c'));
    cancelA?.();
    cancelA?.();
    expect(l.queued).toBe(2);
    l.release();
    expect(granted).toEqual(['b']);
    cancelB?.();
    expect([l.active, l.queued]).toEqual([1, 1]);
    l.release();
    expect(granted).toEqual(['b', 'c']);
    l.release();
    expect([l.active, l.queued]).toEqual([0, 0]);
  });

  it('keeps FIFO order and exact counts through heavy queue churn', () => {
    const l = stepping(1, { maxQueue: 10_000 });
    l.tryAcquire();
    const granted: number[] = [];
    const cancels: (() => void)[] = [];
    for (let i = 0; i < 5_000; i++) {
      const cancel = l.enqueue(() => granted.push(i));
      if (cancel !== undefined) cancels.push(cancel);
    }
    cancels.forEach((cancel, i) => {
      if (i % 2 === 1) cancel();
    });
    expect(l.queued).toBe(2_500);
    for (let i = 0; i < 1_250; i++) l.release();
    for (let i = 5_000; i < 5_100; i++) l.enqueue(() => granted.push(i));
    while (l.queued > 0) l.release();
    expect(granted).toEqual([
      ...Array.from({ length: 2_500 }, (_, i) => i * 2),
      ...Array.from({ length: 100 }, (_, i) => 5_000 + i),
    ]);
    expect(l.active).toBe(1);
  });

  it('the wait queue stays bounded when waiters behind a head that never moves come and go', () => {
    const q = new WaitQueue();
    q.push(() => {}); // the head: never served, never cancelled
    for (let i = 0; i < 100_000; i++) q.push(() => {})();
    expect(q.size).toBe(1);
    expect(q.slots).toBeLessThan(200);
  });

  it('two users of one limit share its slots', () => {
    const shared = stepping(2);
    const acquire = () => shared.tryAcquire();
    expect([acquire(), acquire(), acquire()]).toEqual([true, true, false]);
    shared.release();
    expect(acquire()).toBe(true);
  });
});

describe('adaptiveLimit: when the limit moves', () => {
  it('a rise grants waiters at once, first come first served', () => {
    const l = stepping(2, { maxQueue: 5 });
    l.tryAcquire();
    l.tryAcquire();
    const granted: number[] = [];
    for (let i = 0; i < 3; i++) l.enqueue(() => granted.push(i));
    feed(l, T0);
    feed(l, T0 + 1); // a good window at full use: +1
    expect(l.limit).toBe(3);
    expect(granted).toEqual([0]);
    expect([l.active, l.queued]).toEqual([3, 2]);
  });

  it('a fall preempts nothing: releases free no slot until the operations fit under it', () => {
    const l = stepping(10, { maxQueue: 5 });
    for (let i = 0; i < 10; i++) l.tryAcquire();
    const granted: number[] = [];
    l.enqueue(() => granted.push(1));
    feed(l, T0);
    feed(l, T0 + 1, { dropped: true }); // × 0.9 → 9
    expect(l.limit).toBe(9);
    expect(l.active).toBe(10);
    l.release(); // 9 running: at the limit, the waiter still waits
    expect(granted).toEqual([]);
    l.release(); // 8 running: one slot under the limit
    expect(granted).toEqual([1]);
    expect(l.active).toBe(9);
    expect(l.tryAcquire()).toBe(false);
  });

  it('maxConcurrent reads the current limit, and the rejection carries it', () => {
    const l = stepping(5, { maxQueue: 2 });
    expect(l.rejection()).toMatchObject({ maxConcurrent: 5, maxQueue: 2 });
    feed(l, T0);
    feed(l, T0 + 1, { dropped: true });
    expect(l.maxConcurrent).toBe(4);
    const error = l.rejection();
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toMatchObject({ code: 'BREAKWATER_BULKHEAD_FULL', maxConcurrent: 4, maxQueue: 2 });
    expect(error.message).toMatch(/^Bulkhead full: \d+ of 4 calls running and \d+ of 2 queue places taken/);
  });

  it('rejects without building a native Error: no captured stack', () => {
    const error = stepping(1).rejection();
    expect(isBreakwaterError(error)).toBe(true);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(types.isNativeError(error)).toBe(false);
    expect(Object.getOwnPropertyNames(error)).not.toContain('stack');
    expect(error.stack).toBe(`BulkheadRejectedError: ${error.message}`);
    expect(error.message).toMatch(/^Bulkhead full: \d+ of 1 call running/);
  });

  it('onLimitChange hears each move once, with previous, limit and the window end', () => {
    const l = stepping(5);
    const changes: LimitChange[] = [];
    l.onLimitChange((change) => changes.push(change));
    feed(l, T0);
    feed(l, T0 + 1);
    feed(l, T0 + 2, { dropped: true });
    expect(changes).toEqual([
      { previous: 5, limit: 6, at: T0 + 1 },
      { previous: 6, limit: 5, at: T0 + 2 },
    ]);
    expect(Object.isFrozen(changes[0])).toBe(true);
  });

  it('is silent when a window leaves the limit where it was', () => {
    const l = stepping(5);
    const listener = vi.fn();
    l.onLimitChange(listener);
    feed(l, T0, { inFlight: 1 });
    feed(l, T0 + 1, { inFlight: 1 }); // app-limited: 1 in flight of 5, no growth
    expect(l.limit).toBe(5);
    expect(listener).not.toHaveBeenCalled();
  });

  it('moves (and reports) at most once per sample window, however many samples it hears', () => {
    const l = adaptiveLimit({ algorithm: 'aimd', initialLimit: 10, window: { minMs: 100, minSamples: 1 } });
    const changes: LimitChange[] = [];
    l.onLimitChange((change) => changes.push(change));
    for (let t = 0; t < 1_000; t += 2) feed(l, T0 + t, { durationMs: 10 });
    // 500 samples over 1 s: windows of 100 ms (twice the 10 ms latency is less than minMs).
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < changes.length; i++) {
      expect((changes[i] as LimitChange).at - (changes[i - 1] as LimitChange).at).toBeGreaterThanOrEqual(100);
    }
  });

  it('a window lasts twice the smallest latency seen in the one before, within [minMs, maxMs]', () => {
    const l = adaptiveLimit({
      algorithm: 'aimd',
      initialLimit: 10,
      window: { minMs: 10, maxMs: 1_000, minSamples: 1 },
    });
    const at: number[] = [];
    l.onLimitChange((change) => at.push(change.at));
    feed(l, T0, { durationMs: 40 }); // the first window: minMs long
    feed(l, T0 + 10, { durationMs: 40 }); // closes it; the next lasts 2 × 40 = 80 ms
    feed(l, T0 + 50, { durationMs: 40 });
    feed(l, T0 + 90, { durationMs: 40 });
    feed(l, T0 + 5_000, { durationMs: 2_000 }); // closes it; the next: 4 s, capped at 1 s
    feed(l, T0 + 5_999, { durationMs: 2_000 });
    feed(l, T0 + 6_000, { durationMs: 2_000 });
    expect(at).toEqual([T0 + 10, T0 + 90, T0 + 5_000, T0 + 6_000]);
  });

  it('a window waits for minSamples samples, however long that takes', () => {
    const l = adaptiveLimit({ algorithm: 'aimd', initialLimit: 10, window: { minMs: 10, minSamples: 3 } });
    const listener = vi.fn();
    l.onLimitChange(listener);
    feed(l, T0);
    feed(l, T0 + 1_000);
    expect(listener).not.toHaveBeenCalled();
    feed(l, T0 + 60_000);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('unsubscribing stops the calls; a throwing listener is reported and the others still hear', () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const l = stepping(5);
    const heard: number[] = [];
    l.onLimitChange(() => {
      throw new Error('listener broke');
    });
    const off = l.onLimitChange((c) => heard.push(c.limit));
    feed(l, T0);
    feed(l, T0 + 1);
    expect(heard).toEqual([6]);
    expect(warning).toHaveBeenCalledTimes(1);
    expect(String(warning.mock.calls[0]?.[0])).toContain('listener broke');
    off();
    feed(l, T0 + 2);
    expect(heard).toEqual([6]);
    expect(l.limit).toBe(7);
  });

  it('never leaves [minLimit, maxLimit]', () => {
    const l = stepping(3, { minLimit: 2, maxLimit: 4 });
    for (let i = 0; i < 10; i++) feed(l, T0 + i);
    expect(l.limit).toBe(4);
    for (let i = 10; i < 20; i++) feed(l, T0 + i, { dropped: true });
    expect(l.limit).toBe(2);
  });
});

describe('adaptiveLimit: sample() returns the change it made', () => {
  it('the change when a window moved the limit, undefined otherwise', () => {
    const l = stepping(5);
    expect(l.sample({ durationMs: 0.25, dropped: false, inFlight: 5, now: T0 })).toBeUndefined();
    expect(l.sample({ durationMs: 0.25, dropped: false, inFlight: 5, now: T0 + 1 })).toEqual({
      previous: 5,
      limit: 6,
      at: T0 + 1,
    });
    expect(l.sample({ durationMs: 0.25, dropped: false, inFlight: 1, now: T0 + 2 })).toBeUndefined();
  });
});
