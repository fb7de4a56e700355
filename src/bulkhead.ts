/**
 * Bulkhead: caps how many operations run at once against a dependency, so a slow one
 * cannot take every connection, socket or worker of the caller.
 *
 * @module
 */
import { BulkheadRejectedError } from './errors.js';
import { WaitQueue } from './limit/wait-queue.js';
import { num, obj } from './validate.js';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /**
   * Operations allowed to run at once.
   * @default 100
   */
  maxConcurrent?: number | undefined;
  /**
   * Operations allowed to wait for a slot; 0 rejects at once when full. A waiting
   * operation still obeys its deadline and the caller's signal.
   * @default 0
   */
  maxQueue?: number | undefined;
}

/**
 * A bulkhead. Share one object between policies to cap their operations together.
 * A policy takes one slot per operation (retries included) and holds it through backoff
 * waits, so retries never add concurrency.
 */
export interface Bulkhead {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  /** Operations running now. */
  readonly active: number;
  /** Operations waiting now. */
  readonly queued: number;
  /** @internal Takes a slot at once when one is free. */
  tryAcquire(): boolean;
  /**
   * @internal Queues for a slot. Returns a cancel function, or undefined when the queue
   * is full too. `grant` is called once a slot is held.
   */
  enqueue(grant: () => void): (() => void) | undefined;
  /** @internal Gives a slot back. */
  release(): void;
  /**
   * @internal The rejection for a full bulkhead, with the slots and queue places taken now;
   * `context.policy` names the policy in the error.
   */
  rejection(context?: { readonly policy?: string | undefined }): BulkheadRejectedError;
}

class Semaphore implements Bulkhead {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  active = 0;
  /**
   * @internal The waiters, FIFO (the adaptive limit's queue): waiters cancelled behind a
   * head that is never served are swept, so memory stays bounded by `maxQueue`.
   */
  readonly waiting = new WaitQueue();

  constructor(maxConcurrent: number, maxQueue: number) {
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }

  get queued(): number {
    return this.waiting.size;
  }

  tryAcquire(): boolean {
    if (this.active < this.maxConcurrent && this.waiting.size === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  enqueue(grant: () => void): (() => void) | undefined {
    if (this.waiting.size >= this.maxQueue) return undefined;
    return this.waiting.push(grant);
  }

  release(): void {
    this.active--;
    const grant = this.waiting.shift();
    if (grant === undefined) return;
    this.active++;
    grant();
  }

  rejection(context?: { readonly policy?: string | undefined }): BulkheadRejectedError {
    return BulkheadRejectedError.fast(
      this.maxConcurrent,
      this.maxQueue,
      this.active,
      this.waiting.size,
      context?.policy,
    );
  }
}

/**
 * Creates a bulkhead.
 *
 * @example
 * ```ts
 * import { bulkhead, policy } from 'breakwater';
 * const loyalty = policy({ bulkhead: bulkhead({ maxConcurrent: 20, maxQueue: 10 }) });
 * ```
 */
export function bulkhead(options: BulkheadOptions = {}): Bulkhead {
  const o = obj<BulkheadOptions>('bulkhead', options, ['maxConcurrent', 'maxQueue']);
  const maxConcurrent = num('bulkhead.maxConcurrent', o?.maxConcurrent, 100, {
    min: 1,
    max: 1_000_000_000,
    integer: true,
  });
  const maxQueue = num('bulkhead.maxQueue', o?.maxQueue, 0, { min: 0, max: 1_000_000_000, integer: true });
  return new Semaphore(maxConcurrent, maxQueue);
}

/** True when `value` is a {@link Bulkhead}. */
export function isBulkhead(value: unknown): value is Bulkhead {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Bulkhead).tryAcquire === 'function' &&
    typeof (value as Bulkhead).enqueue === 'function'
  );
}
