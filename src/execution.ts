/**
 * The per-call state machine behind `Policy.execute`. A policy stays immutable; all the
 * mutable state of one operation (attempt number, timers, the breaker permit, the last
 * error) lives here and is released when the operation settles.
 *
 * The happy path is one async function awaiting the user's promise. Only when something
 * can interrupt an attempt from outside (a deadline, an attempt timeout, a caller's
 * signal) is the attempt's promise wrapped in a promise that timers can reject.
 *
 * @internal
 * @module
 */
import { type AbortSubscriber, LightSignal, subscribeAbort, unsubscribeAbort } from './abort.js';
import type { CircuitBreaker, CircuitState } from './breaker/circuit-breaker.js';
import type { LaneEntry } from './deadline.js';
import { AttemptTimeoutError, DeadlineExceededError, InvalidOptionsError } from './errors.js';
import type { AttemptOutcome, RetryRefusedReason } from './events.js';
import { isRetryableByDefault } from './retry/classify.js';
import type { AttemptContext, ExecuteOptions, PolicyRuntime, RetryOn } from './types.js';

const DEFAULT_KEY = 'default';
/** setTimeout's longest delay. */
const MAX_TIMER = 2_147_483_647;

/** One attempt: the context handed to the user's function, and an attempt-timeout entry. */
class Attempt implements AttemptContext, LaneEntry, AbortSubscriber {
  /** The operation; undefined while a lean first attempt runs (see {@link executeLean}). */
  #exec: Execution<unknown> | undefined;
  /** A lean first attempt's policy and options, until an Execution adopts it. */
  #lean: PolicyRuntime | undefined = undefined;
  #leanOptions: ExecuteOptions | undefined = undefined;
  /** The idempotency key a lean first attempt generated (the Execution adopts it). */
  leanKey: string | undefined = undefined;
  /** An owned lean first attempt's operation (see {@link executeOwned}), until it ends. */
  #owner: OwnedOperation<unknown> | undefined = undefined;
  /** An owned attempt on the general path: the promise the execution awaits. */
  #resolveOwned: ((value: unknown) => void) | undefined = undefined;
  #rejectOwned: ((reason: unknown) => void) | undefined = undefined;
  /** A lean first attempt's operation deadline (the policy's), which no timer watches yet. */
  leanDeadline: number | undefined = undefined;
  readonly attempt: number;
  readonly attemptDeadline: number | undefined;
  #controller: AbortController | undefined = undefined;
  #abortReason: unknown = undefined;
  /** Rejects the promise the execution awaits for this attempt (when it races). */
  reject: ((reason: unknown) => void) | undefined = undefined;
  /** Set when the attempt timeout fired. */
  timedOut = false;
  /** Breaker permit (≥ 0), or -1 without a breaker. */
  permit = -1;
  startedAt: number;
  /** A timer of its own when the attempt could not join the policy's lane. */
  ownTimer: unknown = undefined;
  // LaneEntry
  timerAt = 0;
  timerDone = true;

  constructor(
    exec: Execution<unknown> | undefined,
    attempt: number,
    startedAt: number,
    attemptDeadline: number | undefined,
  ) {
    this.#exec = exec;
    this.attempt = attempt;
    this.startedAt = startedAt;
    this.attemptDeadline = attemptDeadline;
  }

  /**
   * A lean first attempt: answers from the policy and options until `adopt`. An owned one
   * (see {@link executeOwned}) reports to `owner`.
   */
  static lean(
    policy: PolicyRuntime,
    options: ExecuteOptions | undefined,
    startedAt: number,
    attemptDeadline: number | undefined,
    owner: OwnedOperation<unknown> | undefined,
  ): Attempt {
    const attempt = new Attempt(undefined, 1, startedAt, attemptDeadline);
    attempt.#lean = policy;
    attempt.#leanOptions = options;
    attempt.#owner = owner;
    return attempt;
  }

  /** An owned attempt on the general path settles the promise `execute` awaits. */
  static bindOwned(
    attempt: Attempt,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ): void {
    attempt.#resolveOwned = resolve;
    attempt.#rejectOwned = reject;
  }

  /**
   * Reports an owned attempt's success (see {@link attemptSucceeded}). The first report
   * wins: it clears what a later one would reach.
   */
  static succeeded(attempt: Attempt, value: unknown): void {
    const owner = attempt.#owner;
    if (owner !== undefined) {
      attempt.#owner = undefined;
      bookLeanSuccess(attempt.#lean as PolicyRuntime, attempt);
      owner.succeeded(value);
      return;
    }
    const resolve = attempt.#resolveOwned;
    attempt.#resolveOwned = undefined;
    attempt.#rejectOwned = undefined;
    resolve?.(value);
  }

  /** Reports an owned attempt's failure (see {@link attemptFailed}). */
  static failed(attempt: Attempt, error: unknown): void {
    const owner = attempt.#owner;
    if (owner !== undefined) {
      // A lean first attempt failed: an Execution takes the operation over from here.
      attempt.#owner = undefined;
      const policy = attempt.#lean as PolicyRuntime;
      const options = attempt.#leanOptions;
      settleOwned(new Execution(policy, ownedAttempts(owner), options).resume(attempt, error), owner);
      return;
    }
    const reject = attempt.#rejectOwned;
    attempt.#resolveOwned = undefined;
    attempt.#rejectOwned = undefined;
    reject?.(error);
  }

  /** Whether an owned attempt has yet to report its end. */
  static unreported(attempt: Attempt): boolean {
    return attempt.#owner !== undefined || attempt.#rejectOwned !== undefined;
  }

  /** The operation of a lean first attempt that failed takes it over. */
  adopt(exec: Execution<unknown>): void {
    this.#exec = exec;
    this.#lean = undefined;
    this.#leanOptions = undefined;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get deadline(): number | undefined {
    const exec = this.#exec;
    return exec !== undefined ? exec.deadline : this.leanDeadline;
  }

  get idempotencyKey(): string | undefined {
    const exec = this.#exec;
    if (exec !== undefined) return exec.idempotencyKey();
    const own = this.#leanOptions?.idempotencyKey;
    if (own !== undefined) return own;
    const generate = this.#lean?.config.generateKey;
    if (generate === undefined) return undefined;
    this.leanKey ??= generate();
    return this.leanKey;
  }

  get key(): string | undefined {
    const exec = this.#exec;
    return exec !== undefined ? exec.key : this.#leanOptions?.key;
  }

  remaining(): number {
    const exec = this.#exec;
    const deadline = exec !== undefined ? exec.deadline : this.leanDeadline;
    if (deadline === undefined) return Number.POSITIVE_INFINITY;
    const now = exec !== undefined ? exec.now() : (this.#lean as PolicyRuntime).config.clock.now();
    return Math.max(deadline - now, 0);
  }

  /** Whether the attempt was aborted (timeout, deadline or caller). */
  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  get abortReason(): unknown {
    return this.#abortReason;
  }

  /** Aborts the attempt's signal (now, or when it is first read). */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** Arms the attempt timeout: in the policy's lane, or on a timer of its own out of order. */
  armTimeout(policy: PolicyRuntime, now: number, timeout: number): void {
    this.timerAt = now + timeout;
    if (policy.attemptLane.add(this)) return;
    // Out of order (the clock stepped back): a timer of its own.
    this.timerDone = false;
    this.ownTimer = policy.config.clock.setTimeout(() => {
      if (!this.timerDone) {
        this.timerDone = true;
        this.onTimer();
      }
    }, timeout);
  }

  /** Releases the attempt timeout, if it is still armed. */
  disarmTimeout(policy: PolicyRuntime): void {
    if (this.timerDone) return;
    if (this.ownTimer !== undefined) {
      this.timerDone = true;
      policy.config.clock.clearTimeout(this.ownTimer);
    } else {
      policy.attemptLane.remove(this);
    }
  }

  /** A lean first attempt hears its caller's signal (src/abort.ts) until it settles. */
  onCallerAbort(): void {
    this.reject?.(CALLER_ABORT);
  }

  /** The attempt timeout fired. */
  onTimer(): void {
    const exec = this.#exec;
    if (exec !== undefined) {
      exec.attemptTimedOut(this);
      return;
    }
    // A lean first attempt: its failure hands the operation over to an Execution.
    const reject = this.reject;
    const owned = this.#owner !== undefined;
    if (reject === undefined && !owned) return;
    const error = new AttemptTimeoutError((this.#lean as PolicyRuntime).config.attemptTimeout ?? 0);
    this.timedOut = true;
    this.abort(error);
    if (owned) Attempt.failed(this, error);
    else reject?.(error);
  }
}

/** What a lean first attempt's `reject` is called with when the caller's signal aborts. */
const CALLER_ABORT: unique symbol = Symbol('caller abort');

/** Why the operation stopped from outside an attempt (deadline or caller abort). */
interface Stop {
  readonly error: unknown;
}

/** Marks an operation that is over, so late timers and aborts do nothing. */
const SETTLED: Stop = Object.freeze({ error: undefined });

/**
 * A promise rejected on the next microtask rather than at once: by then the caller has
 * attached its handler, which spares Node's unhandled-rejection bookkeeping (it costs more
 * than the rest of a fast rejection).
 */
export function rejectSoon<T>(error: unknown): Promise<T> {
  return new Promise<T>((_, reject) => {
    queueMicrotask(() => reject(error));
  });
}

/**
 * The lean path of `execute`, for a policy with no bulkhead, keyed breaker or listener, and
 * no deadline that could stop a first attempt before its attempt timeout does, and a call
 * with no deadline of its own: the first attempt runs without an {@link Execution}, which is
 * made only if the attempt fails (or times out, or the caller aborts), and takes over from
 * there. The caller has checked that the options are valid and that the breaker, if any, is
 * closed.
 *
 * @internal
 */
export function executeLean<T>(
  policy: PolicyRuntime,
  fn: (context: AttemptContext) => T | PromiseLike<T>,
  options: ExecuteOptions | undefined,
): Promise<T> {
  const cfg = policy.config;
  const signal = options?.signal;
  // An aborted signal rejects before anything starts: the general path does that.
  if (signal?.aborted) return new Execution<T>(policy, fn, options).start();
  const attempt = startLean(policy, options, undefined);
  if (attempt === undefined) return new Execution<T>(policy, fn, options).start();
  // An adapter's own signal needs no race: its owner fails the attempt in flight when it
  // aborts (see LightSignal), and `resume` finds the signal aborted.
  if (cfg.attemptTimeout !== undefined || (signal !== undefined && !(signal instanceof LightSignal))) {
    return raceLean(policy, fn, options, attempt, signal);
  }
  let result: T | PromiseLike<T>;
  try {
    result = fn(attempt);
  } catch (error) {
    return new Execution<T>(policy, fn, options).resume(attempt, error);
  }
  const onFailure = (error: unknown): Promise<T> =>
    new Execution<T>(policy, fn, options).resume(attempt, error);
  if (cfg.breaker === undefined && cfg.budget?.kind !== 'tokens') {
    return Promise.resolve(result).then(undefined, onFailure);
  }
  return Promise.resolve(result).then((value) => {
    bookLeanSuccess(policy, attempt);
    return value;
  }, onFailure);
}

/**
 * A lean first attempt that something can stop from outside: its attempt timeout (shorter
 * than the policy's deadline, if any, so the deadline cannot come first) or the caller's
 * signal. The attempt races them alone; the deadline is armed, and the {@link Execution}
 * made, only if the attempt fails, times out or is aborted.
 */
function raceLean<T>(
  policy: PolicyRuntime,
  fn: (context: AttemptContext) => T | PromiseLike<T>,
  options: ExecuteOptions | undefined,
  attempt: Attempt,
  signal: AbortSignal | undefined,
): Promise<T> {
  armLean(policy, attempt);
  // The result, the timeout or the caller's abort (both through attempt.reject), whichever
  // comes first, settles it.
  const promise = new Promise<T>(captureResolve);
  const resolve = captured as (value: T | PromiseLike<T>) => void;
  captured = undefined;
  const failed = (error: unknown): void => {
    if (attempt.reject !== failed) return;
    attempt.reject = undefined;
    const exec = new Execution<T>(policy, fn, options);
    if (error === CALLER_ABORT) {
      resolve(exec.resumeAborted(attempt));
    } else {
      if (signal !== undefined) unsubscribeAbort(signal, attempt);
      resolve(exec.resume(attempt, error));
    }
  };
  attempt.reject = failed;
  const succeeded = (value: T): void => {
    if (attempt.reject !== failed) return; // stopped first, and handed over
    attempt.reject = undefined;
    if (signal !== undefined) unsubscribeAbort(signal, attempt);
    bookLeanSuccess(policy, attempt);
    resolve(value);
  };
  if (signal !== undefined) subscribeAbort(signal, attempt);
  let result: T | PromiseLike<T>;
  try {
    result = fn(attempt);
  } catch (error) {
    failed(error);
    return promise;
  }
  if (isThenable(result)) result.then(succeeded, failed);
  else succeeded(result);
  return promise;
}

/**
 * Starts a lean first attempt: reads the time if anything needs it, takes the breaker's
 * permit and counts the request in the budget. Undefined when the breaker refuses (the
 * general path then reports it).
 */
function startLean(
  policy: PolicyRuntime,
  options: ExecuteOptions | undefined,
  owner: OwnedOperation<unknown> | undefined,
): Attempt | undefined {
  const cfg = policy.config;
  const breaker = cfg.breaker;
  const timeout = cfg.attemptTimeout;
  const now = timeout !== undefined || breaker?.measuresDuration === true ? cfg.clock.now() : 0;
  let permit = -1;
  if (breaker !== undefined) {
    permit = breaker.acquire();
    if (permit < 0) return undefined;
  }
  cfg.budget?.onRequest();
  const attempt = Attempt.lean(
    policy,
    options,
    now,
    timeout === undefined ? undefined : now + timeout,
    owner,
  );
  attempt.permit = permit;
  return attempt;
}

/**
 * Arms a lean first attempt's timeout. The policy's deadline (later than the timeout, or
 * the lean path would not run) is only noted: an Execution arms it if the attempt fails.
 */
function armLean(policy: PolicyRuntime, attempt: Attempt): void {
  const cfg = policy.config;
  if (cfg.deadline !== undefined) attempt.leanDeadline = attempt.startedAt + cfg.deadline;
  const timeout = cfg.attemptTimeout;
  if (timeout !== undefined) attempt.armTimeout(policy, attempt.startedAt, timeout);
}

/** Books a lean first attempt that succeeded: its timer, the breaker, the budget. */
function bookLeanSuccess(policy: PolicyRuntime, attempt: Attempt): void {
  const cfg = policy.config;
  attempt.disarmTimeout(policy);
  const breaker = cfg.breaker;
  if (breaker !== undefined) {
    const end = breaker.measuresDuration ? cfg.clock.now() : attempt.startedAt;
    breaker.record(attempt.permit, undefined, false, end - attempt.startedAt);
  }
  cfg.budget?.onSuccess();
}

/**
 * @internal An operation run with callbacks instead of promises: how the transport
 * adapters run their calls. On an adapter's success path every promise and closure lives
 * as long as the call (milliseconds, across garbage collections) and costs more there
 * than its allocation; with this protocol a lean first attempt that succeeds makes
 * neither. A failed first attempt, and every other path, runs through an
 * {@link Execution} as `execute` does, with the same semantics.
 */
export interface OwnedOperation<T> {
  /**
   * Starts an attempt. It ends with exactly one call of {@link attemptSucceeded} or
   * {@link attemptFailed} with `context` (later ones are ignored); throwing fails it.
   */
  startAttempt(context: AttemptContext): void;
  /** The operation succeeded, booked already (breaker, budget, timers). */
  succeeded(value: T): void;
  /** The operation failed: `execute` would have rejected with `error`. */
  failed(error: unknown): void;
}

/**
 * Settlers of owned attempts run by a policy of another copy of this module (see
 * {@link ownedAttempts}); our own attempts carry theirs.
 */
const foreignAttempts = new WeakMap<object, [(value: unknown) => void, (reason: unknown) => void]>();

/** @internal Reports that the owned attempt `context` succeeded with `value`. */
export function attemptSucceeded(context: AttemptContext, value?: unknown): void {
  if (context instanceof Attempt) {
    Attempt.succeeded(context, value);
    return;
  }
  settleForeign(context, 0, value);
}

/** @internal Reports that the owned attempt `context` failed with `error`. */
export function attemptFailed(context: AttemptContext, error: unknown): void {
  if (context instanceof Attempt) {
    Attempt.failed(context, error);
    return;
  }
  settleForeign(context, 1, error);
}

/** Settles another copy's attempt: `which` 0 resolves, 1 rejects; the first report wins. */
function settleForeign(context: AttemptContext, which: 0 | 1, value: unknown): void {
  const settlers = foreignAttempts.get(context);
  foreignAttempts.delete(context);
  settlers?.[which](value);
}

/** `execute`'s function for an owned operation: each attempt's promise settles on its report. */
export function ownedAttempts<T>(owner: OwnedOperation<T>): (context: AttemptContext) => Promise<T> {
  return (context) => {
    let resolve: (value: unknown) => void = noop;
    let reject: (reason: unknown) => void = noop;
    const promise = new Promise<T>((res, rej) => {
      resolve = res as (value: unknown) => void;
      reject = rej;
    });
    if (context instanceof Attempt) Attempt.bindOwned(context, resolve, reject);
    else foreignAttempts.set(context, [resolve, reject]);
    // Inside `execute` a rethrow would count as the attempt's failure: report it instead.
    startOwned(owner, context, throwUncaught);
    return promise;
  };
}

const noop = (): void => {};

/**
 * Starts an owned attempt. A throw fails the attempt, unless the attempt had reported
 * already (the throw came from code its report called back): then it is not the attempt's
 * failure, and not ours to swallow, so it goes to `late`.
 */
function startOwned<T>(
  owner: OwnedOperation<T>,
  context: AttemptContext,
  late: (error: unknown) => void,
): void {
  try {
    owner.startAttempt(context);
  } catch (error) {
    const unreported =
      context instanceof Attempt ? Attempt.unreported(context) : foreignAttempts.has(context);
    if (unreported) attemptFailed(context, error);
    else late(error);
  }
}

function rethrow(error: unknown): never {
  throw error;
}

function throwUncaught(error: unknown): void {
  queueMicrotask(() => rethrow(error));
}

/** Hands an operation's outcome to its owner. */
export function settleOwned<T>(outcome: Promise<T>, owner: OwnedOperation<T>): void {
  outcome.then(
    (value) => owner.succeeded(value),
    (error: unknown) => owner.failed(error),
  );
}

/**
 * The lean path for an owned operation (see {@link OwnedOperation}), under the
 * conditions of {@link executeLean}, with no signal but an adapter's own
 * {@link LightSignal} (which fails the attempt in flight when it aborts). The caller has
 * checked them. An attempt timeout needs no race either: its timer reports the attempt's
 * failure as the owner would, and the owner's own later report is ignored.
 *
 * @internal
 */
export function executeOwned<T>(
  policy: PolicyRuntime,
  owner: OwnedOperation<T>,
  options: ExecuteOptions | undefined,
): void {
  const attempt = startLean(policy, options, owner as OwnedOperation<unknown>);
  if (attempt === undefined) {
    settleOwned(new Execution<T>(policy, ownedAttempts(owner), options).start(), owner);
    return;
  }
  armLean(policy, attempt);
  // Called by the adapter: a late throw goes back to it.
  startOwned(owner, attempt, rethrow);
}

/**
 * `new Promise(captureResolve)` hands its resolve function over in `captured`, read at
 * once: no executor closure per promise.
 */
let captured: ((value: never) => void) | undefined;
function captureResolve(resolve: (value: never) => void): void {
  captured = resolve;
}

/** @internal */
export class Execution<T> implements LaneEntry, AbortSubscriber {
  readonly #policy: PolicyRuntime;
  readonly #fn: (context: AttemptContext) => T | PromiseLike<T>;
  readonly #options: ExecuteOptions | undefined;
  readonly key: string | undefined;
  deadline: number | undefined;
  #startedAt = 0;
  #attempts = 0;
  #breaker: CircuitBreaker | undefined = undefined;
  #current: Attempt | undefined = undefined;
  #stop: Stop | undefined = undefined;
  /** Rejects whatever the execution is waiting on between attempts (backoff, bulkhead queue). */
  #interruptWait: ((reason: unknown) => void) | undefined = undefined;
  #waitTimer: unknown = undefined;
  #ownDeadlineTimer: unknown = undefined;
  /** Whether the call listens to the caller's signal (through src/abort.ts). */
  #subscribed = false;
  #generatedKey: string | undefined = undefined;
  /** Whether the operation holds a bulkhead slot (taken in start(), or after queueing). */
  #holdsBulkhead = false;
  /** The last failed attempt's error (the cause of a later deadline), once `#failed`. */
  #lastError: unknown = undefined;
  #failed = false;
  /** A lean first attempt handed over a deadline that no timer watches yet (see #adopt). */
  #deadlineDeferred = false;
  // LaneEntry (the deadline)
  timerAt = 0;
  timerDone = true;

  constructor(
    policy: PolicyRuntime,
    fn: (context: AttemptContext) => T | PromiseLike<T>,
    options: ExecuteOptions | undefined,
  ) {
    this.#policy = policy;
    this.#fn = fn;
    this.#options = options;
    this.key = options?.key;
    this.deadline = options?.deadline;
  }

  now(): number {
    return this.#policy.config.clock.now();
  }

  idempotencyKey(): string | undefined {
    const own = this.#options?.idempotencyKey;
    if (own !== undefined) return own;
    const generate = this.#policy.config.generateKey;
    if (generate === undefined) return undefined;
    this.#generatedKey ??= generate();
    return this.#generatedKey;
  }

  /** Takes over a lean first attempt (see {@link executeLean}) that failed with `error`. */
  resume(attempt: Attempt, error: unknown): Promise<T> {
    const signal = this.#options?.signal;
    // A lean attempt that did not race its signal (an adapter's LightSignal) failed because
    // the caller aborted: book it as aborted, as a race would have.
    if (signal?.aborted === true) return this.resumeAborted(attempt);
    this.#adopt(attempt);
    if (signal !== undefined) {
      subscribeAbort(signal, this);
      this.#subscribed = true;
    }
    return this.#run(attempt, error);
  }

  /** The state a lean first attempt leaves behind, as the general path would have it. */
  #adopt(attempt: Attempt): void {
    this.#breaker = this.#policy.config.breaker;
    this.#startedAt = attempt.startedAt;
    const deadline = attempt.leanDeadline;
    if (deadline !== undefined) {
      // #run arms it: the first attempt's timeout no longer stands in for it.
      this.deadline = deadline;
      this.#deadlineDeferred = true;
    }
    this.#attempts = 1;
    this.#current = attempt;
    this.#generatedKey = attempt.leanKey;
    attempt.adopt(this as Execution<unknown>);
  }

  /** Takes over a lean first attempt whose caller's signal aborted: books it, and rejects. */
  resumeAborted(attempt: Attempt): Promise<T> {
    this.#adopt(attempt);
    this.onCallerAbort();
    this.#finish();
    return rejectSoon(this.#options?.signal?.reason);
  }

  /** Runs the operation. Never throws synchronously. */
  start(): Promise<T> {
    if (typeof this.#fn !== 'function') {
      return this.#rejectEarly(
        new InvalidOptionsError('fn', `execute(fn) needs a function; got ${typeof this.#fn}`),
      );
    }
    const options = this.#options;
    if (options !== undefined) {
      const problem = optionsError(options);
      if (problem !== undefined) return this.#rejectEarly(problem);
      if (options.signal?.aborted) return this.#rejectEarly(options.signal.reason);
      if (options.deadline === Number.POSITIVE_INFINITY) this.deadline = undefined;
    }
    const cfg = this.#policy.config;
    const breaker =
      cfg.keyedBreaker !== undefined ? cfg.keyedBreaker.get(this.key ?? DEFAULT_KEY) : cfg.breaker;
    this.#breaker = breaker;
    // An open breaker and a full bulkhead refuse before anything is set up: the cheapest
    // possible rejection, since this is what every call costs while a dependency is down.
    if (breaker !== undefined && breaker.current !== 'closed') {
      // acquire() turns an open breaker whose time is up half-open: listeners hear that
      // move like any other this call causes.
      const from = this.#policy.emit === undefined ? undefined : breaker.current;
      const permit = breaker.acquire();
      if (from !== undefined) this.#emitCircuitChange(breaker, from, this.now());
      if (permit < 0) return this.#rejectEarly(this.#circuitRejection(breaker, 1, undefined));
      // Admitted (a probe): give the permit back, the attempt asks for its own once it
      // starts (a kept permit would pin a half-open breaker if the call never got that far).
      breaker.release(permit);
    }
    const bulkhead = cfg.bulkhead;
    if (bulkhead !== undefined) {
      if (bulkhead.tryAcquire()) {
        this.#holdsBulkhead = true;
      } else if (bulkhead.queued >= bulkhead.maxQueue) {
        const emit = this.#policy.emit;
        if (emit !== undefined) {
          emit({
            type: 'bulkhead-rejected',
            policy: cfg.name,
            at: cfg.clock.now(),
            active: bulkhead.active,
            queued: bulkhead.queued,
          });
        }
        return this.#rejectEarly(bulkhead.rejection());
      }
    }
    // The first attempt takes the fast path unless events are listened to or the call
    // must queue for a bulkhead slot.
    const fast = this.#policy.emit === undefined && (bulkhead === undefined || this.#holdsBulkhead);
    return fast ? this.#runFast() : this.#run(undefined, undefined);
  }

  /**
   * What every operation sets up before its first attempt: the deadline and its timer,
   * the caller's abort, the budget's request count. Throws DeadlineExceededError for a
   * deadline already past.
   */
  #prepare(now: number): void {
    const policy = this.#policy;
    const cfg = policy.config;
    this.#startedAt = now;
    if (cfg.deadline !== undefined) {
      const own = now + cfg.deadline;
      if (this.deadline === undefined || own < this.deadline) this.deadline = own;
    }
    const deadline = this.deadline;
    if (deadline !== undefined) {
      if (deadline <= now) {
        this.#emitDeadline(now);
        throw new DeadlineExceededError(deadline);
      }
      this.#armDeadline(deadline, now);
    }
    const signal = this.#options?.signal;
    if (signal !== undefined) {
      subscribeAbort(signal, this);
      this.#subscribed = true;
    }
    cfg.budget?.onRequest();
  }

  #armDeadline(deadline: number, now: number): void {
    this.#deadlineDeferred = false;
    this.timerAt = deadline;
    if (!this.#policy.deadlineLane.add(this)) this.#armOwnDeadline(deadline - now);
  }

  /** Whether something can interrupt an attempt from outside (so attempts must race it). */
  #racing(): boolean {
    const cfg = this.#policy.config;
    return (
      this.deadline !== undefined || cfg.attemptTimeout !== undefined || this.#options?.signal !== undefined
    );
  }

  /** Rejects before the operation started; listeners still hear that it ended. */
  #rejectEarly(error: unknown): Promise<T> {
    if (this.#policy.emit !== undefined) {
      this.#startedAt = this.now();
      this.#emitEnd(false, error);
    }
    return rejectSoon(error);
  }

  /**
   * The first attempt of an operation that nothing can interrupt (no deadline, timeout,
   * signal, bulkhead or listener): the user's promise is chained, not awaited, and a
   * failure hands over to the general loop.
   */
  #runFast(): Promise<T> {
    const cfg = this.#policy.config;
    const timed =
      this.deadline !== undefined || cfg.deadline !== undefined || cfg.attemptTimeout !== undefined;
    const now = timed ? cfg.clock.now() : 0;
    let attempt: Attempt;
    try {
      this.#prepare(now);
      attempt = this.#startAttempt(1, now, undefined);
    } catch (rejection) {
      this.#finish();
      return rejectSoon(rejection);
    }
    this.#attempts = 1;
    let result: T | PromiseLike<T>;
    try {
      result = this.#fn(attempt);
    } catch (error) {
      return this.#run(attempt, error);
    }
    const onFailure = (error: unknown): Promise<T> => this.#run(attempt, error);
    // Anything to do once the attempt succeeds: book it, release timers, listener, slot.
    const books = this.#breaker !== undefined || cfg.budget?.kind === 'tokens';
    if (!this.#racing() && !this.#holdsBulkhead) {
      if (!books) return Promise.resolve(result).then(undefined, onFailure);
      return Promise.resolve(result).then((value) => {
        this.#endAttempt(attempt, undefined, 'success');
        return value;
      }, onFailure);
    }
    // A deadline, an attempt timeout or the caller's signal may stop the attempt: whichever
    // comes first settles the call, the result or a failure (its own, or the stop's, which
    // calls attempt.reject). One promise, rather than a race with a `then` on top.
    return new Promise<T>((resolve) => {
      const failed = (error: unknown): void => {
        if (attempt.reject !== failed) return;
        attempt.reject = undefined;
        resolve(this.#run(attempt, error)); // the loop books it (or the stop that booked it)
      };
      attempt.reject = failed;
      const succeeded = (value: T): void => {
        if (attempt.reject !== failed) return; // a stop came first, and booked the attempt
        attempt.reject = undefined;
        this.#endAttempt(attempt, undefined, 'success');
        this.#finish();
        resolve(value);
      };
      if (isThenable(result)) result.then(succeeded, failed);
      else succeeded(result);
      // Stopped while `fn` itself ran (it aborted the caller's signal): nothing else would.
      if (attempt.aborted) failed(attempt.abortReason);
    });
  }

  /** Releases everything the operation holds: timers, the caller's listener, the bulkhead slot. */
  #finish(): void {
    this.#cleanup();
    if (this.#holdsBulkhead) {
      this.#holdsBulkhead = false;
      this.#policy.config.bulkhead?.release();
    }
  }

  /**
   * The general loop. `resume` is a first attempt that failed on the fast path with
   * `resumeError`; everything the fast path set up is already in place.
   */
  async #run(resume: Attempt | undefined, resumeError: unknown): Promise<T> {
    const policy = this.#policy;
    const cfg = policy.config;
    const signal = this.#options?.signal;
    const clock = cfg.clock;
    const timed =
      this.deadline !== undefined || cfg.deadline !== undefined || cfg.attemptTimeout !== undefined;
    const racing = timed || signal !== undefined;
    let now = resume !== undefined ? clock.now() : timed || policy.emit !== undefined ? clock.now() : 0;
    const bulkhead = cfg.bulkhead;
    try {
      if (resume === undefined) {
        this.#prepare(now);
        if (bulkhead !== undefined && !this.#holdsBulkhead) {
          await this.#queueForBulkhead(now);
          this.#throwIfStopped();
          now = clock.now();
          if (this.deadline !== undefined && now >= this.deadline) {
            // The slot came at the deadline, before its timer fired: no attempt may start.
            this.#emitDeadline(now);
            throw new DeadlineExceededError(this.deadline);
          }
        }
      }
      if (resume !== undefined) {
        // A fast-path attempt the caller stopped was booked by the stop.
        this.#throwIfStopped();
        // The first attempt ended before its deadline could fire: from now on it can.
        if (this.#deadlineDeferred) this.#armDeadline(this.deadline as number, now);
      }
      const deadline = this.deadline;
      let attempt = resume;
      let error: unknown = resumeError;
      let failed = resume !== undefined;
      let previousDelay = 0;
      for (;;) {
        if (!failed) {
          if (this.#attempts > 0) {
            now = clock.now();
            if (deadline !== undefined && now >= deadline) {
              // The wait ended at the deadline: only a late timer gets here.
              this.#emitDeadline(now);
              throw this.#deadlineError(deadline);
            }
          }
          // Counted once started: an attempt the breaker refuses never ran.
          const number = this.#attempts + 1;
          const current = this.#startAttempt(number, now, this.#lastError);
          this.#attempts = number;
          attempt = current;
          let value: T;
          try {
            // A listener (attempt-start, circuit-state-change) may have stopped the operation.
            this.#throwIfStopped();
            const result = this.#fn(current);
            value = racing ? await race(current, result) : await result;
          } catch (attemptError) {
            this.#throwIfStopped();
            error = attemptError;
            failed = true;
          }
          if (!failed) {
            // The deadline or the caller stopped the operation (and booked this attempt)
            // after the result arrived but before this continuation ran.
            this.#throwIfStopped();
            this.#endAttempt(current, undefined, 'success');
            if (policy.emit !== undefined) this.#emitEnd(true, undefined);
            // biome-ignore lint/style/noNonNullAssertion: assigned whenever failed is false
            return value!;
          }
        }
        const failedAttempt = attempt as Attempt;
        now = this.#endAttempt(failedAttempt, error, failedAttempt.timedOut ? 'timeout' : 'failure');
        this.#lastError = error;
        this.#failed = true;
        const delay = this.#decide(failedAttempt, error, now, previousDelay);
        if (delay < 0) throw error;
        previousDelay = delay;
        await this.#sleep(delay);
        this.#throwIfStopped();
        failed = false;
      }
    } catch (error) {
      if (policy.emit !== undefined) this.#emitEnd(false, error);
      throw error;
    } finally {
      this.#cleanup();
      this.#finish();
    }
  }

  /** The breaker refused attempt `number`: the event, and the error to reject with. */
  #circuitRejection(breaker: CircuitBreaker, number: number, lastError: unknown): unknown {
    const emit = this.#policy.emit;
    if (emit !== undefined) {
      emit({
        type: 'circuit-rejected',
        policy: this.#policy.config.name,
        at: this.now(),
        attempt: number,
        key: this.key,
        retryAfterMs: breaker.retryAfterMs(),
      });
    }
    return breaker.rejection(lastError);
  }

  #throwIfStopped(): void {
    const stop = this.#stop;
    if (stop !== undefined) throw stop.error;
  }

  /** Asks the breaker, arms the attempt timeout, and builds the attempt's context. */
  #startAttempt(number: number, now: number, lastError: unknown): Attempt {
    const policy = this.#policy;
    const cfg = policy.config;
    const emit = policy.emit;
    const breaker = this.#breaker;
    let permit = -1;
    if (breaker !== undefined) {
      const from = emit === undefined ? undefined : breaker.current;
      permit = breaker.acquire();
      if (from !== undefined) this.#emitCircuitChange(breaker, from, now);
      if (permit < 0) throw this.#circuitRejection(breaker, number, lastError);
    }
    const timeout = cfg.attemptTimeout;
    const deadline = this.deadline;
    let attemptDeadline = deadline;
    if (timeout !== undefined && (deadline === undefined || now + timeout < deadline)) {
      attemptDeadline = now + timeout;
    }
    const started = breaker?.measuresDuration === true && now === 0 ? cfg.clock.now() : now;
    const attempt = new Attempt(this as Execution<unknown>, number, started, attemptDeadline);
    attempt.permit = permit;
    this.#current = attempt;
    if (timeout !== undefined) attempt.armTimeout(policy, now, timeout);
    if (emit !== undefined)
      emit({ type: 'attempt-start', policy: cfg.name, at: now, attempt: number, key: this.key });
    return attempt;
  }

  /** Books the end of an attempt (breaker, budget, events); returns the current time. */
  #endAttempt(attempt: Attempt, error: unknown, outcome: AttemptOutcome): number {
    const policy = this.#policy;
    const cfg = policy.config;
    this.#current = undefined;
    attempt.disarmTimeout(policy);
    const emit = policy.emit;
    const breaker = this.#breaker;
    const failed = outcome !== 'success';
    // Time is read only when something needs it: a failure (deadline arithmetic), events,
    // or a breaker with a slow-call rule.
    const needsTime = failed || emit !== undefined || breaker?.measuresDuration === true;
    const now = needsTime ? cfg.clock.now() : 0;
    if (breaker !== undefined) {
      const from = emit === undefined ? undefined : breaker.current;
      if (outcome === 'aborted') breaker.release(attempt.permit);
      else breaker.record(attempt.permit, error, failed, now - attempt.startedAt);
      if (from !== undefined) this.#emitCircuitChange(breaker, from, now);
    }
    // Failures are booked in #decide, once classified: like gRPC's retryThrottling, only a
    // retryable failure takes a token.
    if (outcome === 'success') cfg.budget?.onSuccess();
    if (emit !== undefined) {
      emit({
        type: 'attempt-end',
        policy: cfg.name,
        at: now,
        attempt: attempt.attempt,
        key: this.key,
        durationMs: now - attempt.startedAt,
        outcome,
        error,
      });
    }
    return now;
  }

  /** After a failed attempt: the delay before the next one, or -1 to stop. */
  #decide(attempt: Attempt, error: unknown, now: number, previousDelay: number): number {
    const cfg = this.#policy.config;
    let retry: boolean;
    let hint: number | undefined;
    const options = this.#options;
    const own = options?.retryOn;
    const classify: RetryOn | undefined = own ?? cfg.retryOn;
    if (classify === undefined) {
      retry = isRetryableByDefault(error);
    } else {
      let verdict: ReturnType<RetryOn>;
      try {
        // The call's own classifier is called as a method of its options (an adapter's
        // call object may be its own options: see HttpCall).
        verdict = own === undefined ? classify(error, attempt) : own.call(options, error, attempt);
      } catch (classifyError) {
        // A broken classifier must not hide the real failure, nor take the process down
        // (an uncaught exception would): stop with the attempt's error, report the bug.
        reportRetryOnError(classifyError);
        return this.#refuse(attempt, error, 'not-retryable', now);
      }
      if (typeof verdict === 'object' && verdict !== null) {
        retry = verdict.retry === true;
        const after = verdict.after;
        if (typeof after === 'number' && after >= 0 && after !== Number.POSITIVE_INFINITY) hint = after;
      } else {
        retry = verdict === true;
      }
    }
    if (!retry) return this.#refuse(attempt, error, 'not-retryable', now);
    cfg.budget?.onFailure();
    if (attempt.attempt >= cfg.maxAttempts) return this.#refuse(attempt, error, 'max-attempts', now);
    const breaker = this.#breaker;
    if (breaker !== undefined) {
      const from = this.#policy.emit === undefined ? undefined : breaker.current;
      const state = breaker.state;
      if (from !== undefined && from !== state) this.#emitCircuitChange(breaker, from, now);
      if (state === 'open' || state === 'isolated') return this.#refuse(attempt, error, 'circuit-open', now);
    }
    const maxDelay = cfg.backoff.maxDelay;
    const delay =
      hint !== undefined
        ? hint < maxDelay
          ? hint
          : maxDelay
        : cfg.backoff.delay(attempt.attempt, previousDelay, cfg.random);
    const deadline = this.deadline;
    if (deadline !== undefined && now + delay >= deadline)
      return this.#refuse(attempt, error, 'deadline', now);
    if (cfg.budget !== undefined && !cfg.budget.tryRetry())
      return this.#refuse(attempt, error, 'budget', now);
    const emit = this.#policy.emit;
    if (emit !== undefined) {
      emit({
        type: 'retry-scheduled',
        policy: cfg.name,
        at: now,
        attempt: attempt.attempt,
        delayMs: delay,
        reason: hint === undefined ? 'backoff' : 'server-hint',
        error,
      });
    }
    return delay;
  }

  #refuse(attempt: Attempt, error: unknown, reason: RetryRefusedReason, now: number): -1 {
    const emit = this.#policy.emit;
    if (emit !== undefined) {
      emit({
        type: 'retry-refused',
        policy: this.#policy.config.name,
        at: now,
        attempt: attempt.attempt,
        reason,
        error,
      });
    }
    return -1;
  }

  /** Waits `delay` ms between attempts; a deadline or the caller's abort cuts it short. */
  #sleep(delay: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#interruptWait = reject;
      this.#waitTimer = this.#policy.config.clock.setTimeout(() => {
        this.#waitTimer = undefined;
        this.#interruptWait = undefined;
        resolve();
      }, delay);
    });
  }

  /** Waits for a bulkhead slot, or rejects at once when the queue is full too. */
  #queueForBulkhead(now: number): Promise<void> {
    const bulkhead = this.#policy.config.bulkhead;
    return new Promise<void>((resolve, reject) => {
      if (bulkhead === undefined) return resolve();
      const cancel = bulkhead.enqueue(() => {
        this.#holdsBulkhead = true;
        this.#interruptWait = undefined;
        resolve();
      });
      if (cancel === undefined) {
        const emit = this.#policy.emit;
        if (emit !== undefined) {
          emit({
            type: 'bulkhead-rejected',
            policy: this.#policy.config.name,
            at: now,
            active: bulkhead.active,
            queued: bulkhead.queued,
          });
        }
        reject(bulkhead.rejection());
        return;
      }
      this.#interruptWait = (reason) => {
        cancel();
        reject(reason);
      };
    });
  }

  /** The attempt timeout fired. */
  attemptTimedOut(attempt: Attempt): void {
    if (this.#current !== attempt) return;
    const error = new AttemptTimeoutError(this.#policy.config.attemptTimeout ?? 0);
    attempt.timedOut = true;
    attempt.abort(error);
    attempt.reject?.(error);
  }

  /** The deadline passed. */
  onTimer(): void {
    if (this.#stop !== undefined) return;
    const now = this.now();
    const deadline = this.deadline ?? now;
    const attempt = this.#current;
    const error = this.#deadlineError(deadline);
    if (attempt !== undefined) {
      // The dependency did not answer in time: that counts against it.
      this.#endAttempt(attempt, error, 'deadline');
      attempt.abort(error);
    }
    this.#emitDeadline(now);
    this.#halt(error, attempt);
  }

  /** The rejection for a deadline that passed; its cause is the last failed attempt's error. */
  #deadlineError(deadline: number): DeadlineExceededError {
    return this.#failed
      ? new DeadlineExceededError(deadline, { cause: this.#lastError })
      : new DeadlineExceededError(deadline);
  }

  /**
   * A deadline timer of the call's own (its expiry is out of the lane's order). Timers
   * cannot wait longer than 2^31 - 1 ms (Node fires a longer one after 1 ms), so a far
   * deadline is reached in steps, and the timer fires the deadline only once it is due.
   */
  #armOwnDeadline(delay: number): void {
    this.#ownDeadlineTimer = this.#policy.config.clock.setTimeout(
      () => {
        this.#ownDeadlineTimer = undefined;
        const deadline = this.deadline as number;
        const left = deadline - this.now();
        if (left > 0 && this.#stop === undefined) this.#armOwnDeadline(left);
        else this.onTimer();
      },
      Math.min(delay, MAX_TIMER),
    );
  }

  /** The caller's signal aborted (called by src/abort.ts). */
  onCallerAbort(): void {
    if (this.#stop !== undefined) return;
    const reason = this.#options?.signal?.reason;
    const attempt = this.#current;
    if (attempt !== undefined) {
      this.#endAttempt(attempt, reason, 'aborted');
      attempt.abort(reason);
    }
    this.#halt(reason, attempt);
  }

  /** Stops the operation from outside: whatever it awaits rejects with `error`. */
  #halt(error: unknown, attempt: Attempt | undefined): void {
    this.#stop = { error };
    attempt?.reject?.(error);
    const interrupt = this.#interruptWait;
    if (interrupt !== undefined) {
      this.#interruptWait = undefined;
      interrupt(error);
    }
  }

  /** Releases the timers and the listener the call holds. */
  #cleanup(): void {
    const policy = this.#policy;
    if (!this.timerDone) {
      policy.deadlineLane.remove(this);
    } else if (this.#ownDeadlineTimer !== undefined) {
      policy.config.clock.clearTimeout(this.#ownDeadlineTimer);
      this.#ownDeadlineTimer = undefined;
    }
    if (this.#waitTimer !== undefined) {
      policy.config.clock.clearTimeout(this.#waitTimer);
      this.#waitTimer = undefined;
    }
    if (this.#subscribed) {
      this.#subscribed = false;
      const signal = this.#options?.signal;
      if (signal !== undefined) unsubscribeAbort(signal, this);
    }
    this.#interruptWait = undefined;
    this.#stop ??= SETTLED; // late timers and aborts find the operation over
  }

  #emitDeadline(now: number): void {
    const emit = this.#policy.emit;
    if (emit === undefined) return;
    emit({
      type: 'deadline-exceeded',
      policy: this.#policy.config.name,
      at: now,
      attempt: this.#attempts,
      deadline: this.deadline ?? now,
      elapsedMs: now - this.#startedAt,
    });
  }

  #emitEnd(success: boolean, error: unknown): void {
    const emit = this.#policy.emit;
    if (emit === undefined) return;
    const now = this.now();
    emit({
      type: 'operation-end',
      policy: this.#policy.config.name,
      at: now,
      attempts: this.#attempts,
      durationMs: now - this.#startedAt,
      outcome: success ? 'success' : 'failure',
      error,
    });
  }

  #emitCircuitChange(breaker: CircuitBreaker, from: CircuitState, now: number): void {
    const to = breaker.current;
    const emit = this.#policy.emit;
    if (emit === undefined || to === from) return;
    emit({
      type: 'circuit-state-change',
      policy: this.#policy.config.name,
      at: now,
      from,
      to,
      key: this.key,
    });
  }
}

/**
 * Awaitable for one attempt that a timer can reject: settles with the user's result, or
 * with whatever `attempt.reject` is called with first.
 */
/** Whether `value` is a thenable (as `Promise.resolve` decides). */
function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}

function race<T>(attempt: Attempt, result: T | PromiseLike<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    attempt.reject = reject;
    if (
      result !== null &&
      (typeof result === 'object' || typeof result === 'function') &&
      typeof (result as PromiseLike<T>).then === 'function'
    ) {
      (result as PromiseLike<T>).then(resolve, reject);
    } else {
      resolve(result);
    }
    // Stopped while `fn` itself was running (it aborted the caller's signal): nothing
    // else would reject this promise.
    if (attempt.aborted) reject(attempt.abortReason);
  });
}

/** Reports an exception thrown by a `retryOn` classifier. */
function reportRetryOnError(error: unknown): void {
  process.emitWarning(
    `A breakwater retryOn threw; the attempt's error is not retried: ${
      error instanceof Error ? (error.stack ?? error.message) : String(error)
    }`,
    { code: 'BREAKWATER_RETRY_ON_ERROR' },
  );
}

/** What is wrong with `options`, or undefined when they are valid. */
function optionsError(options: ExecuteOptions): InvalidOptionsError | undefined {
  if (typeof options !== 'object' || options === null) {
    return new InvalidOptionsError('options', `execute options must be an object; got ${String(options)}`);
  }
  const { deadline, signal, idempotencyKey, key, retryOn } = options;
  if (deadline !== undefined && (typeof deadline !== 'number' || Number.isNaN(deadline))) {
    return new InvalidOptionsError(
      'deadline',
      `execute options.deadline must be a number (ms since the epoch); got ${String(deadline)}`,
    );
  }
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')
  ) {
    return new InvalidOptionsError('signal', 'execute options.signal must be an AbortSignal');
  }
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0)) {
    return new InvalidOptionsError(
      'idempotencyKey',
      'execute options.idempotencyKey must be a non-empty string',
    );
  }
  if (key !== undefined && typeof key !== 'string') {
    return new InvalidOptionsError('key', 'execute options.key must be a string');
  }
  if (retryOn !== undefined && typeof retryOn !== 'function') {
    return new InvalidOptionsError('retryOn', 'execute options.retryOn must be a function');
  }
  return undefined;
}

/**
 * Whether `options` are valid and set no deadline of the call's own, so that it may take
 * the lean path.
 *
 * @internal
 */
export function isLeanOptions(options: ExecuteOptions): boolean {
  return (
    typeof options === 'object' &&
    options !== null &&
    options.deadline === undefined &&
    optionsError(options) === undefined
  );
}
