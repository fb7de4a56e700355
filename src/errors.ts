/**
 * Errors created by breakwater. Every one extends {@link BreakwaterError} and carries a
 * stable `code`, so callers can branch on `error.code` without `instanceof` (which fails
 * when two copies of breakwater are installed side by side).
 *
 * @module
 */

/** The brand that marks breakwater's errors across duplicate installs. */
const BRAND = Symbol.for('breakwater.error');

/** Every `code` a {@link BreakwaterError} may carry. */
export type BreakwaterErrorCode =
  | 'BREAKWATER_CIRCUIT_OPEN'
  | 'BREAKWATER_DEADLINE_EXCEEDED'
  | 'BREAKWATER_ATTEMPT_TIMEOUT'
  | 'BREAKWATER_BULKHEAD_FULL'
  | 'BREAKWATER_INVALID_OPTIONS';

/**
 * Base class of every error breakwater creates.
 *
 * `cause` holds the underlying failure where there is one (for example the last attempt's
 * error when the deadline expired).
 */
export class BreakwaterError extends Error {
  /** Stable, machine-readable code. */
  readonly code: BreakwaterErrorCode;

  constructor(code: BreakwaterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
Object.defineProperty(BreakwaterError.prototype, BRAND, { value: true });
Object.defineProperty(BreakwaterError.prototype, 'name', {
  value: 'BreakwaterError',
  writable: true,
  configurable: true,
});

/**
 * True when `error` was created by breakwater, whichever copy of the package created it.
 *
 * @example
 * ```ts
 * import { circuitBreaker, isBreakwaterError, policy } from 'breakwater';
 * const orders = policy({ circuitBreaker: circuitBreaker() });
 * try {
 *   await orders.execute(work);
 * } catch (error) {
 *   if (isBreakwaterError(error) && error.code === 'BREAKWATER_CIRCUIT_OPEN') serveFromCache();
 *   else throw error;
 * }
 * ```
 */
export function isBreakwaterError(error: unknown): error is BreakwaterError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/**
 * Rejections on hot paths (an open breaker, a full bulkhead) are built without running the
 * Error constructor. While a dependency is down they happen thousands of times a second; a
 * native Error costs about 0.4 µs to construct even with no stack trace captured, and its
 * stack would only show breakwater's internals. Such an object has the class's prototype,
 * so `instanceof`, `name`, `message`, `code` and `cause` behave as usual and `util.inspect`
 * prints it as an error; it is not a native error (`util.types.isNativeError()` is false),
 * and its `message` and `stack` come from accessors on the prototype (see `lightMessage`).
 */
function lightMessage(prototype: object, describe: (error: never) => string): void {
  Object.defineProperty(prototype, 'message', {
    get(this: never) {
      return describe(this);
    },
    set(this: object, value: unknown) {
      Object.defineProperty(this, 'message', { value, writable: true, configurable: true });
    },
    configurable: true,
  });
}

// Only reached by objects built without the Error constructor (native errors own a stack).
Object.defineProperty(BreakwaterError.prototype, 'stack', {
  get(this: BreakwaterError) {
    return `${this.name}: ${this.message}`;
  },
  set(this: object, value: unknown) {
    Object.defineProperty(this, 'stack', { value, writable: true, configurable: true });
  },
  configurable: true,
});

function withCause<E extends object>(error: E, cause: unknown): E {
  if (cause !== undefined) {
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  }
  return error;
}

/**
 * An attempt was refused because the circuit breaker is open (or half-open with all its
 * probes in flight, or isolated). Never retried by the same `execute`.
 */
export class CircuitOpenError extends BreakwaterError {
  /** Milliseconds until the breaker lets a probe through; `Infinity` when isolated. */
  readonly retryAfterMs: number;
  /** The breaker key, for a keyed breaker. */
  readonly key: string | undefined;

  constructor(retryAfterMs: number, key?: string, options?: { cause?: unknown }) {
    super('BREAKWATER_CIRCUIT_OPEN', circuitMessage(key), options);
    this.retryAfterMs = retryAfterMs;
    this.key = key;
  }

  /** @internal Creates the rejection without the Error constructor (hot path; see `lightMessage`). */
  static fast(retryAfterMs: number, key: string | undefined, cause: unknown): CircuitOpenError {
    const error = Object.create(CircuitOpenError.prototype) as {
      -readonly [K in keyof CircuitOpenError]: CircuitOpenError[K];
    };
    error.code = 'BREAKWATER_CIRCUIT_OPEN';
    error.retryAfterMs = retryAfterMs;
    error.key = key;
    return withCause(error, cause);
  }
}
setName(CircuitOpenError, 'CircuitOpenError');
lightMessage(CircuitOpenError.prototype, (e: CircuitOpenError) => circuitMessage(e.key));

function circuitMessage(key: string | undefined): string {
  return key === undefined ? 'Circuit breaker is open' : `Circuit breaker is open for ${key}`;
}

/** The operation's deadline passed. `cause` is the last attempt's error, if there was one. */
export class DeadlineExceededError extends BreakwaterError {
  /** The deadline that passed, in ms since the epoch. */
  readonly deadline: number;

  constructor(deadline: number, options?: { cause?: unknown }) {
    super('BREAKWATER_DEADLINE_EXCEEDED', 'Deadline exceeded', options);
    this.deadline = deadline;
  }
}
setName(DeadlineExceededError, 'DeadlineExceededError');

/**
 * One attempt ran longer than `attemptTimeout`. The attempt's signal is aborted with this
 * error; the attempt counts as a failure and may be retried.
 */
export class AttemptTimeoutError extends BreakwaterError {
  /** The attempt timeout, in ms. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super('BREAKWATER_ATTEMPT_TIMEOUT', `Attempt timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}
setName(AttemptTimeoutError, 'AttemptTimeoutError');

/** The bulkhead was full (and its queue, if any, too). */
export class BulkheadRejectedError extends BreakwaterError {
  readonly maxConcurrent: number;
  readonly maxQueue: number;

  constructor(maxConcurrent: number, maxQueue: number) {
    super('BREAKWATER_BULKHEAD_FULL', `Bulkhead full: ${maxConcurrent} running, ${maxQueue} queued at most`);
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }

  /** @internal Creates the rejection without the Error constructor (hot path; see `lightMessage`). */
  static fast(maxConcurrent: number, maxQueue: number): BulkheadRejectedError {
    const error = Object.create(BulkheadRejectedError.prototype) as {
      -readonly [K in keyof BulkheadRejectedError]: BulkheadRejectedError[K];
    };
    error.code = 'BREAKWATER_BULKHEAD_FULL';
    error.maxConcurrent = maxConcurrent;
    error.maxQueue = maxQueue;
    return error;
  }
}
setName(BulkheadRejectedError, 'BulkheadRejectedError');
lightMessage(BulkheadRejectedError.prototype, (e: BulkheadRejectedError) =>
  bulkheadMessage(e.maxConcurrent, e.maxQueue),
);

function bulkheadMessage(maxConcurrent: number, maxQueue: number): string {
  return `Bulkhead full: ${maxConcurrent} running, ${maxQueue} queued at most`;
}

/**
 * An option passed to a breakwater factory is invalid. Thrown at construction, never
 * during a call. The message names the option, what is allowed and what was given.
 */
export class InvalidOptionsError extends BreakwaterError {
  /** Dotted path of the offending option, e.g. `retry.maxAttempts`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('BREAKWATER_INVALID_OPTIONS', message);
    this.option = option;
  }
}
setName(InvalidOptionsError, 'InvalidOptionsError');

function setName(ctor: { prototype: object }, name: string): void {
  Object.defineProperty(ctor.prototype, 'name', { value: name, writable: true, configurable: true });
}
