/** The bulkhead on its own: slots, the FIFO queue, cancellation. */
import { describe, expect, it } from 'vitest';
import { isBulkhead } from '../src/bulkhead.js';
import { BulkheadRejectedError, bulkhead, isBreakwaterError } from '../src/index.js';
import type { WaitQueue } from '../src/limit/wait-queue.js';

describe('bulkhead', () => {
  it('defaults to 100 concurrent and no queue', () => {
    const b = bulkhead();
    expect([b.maxConcurrent, b.maxQueue, b.active, b.queued]).toEqual([100, 0, 0, 0]);
    expect(isBulkhead(b)).toBe(true);
    expect(isBulkhead({})).toBe(false);
    expect(isBulkhead(null)).toBe(false);
  });

  it('hands out maxConcurrent slots, then refuses; release frees one', () => {
    const b = bulkhead({ maxConcurrent: 2 });
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(b.active).toBe(2);
    b.release();
    expect(b.active).toBe(1);
    expect(b.tryAcquire()).toBe(true);
  });

  it('with no queue, enqueue refuses', () => {
    const b = bulkhead({ maxConcurrent: 1 });
    b.tryAcquire();
    expect(b.enqueue(() => {})).toBeUndefined();
    expect(b.queued).toBe(0);
  });

  it('grants queued waiters in FIFO order as slots free up, and refuses once the queue is full', () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    b.tryAcquire();
    const granted: number[] = [];
    for (let i = 0; i < 3; i++) expect(b.enqueue(() => granted.push(i))).toBeTypeOf('function');
    expect(b.enqueue(() => granted.push(99))).toBeUndefined();
    expect(b.queued).toBe(3);
    b.release();
    expect(granted).toEqual([0]);
    expect([b.active, b.queued]).toEqual([1, 2]);
    b.release();
    b.release();
    expect(granted).toEqual([0, 1, 2]);
    b.release();
    expect([b.active, b.queued]).toEqual([0, 0]);
  });

  it('does not let a newcomer take a free slot ahead of a waiter', () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    b.tryAcquire();
    let granted = false;
    b.enqueue(() => {
      granted = true;
    });
    // The slot passes straight to the waiter on release: a newcomer finds none free.
    b.release();
    expect(granted).toBe(true);
    expect(b.tryAcquire()).toBe(false);
  });

  it('a cancelled waiter leaves the queue and is skipped; cancelling twice or after the grant is a no-op', () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    b.tryAcquire();
    const granted: string[] = [];
    const cancelA = b.enqueue(() => granted.push('a'));
    const cancelB = b.enqueue(() => granted.push('b'));
    b.enqueue(() => granted.push('c'));
    cancelA?.();
    cancelA?.();
    expect(b.queued).toBe(2);
    b.release();
    expect(granted).toEqual(['b']);
    cancelB?.(); // after the grant
    expect([b.active, b.queued]).toEqual([1, 1]);
    b.release();
    expect(granted).toEqual(['b', 'c']);
    b.release();
    expect([b.active, b.queued]).toEqual([0, 0]);
  });

  it('keeps FIFO order and exact counts through heavy queue churn', () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 10_000 });
    b.tryAcquire();
    const granted: number[] = [];
    const cancels: (() => void)[] = [];
    for (let i = 0; i < 5_000; i++) {
      const cancel = b.enqueue(() => granted.push(i));
      if (cancel !== undefined) cancels.push(cancel);
    }
    // Cancel every odd waiter, serve half, enqueue more, serve the rest.
    cancels.forEach((cancel, i) => {
      if (i % 2 === 1) cancel();
    });
    expect(b.queued).toBe(2_500);
    for (let i = 0; i < 1_250; i++) b.release();
    for (let i = 5_000; i < 5_100; i++) b.enqueue(() => granted.push(i));
    while (b.queued > 0) b.release();
    const expected = [
      ...Array.from({ length: 2_500 }, (_, i) => i * 2),
      ...Array.from({ length: 100 }, (_, i) => 5_000 + i),
    ];
    expect(granted).toEqual(expected);
    expect(b.active).toBe(1);
  });

  it('stays bounded when waiters cancelled behind a head that is never served come and go', () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    b.tryAcquire();
    const granted: string[] = [];
    b.enqueue(() => granted.push('head')); // never cancelled, served only at the end
    for (let i = 0; i < 100_000; i++) b.enqueue(() => granted.push('gone'))?.();
    expect(b.queued).toBe(1);
    // Internal: the entries the queue still holds (swept cancelled ones included).
    expect((b as unknown as { waiting: WaitQueue }).waiting.slots).toBeLessThan(200);
    b.release();
    expect(granted).toEqual(['head']);
    expect([b.active, b.queued]).toEqual([1, 0]);
  });

  it('builds a BulkheadRejectedError describing its limits', () => {
    const error = bulkhead({ maxConcurrent: 3, maxQueue: 2 }).rejection();
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(isBreakwaterError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'BREAKWATER_BULKHEAD_FULL',
      name: 'BulkheadRejectedError',
      maxConcurrent: 3,
      maxQueue: 2,
      active: 0,
      queued: 0,
    });
    expect(error.message).toMatch(/^Bulkhead full: 0 of 3 calls running and 0 of 2 queue places taken; /);
  });
});
