/**
 * One attempt of an operation: the context handed to the user's function (or to an
 * adapter), the entry its attempt timeout is armed with, and the two ways it reports its
 * end, `succeed` and `fail`. The first report wins; whatever comes after it (a late
 * answer from an attempt that timed out, a loser of a hedge) is ignored.
 *
 * @internal
 * @module
 */
import type { TimerHandle } from '../clock.js';
import type { AttemptContext } from '../types.js';
import type { TimedEntry } from './timers.js';

/** How one attempt ended (the `outcome` of the `attempt-end` event). */
export type AttemptEnd = 'success' | 'failure' | 'timeout' | 'deadline' | 'aborted';

/** What an attempt needs of its operation (implemented by `Operation`). */
export interface AttemptOwner {
  readonly deadline: number | undefined;
  readonly key: string | undefined;
  idempotencyKey(): string | undefined;
  now(): number;
  /** The one place an attempt ends (see `Operation.attemptEnded`). */
  attemptEnded(attempt: Attempt, end: AttemptEnd, error: unknown, value: unknown): void;
}

/**
 * An attempt as its driver sees it: the context, and the report of its end. The handler
 * of an operation calls exactly one of `succeed` or `fail` (later calls are ignored).
 *
 * @internal
 */
export interface AttemptHandle<T = unknown> extends AttemptContext {
  succeed(value: T): void;
  fail(error: unknown): void;
}

export class Attempt implements AttemptHandle, TimedEntry {
  readonly #owner: AttemptOwner;
  readonly attempt: number;
  readonly attemptDeadline: number | undefined;
  readonly startedAt: number;
  /** Breaker permit (≥ 0), or -1 without a breaker. */
  permit = -1;
  /** Set once the attempt's end is booked: later reports are ignored. */
  ended = false;
  #controller: AbortController | undefined = undefined;
  #abortReason: unknown = undefined;
  // TimedEntry (the attempt timeout)
  timerAt = 0;
  timerDone = true;
  ownTimer: TimerHandle | undefined = undefined;

  constructor(owner: AttemptOwner, attempt: number, startedAt: number, attemptDeadline: number | undefined) {
    this.#owner = owner;
    this.attempt = attempt;
    this.startedAt = startedAt;
    this.attemptDeadline = attemptDeadline;
  }

  succeed(value?: unknown): void {
    if (!this.ended) this.#owner.attemptEnded(this, 'success', undefined, value);
  }

  fail(error: unknown): void {
    if (!this.ended) this.#owner.attemptEnded(this, 'failure', error, undefined);
  }

  /** The attempt timeout fired. */
  onTimer(): void {
    if (!this.ended) this.#owner.attemptEnded(this, 'timeout', undefined, undefined);
  }

  /** Created on first read, so an attempt that never reads it pays nothing. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get deadline(): number | undefined {
    return this.#owner.deadline;
  }

  get idempotencyKey(): string | undefined {
    return this.#owner.idempotencyKey();
  }

  get key(): string | undefined {
    return this.#owner.key;
  }

  remaining(): number {
    const deadline = this.#owner.deadline;
    if (deadline === undefined) return Number.POSITIVE_INFINITY;
    return Math.max(deadline - this.#owner.now(), 0);
  }

  /** Whether the attempt's signal was aborted (timeout, deadline, caller, a hedge won). */
  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  /** Aborts the attempt's signal (now, or when it is first read). */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}
