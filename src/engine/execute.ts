/**
 * `execute`: an operation that is its own handler, running the user's function on every
 * attempt and settling one promise. The thin promise wrapper over the engine.
 *
 * @internal
 * @module
 */
import type { ExecuteOptions, PolicyRuntime } from '../types.js';
import type { AttemptHandle } from './attempt.js';
import { isThenable, type OperationHandler } from './handler.js';
import { Operation } from './operation.js';
import type { OperationObserver } from './stages.js';

export class ExecuteOperation<T> extends Operation<T> implements OperationHandler<T> {
  readonly promise: Promise<T>;
  private readonly fn: (attempt: AttemptHandle<T>) => T | PromiseLike<T>;
  private resolveWith!: (value: T) => void;
  private rejectWith!: (reason: unknown) => void;
  /** While `execute` has not returned the promise yet (see `failed`). */
  sync = true;

  constructor(
    policy: PolicyRuntime,
    fn: (attempt: AttemptHandle<T>) => T | PromiseLike<T>,
    options: ExecuteOptions | undefined,
    observer: OperationObserver | undefined,
  ) {
    super(policy, undefined, options, observer);
    this.fn = fn;
    // The settle functions go straight into this young object: kept in module state (old
    // space), each store would cost a write barrier's slow path on every call.
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveWith = resolve;
      this.rejectWith = reject;
    });
  }

  startAttempt(attempt: AttemptHandle<T>): void {
    const result = this.fn(attempt);
    if (isThenable(result)) {
      result.then(
        (value) => attempt.succeed(value),
        (error: unknown) => attempt.fail(error),
      );
    } else {
      attempt.succeed(result);
    }
  }

  succeeded(value: T): void {
    this.resolveWith(value);
  }

  failed(error: unknown): void {
    // Rejected before the caller could attach a handler: on the next microtask instead,
    // which spares Node's unhandled-rejection bookkeeping (it costs more than the rest of
    // a fast rejection).
    if (this.sync) queueMicrotask(() => this.rejectWith(error));
    else this.rejectWith(error);
  }
}
