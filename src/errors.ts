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
  | 'BREAKWATER_INVALID_OPTIONS'
  | 'BREAKWATER_NO_STREAM'
  | 'BREAKWATER_THROTTLED';

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
 * const cached = { orders: [] };
 * try {
 *   await orders.execute(async ({ signal }) => (await fetch('http://orders.internal/', { signal })).json());
 * } catch (error) {
 *   if (isBreakwaterError(error) && error.code === 'BREAKWATER_CIRCUIT_OPEN') console.log(cached);
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

/** What a {@link CircuitOpenError} may say about the call it refused. */
export interface CircuitOpenContext {
  /**
   * The error that caused the rejection, if any (e.g. the attempt whose failure opened it).
   * @default none: the error has no `cause`
   */
  cause?: unknown;
  /**
   * The name of the policy whose call was refused.
   * @default undefined (not named in the message)
   */
  policy?: string | undefined;
}

/**
 * An attempt was refused because the circuit breaker is open (or half-open with all its
 * probes in flight, or isolated). Never retried by the same `execute`.
 */
export class CircuitOpenError extends BreakwaterError {
  /**
   * Milliseconds until the breaker lets a probe through: 0 when it is half-open with every
   * probe in flight, `Infinity` when isolated.
   */
  readonly retryAfterMs: number;
  /** The breaker key, for a keyed breaker. */
  readonly key: string | undefined;
  /** The name of the policy whose call was refused, when known. */
  readonly policy: string | undefined;

  constructor(retryAfterMs: number, key?: string, options?: CircuitOpenContext) {
    super('BREAKWATER_CIRCUIT_OPEN', circuitMessage(retryAfterMs, key, options?.policy), options);
    this.retryAfterMs = retryAfterMs;
    this.key = key;
    this.policy = options?.policy;
  }

  /** @internal Creates the rejection without the Error constructor (hot path; see `lightMessage`). */
  static fast(
    retryAfterMs: number,
    key: string | undefined,
    cause: unknown,
    policy?: string | undefined,
  ): CircuitOpenError {
    const error = Object.create(CircuitOpenError.prototype) as {
      -readonly [K in keyof CircuitOpenError]: CircuitOpenError[K];
    };
    error.code = 'BREAKWATER_CIRCUIT_OPEN';
    error.retryAfterMs = retryAfterMs;
    error.key = key;
    error.policy = policy;
    return withCause(error, cause);
  }
}
setName(CircuitOpenError, 'CircuitOpenError');
lightMessage(CircuitOpenError.prototype, (e: CircuitOpenError) =>
  circuitMessage(e.retryAfterMs, e.key, e.policy),
);

function about(key: string | undefined, policy: string | undefined): string {
  const forKey = key === undefined ? '' : ` for ${key}`;
  return policy === undefined ? forKey : `${forKey} (policy ${JSON.stringify(policy)})`;
}

function circuitMessage(retryAfterMs: number, key: string | undefined, policy: string | undefined): string {
  const where = about(key, policy);
  if (retryAfterMs === Number.POSITIVE_INFINITY) {
    return `Circuit breaker is isolated${where}: every call is refused until breaker.reset() is called`;
  }
  if (retryAfterMs > 0) {
    return (
      `Circuit breaker is open${where}: calls are refused for another ${Math.ceil(retryAfterMs)} ms, ` +
      'then a probe is let through; serve a fallback meanwhile, or if the dependency is healthy, ' +
      "check the breaker's isFailure and failureRateThreshold"
    );
  }
  if (retryAfterMs === 0) {
    return (
      `Circuit breaker is half-open${where} with every probe in flight: other calls are rejected, ` +
      'not queued, until a probe settles; retry shortly or serve a fallback (halfOpen.maxProbes allows more probes)'
    );
  }
  return `Circuit breaker is open${where}`;
}

/** What a {@link DeadlineExceededError} may say about the operation that ran out of time. */
export interface DeadlineContext {
  /**
   * The last attempt's error, if any.
   * @default none: the error has no `cause`
   */
  cause?: unknown;
  /**
   * The name of the policy that ran the operation.
   * @default undefined (not named in the message)
   */
  policy?: string | undefined;
  /**
   * Attempts that ran (started) before the deadline passed; 0 when none could start.
   * @default undefined (not known; not in the message)
   */
  attempts?: number | undefined;
  /**
   * Time from the operation's start until it was stopped, in ms.
   * @default undefined (not known; not in the message)
   */
  elapsedMs?: number | undefined;
}

/**
 * The operation's deadline passed. `cause` is the last attempt's error, if there was one.
 * Its message names the policy, the deadline, the time spent and the attempts made, when
 * they are known.
 */
export class DeadlineExceededError extends BreakwaterError {
  /** The deadline that passed, in ms since the epoch. */
  readonly deadline: number;
  /** The name of the policy that ran the operation, when known. */
  readonly policy: string | undefined;
  /** Attempts that ran before the deadline passed, when known; 0 when none could start. */
  readonly attempts: number | undefined;
  /** Time from the operation's start until it was stopped, in ms, when known. */
  readonly elapsedMs: number | undefined;

  constructor(deadline: number, options?: DeadlineContext) {
    super('BREAKWATER_DEADLINE_EXCEEDED', deadlineMessage(deadline, options), options);
    this.deadline = deadline;
    this.policy = options?.policy;
    this.attempts = options?.attempts;
    this.elapsedMs = options?.elapsedMs;
  }
}
setName(DeadlineExceededError, 'DeadlineExceededError');

function deadlineMessage(deadline: number, context: DeadlineContext | undefined): string {
  const policy = context?.policy;
  let text =
    policy === undefined ? 'Deadline exceeded' : `Deadline exceeded for policy ${JSON.stringify(policy)}`;
  if (Number.isFinite(deadline) && Math.abs(deadline) <= 8.64e15) {
    text += `: the deadline ${new Date(deadline).toISOString()} (${deadline} ms since the epoch) passed`;
  } else {
    text += `: the deadline (${deadline}) passed`;
  }
  const elapsed = context?.elapsedMs;
  const attempts = context?.attempts;
  if (elapsed !== undefined) text += ` after ${Math.round(elapsed)} ms`;
  if (attempts !== undefined) {
    text += `${elapsed === undefined ? ' after' : ' and'} ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}`;
  }
  if (attempts === 0) {
    return (
      `${text}; no attempt could start. A per-call deadline is an absolute time in ms since the ` +
      'epoch: pass Date.now() + ms, or give a duration as the per-call timeout'
    );
  }
  return (
    `${text}; give the operation more time (the policy's deadline, or the caller's) or make ` +
    'attempts end sooner (attemptTimeout)'
  );
}

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

/** What a {@link BulkheadRejectedError} may say about the bulkhead that refused the call. */
export interface BulkheadContext {
  /** Operations running when the call was refused. @default maxConcurrent */
  active?: number | undefined;
  /** Operations waiting when the call was refused. @default maxQueue */
  queued?: number | undefined;
  /**
   * The name of the policy whose call was refused.
   * @default undefined (not named in the message)
   */
  policy?: string | undefined;
}

/** The bulkhead was full (and its queue, if any, too). */
export class BulkheadRejectedError extends BreakwaterError {
  /** The bulkhead's limit of operations running at once. */
  readonly maxConcurrent: number;
  /** The bulkhead's limit of operations waiting for a slot. */
  readonly maxQueue: number;
  /** Operations running when the call was refused. */
  readonly active: number;
  /** Operations waiting when the call was refused. */
  readonly queued: number;
  /** The name of the policy whose call was refused, when known. */
  readonly policy: string | undefined;

  constructor(maxConcurrent: number, maxQueue: number, context?: BulkheadContext) {
    const active = context?.active ?? maxConcurrent;
    const queued = context?.queued ?? maxQueue;
    const policy = context?.policy;
    super('BREAKWATER_BULKHEAD_FULL', bulkheadMessage(maxConcurrent, maxQueue, active, queued, policy));
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
    this.active = active;
    this.queued = queued;
    this.policy = policy;
  }

  /** @internal Creates the rejection without the Error constructor (hot path; see `lightMessage`). */
  static fast(
    maxConcurrent: number,
    maxQueue: number,
    active: number = maxConcurrent,
    queued: number = maxQueue,
    policy?: string | undefined,
  ): BulkheadRejectedError {
    const error = Object.create(BulkheadRejectedError.prototype) as {
      -readonly [K in keyof BulkheadRejectedError]: BulkheadRejectedError[K];
    };
    error.code = 'BREAKWATER_BULKHEAD_FULL';
    error.maxConcurrent = maxConcurrent;
    error.maxQueue = maxQueue;
    error.active = active;
    error.queued = queued;
    error.policy = policy;
    return error;
  }
}
setName(BulkheadRejectedError, 'BulkheadRejectedError');
lightMessage(BulkheadRejectedError.prototype, (e: BulkheadRejectedError) =>
  bulkheadMessage(e.maxConcurrent, e.maxQueue, e.active, e.queued, e.policy),
);

function bulkheadMessage(
  maxConcurrent: number,
  maxQueue: number,
  active: number,
  queued: number,
  policy: string | undefined,
): string {
  const calls = maxConcurrent === 1 ? 'call' : 'calls';
  const places = maxQueue === 1 ? 'queue place' : 'queue places';
  return (
    `Bulkhead full${policy === undefined ? '' : ` (policy ${JSON.stringify(policy)})`}: ` +
    `${active} of ${maxConcurrent} ${calls} running and ${queued} of ${maxQueue} ${places} taken; ` +
    'raise maxConcurrent or maxQueue if the dependency can take more, or shed load before it ' +
    'reaches this bulkhead'
  );
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
