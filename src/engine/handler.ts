/**
 * The operation handler: the one interface through which an operation is driven, by
 * `execute` (a thin promise wrapper, `ExecuteOperation` in execute.ts) and by the transport adapters
 * (a gRPC call, an HTTP request), which implement it themselves so that a call needs no
 * promise or closure of its own.
 *
 * @internal
 * @module
 */
import type { AttemptContext, ExecuteOptions, Policy } from '../types.js';
import type { AttemptHandle } from './attempt.js';
import type { OperationAttributes, OperationObserver } from './stages.js';

/**
 * What drives an operation. The engine calls `startAttempt` for every attempt and exactly
 * one of `succeeded` or `failed` once the operation is over, after it has booked
 * everything (breaker, budget, timers, bulkhead slot).
 *
 * @internal
 */
export interface OperationHandler<T> {
  /**
   * Starts an attempt. It ends with exactly one call of `attempt.succeed(value)` or
   * `attempt.fail(error)`, now or later (the first wins); a throw fails it. The engine
   * may end it first (its timeout, the deadline, the caller's abort, a hedge that won):
   * then `attempt.signal` aborts, and whatever the handler reports later is ignored.
   */
  startAttempt(attempt: AttemptHandle<T>): void;
  /** The operation succeeded with `value`. */
  succeeded(value: T): void;
  /** The operation failed: `execute` would reject with `error`. */
  failed(error: unknown): void;
  /** Low-cardinality attributes for observers (telemetry), if any. */
  readonly attributes?: OperationAttributes | undefined;
  /**
   * Optional: hears the operation's observer (telemetry) before the first attempt starts,
   * when one records, so an adapter can open a span per attempt it sends
   * (`OperationObserver.clientAttempt`). Not called without one.
   */
  observed?(observer: OperationObserver): void;
}

/**
 * Drives `handler` through a policy of another copy of breakwater (a duplicate install):
 * through its public `execute`, with one promise per attempt.
 */
export function runForeign<T>(policy: Policy, handler: OperationHandler<T>, options?: ExecuteOptions): void {
  const retryOn = options?.retryOn;
  // The other copy may call retryOn as a plain function: bind it to the options.
  const plain: ExecuteOptions | undefined =
    options === undefined || retryOn === undefined
      ? options
      : { ...options, retryOn: (error, context) => retryOn.call(options, error, context) };
  policy
    .execute(
      (context) =>
        new Promise<T>((resolve, reject) => {
          const attempt = new ForeignAttempt<T>(context, resolve, reject);
          handler.startAttempt(attempt);
        }),
      plain,
    )
    .then(
      (value) => handler.succeeded(value),
      (error: unknown) => handler.failed(error),
    );
}

/** An attempt of another copy's policy, as a handler sees it. */
class ForeignAttempt<T> implements AttemptHandle<T> {
  readonly #context: AttemptContext;
  readonly succeed: (value: T) => void;
  readonly fail: (error: unknown) => void;

  constructor(context: AttemptContext, succeed: (value: T) => void, fail: (error: unknown) => void) {
    this.#context = context;
    this.succeed = succeed;
    this.fail = fail;
  }

  get attempt(): number {
    return this.#context.attempt;
  }
  get signal(): AbortSignal {
    return this.#context.signal;
  }
  get deadline(): number | undefined {
    return this.#context.deadline;
  }
  get attemptDeadline(): number | undefined {
    return this.#context.attemptDeadline;
  }
  get idempotencyKey(): string | undefined {
    return this.#context.idempotencyKey;
  }
  get key(): string | undefined {
    return this.#context.key;
  }
  remaining(): number {
    return this.#context.remaining();
  }
}

/**
 * A promise rejected on the next microtask rather than at once (see `PromiseHandler.failed`).
 */
export function rejectSoon<T>(error: unknown): Promise<T> {
  return new Promise<T>((_, reject) => {
    queueMicrotask(() => reject(error));
  });
}

/** Whether `value` is a thenable (as `Promise.resolve` decides). */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
