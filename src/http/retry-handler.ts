/**
 * One request through `httpInterceptor`: the state machine between undici and
 * `policy.execute`. Each attempt is a fresh handler dispatched downstream; the policy
 * decides whether and when to retry.
 *
 * An attempt lasts until the last byte of its response (so the deadline, the bulkhead and
 * the breaker cover the body too) and ends one of four ways:
 *
 * - a response whose status is no failure is committed: its head and body flow straight
 *   to the caller, and the attempt succeeds when it ends;
 * - a retryable status on a request that may be repeated is held: the response is paused
 *   and the attempt fails with an {@link HttpStatusError}. If the policy retries, the held
 *   body is drained (the connection goes back to the pool); if it stops, the held response
 *   is released to the caller exactly as undici gave it;
 * - any other failure status is committed too (the caller gets it), and the attempt fails
 *   when the body ends, so the breaker counts it;
 * - a network error before the head fails the attempt with undici's own error.
 *
 * After the head was handed to the caller nothing is retried. The caller hears of the end
 * once: the response's own end, or the operation's error (a deadline, an open breaker,
 * the caller's abort, the last attempt's network error).
 *
 * The two handler APIs of undici (the legacy `onConnect/onHeaders/...` and the newer
 * `onRequestStart/onResponseStart/...`) live in `dispatch-handlers.ts`; everything here is
 * shared.
 *
 * @internal
 * @module
 */
import type { AttemptHandle } from '../engine/attempt.js';
import type { OperationHandler } from '../engine/handler.js';
import type { AttemptContext, ExecuteOptions, Policy, RetryDecision } from '../index.js';
import { runOperation } from '../policy.js';
import { ABANDONED, type Attempt, type AttemptOwner, COMMITTED, DONE, HELD } from './attempt.js';
import type { HttpAttributes } from './attributes.js';
import { CallerSignal, defaultAbortReason } from './caller-signal.js';
import { classifyHttpFailure, wantsRetry } from './classify.js';
import { singleAttempt } from './hedging.js';
import { RETRYABLE, type RequestSettings, type ResolvedHttpOptions, SUCCESS } from './options.js';
import { type DispatchOptionsLike, RequestShape } from './request-shape.js';

export type { DispatchOptionsLike };

import { parseRetryAfter } from './retry-after.js';
import { HttpStatusError } from './status-error.js';

/**
 * The `execute` options of one request: its abort signal (the call), breaker key, deadline
 * and idempotency key, and its `retryOn`, which the policy calls as a method of these
 * options and which asks the call.
 */
class RequestExecuteOptions implements ExecuteOptions {
  readonly signal: AbortSignal;
  readonly key: string | undefined;
  readonly deadline: number | undefined;
  readonly idempotencyKey: string | undefined;
  readonly #call: HttpCall;

  constructor(call: HttpCall) {
    this.#call = call;
    this.signal = call.asAbortSignal();
    const settings = call.settings;
    const origin = call.opts.origin;
    // The origin keys a keyed breaker; without one nothing needs it, and reading a URL's
    // origin builds a new string on every request.
    this.key =
      settings?.key ??
      (call.policy.config.keyedBreaker === undefined
        ? undefined
        : typeof origin === 'string'
          ? origin
          : origin?.origin);
    this.deadline = settings?.deadline;
    this.idempotencyKey = settings?.idempotencyKey;
  }

  retryOn(error: unknown, ctx: AttemptContext): RetryDecision {
    return this.#call.retryOn(error, ctx);
  }
}

/** What every request of one interceptor shares. */
export interface SharedState {
  readonly policy: Policy;
  readonly options: ResolvedHttpOptions;
  /** What telemetry records of a request, per method and origin. */
  readonly attributes: HttpAttributes;
}

/** The dispatch function an interceptor receives. */
export type DispatchFn = (options: never, handler: never) => boolean;

/**
 * One request through the interceptor (see the module comment).
 *
 * To keep a request to few objects, the call is two things at once: the signal its
 * caller's abort reaches the policy through (a {@link CallerSignal}), and the handler of
 * the operation the policy runs (an `OperationHandler`).
 */
export abstract class HttpCall extends RequestShape implements AttemptOwner, OperationHandler<void> {
  /** The policy the request runs through (a single-attempt copy when it may not hedge). */
  policy: Policy;
  /** The attempt the policy is running (or ran last). */
  current: Attempt | undefined = undefined;
  held: Attempt | undefined = undefined;
  /** The caller has a response head. */
  committed = false;
  /** The caller has heard the end (a response end or an error). */
  done = false;
  /** `execute` has settled. */
  operationOver = false;
  readonly #dispatch: DispatchFn;
  #dispatched = true;
  readonly #attributes: HttpAttributes;
  /** The attempts of a hedged request, several in flight at once; undefined unless it hedges. */
  #hedged: Attempt[] | undefined = undefined;
  /** A hedged request's held retryable responses, kept until the operation ends. */
  #heldAll: Attempt[] | undefined = undefined;

  constructor(
    shared: SharedState,
    settings: RequestSettings | undefined,
    dispatch: DispatchFn,
    opts: DispatchOptionsLike,
  ) {
    super(settings?.options ?? shared.options, settings, opts);
    this.policy = shared.policy;
    this.#dispatch = dispatch;
    this.#attributes = shared.attributes;
  }

  /** What telemetry records of the request (read only when a policy observes it). */
  get attributes(): ReturnType<HttpAttributes['get']> {
    return this.#attributes.get(this.opts.method, this.opts.origin);
  }

  /** Makes the handler for the next attempt. */
  protected abstract newAttempt(): Attempt;
  /** Gives the caller its abort function (onConnect / onRequestStart). */
  protected abstract callerStart(): void;
  /** Tells the caller the request failed. */
  protected abstract callerError(error: unknown): void;

  /** Starts the operation. */
  start(): boolean {
    this.callerStart();
    if (this.policy.config.hedge !== undefined) {
      // Hedging sends the request again while it runs: only a request that may be
      // repeated, with a body that can be sent twice at once, is hedged; any other runs
      // through a single-attempt copy of the policy (same breaker, bulkhead, deadline).
      if (this.mayHedge(this.policy)) this.#hedged = [];
      else this.policy = singleAttempt(this.policy);
    }
    // The call is the operation's handler (startAttempt, succeeded, failed): no promise or
    // closure per request on the success path.
    runOperation(this.policy, this, new RequestExecuteOptions(this));
    // The first attempt is dispatched synchronously (unless a bulkhead queues it): pass on
    // what the dispatcher below said about its backpressure.
    return this.#dispatched;
  }

  /** One attempt, as the policy runs it: it reports its end through `ctx`. */
  startAttempt(ctx: AttemptHandle): void {
    const hedged = this.#hedged;
    if (hedged === undefined) {
      const previous = this.current;
      if (previous?.running === true) this.abandon(previous, new Error('superseded by a new attempt'));
      if (this.held !== undefined) this.#drainHeld();
    }
    if (this.aborted) {
      ctx.fail(this.reason);
      return;
    }
    // A throw from here fails the attempt (the owned-operation contract).
    if (!this.prepared) this.prepare(ctx);
    const opts = this.attemptOptions(ctx, this.policy.config.clock.now());
    const attempt = this.newAttempt();
    this.current = attempt;
    attempt.bind(ctx);
    if (hedged !== undefined) {
      // A hedge runs beside the others: each is aborted in undici when its signal aborts (it
      // lost to another attempt, timed out, or the operation ended without it).
      hedged.push(attempt);
      const signal = ctx.signal;
      signal.addEventListener('abort', () => this.abandon(attempt, signal.reason), { once: true });
    }
    try {
      this.#dispatched = this.#dispatch(opts as never, attempt as never);
    } catch (error) {
      attempt.otherError(error);
    }
  }

  /** The operation succeeded: the response has reached the caller already. */
  succeeded(): void {
    const held = this.#heldAll;
    this.#heldAll = undefined;
    // Not from inside the winner's parser callback (undici resumes one parser at a time).
    if (held !== undefined) process.nextTick(drainAll, held);
  }

  /**
   * The policy's retryOn for this request (see classify.ts for the default rules), called
   * through its execute options.
   */
  retryOn(error: unknown, ctx: AttemptContext): RetryDecision {
    if (this.#hedged !== undefined) {
      // A hedged attempt the policy ended itself was aborted through its signal; once a
      // response reached the caller the operation is over.
      if (this.aborted || this.committed) return false;
      const own = this.policy.config.retryOn;
      return own === undefined ? classifyHttpFailure(error, this.options) : own(error, ctx);
    }
    const attempt = this.current;
    // The policy ended the attempt itself (its timeout fired): stop the request too.
    if (attempt !== undefined && !attempt.settled) this.abandon(attempt, error);
    if (this.aborted || !this.repeatable || !this.bodyReplayable()) return false;
    // A response the caller has could not be retried, unless this was the last attempt
    // the policy allows anyway: then classify it, so that retrying stops for the reason
    // it would have stopped for (max-attempts), not as "not retryable".
    if (this.committed && ctx.attempt < this.policy.config.maxAttempts) return false;
    const own = this.policy.config.retryOn;
    const verdict = own === undefined ? classifyHttpFailure(error, this.options) : own(error, ctx);
    const held = this.held;
    if (held !== undefined && wantsRetry(verdict)) {
      // The policy may still refuse (budget, deadline, breaker). It decides in the promise
      // job running this function, so a refusal has rejected `execute` (and released the
      // response to the caller) by the time the microtask queue is empty, which is when a
      // nextTick callback runs. If the response is still held then, the policy is waiting
      // before the next attempt: drain it now, not after the wait, so undici can put the
      // connection back in the pool before the next attempt looks for one.
      process.nextTick(() => {
        if (this.held === held) this.#drainHeld();
      });
    }
    return verdict;
  }

  /** The operation failed: retrying stopped, the deadline passed, or the caller aborted. */
  failed(error: unknown): void {
    this.operationOver = true;
    if (this.#hedged !== undefined) {
      // Held responses are resumed outside the callback of the attempt that ended the
      // operation (undici resumes one parser at a time).
      process.nextTick(() => this.#hedgedFailed(this.#hedged as Attempt[], error));
      return;
    }
    const held = this.held;
    if (held !== undefined) {
      this.held = undefined;
      if (held.error === error && !this.done && !this.aborted) {
        this.current = held;
        held.release();
        return;
      }
      held.drain();
    }
    const current = this.current;
    if (current?.running === true) this.abandon(current, error);
    this.finish(error);
  }

  /** The abort function handed to the caller. */
  readonly abortByCaller = (reason?: unknown): void => {
    if (this.done || this.aborted) return;
    const why = reason ?? defaultAbortReason();
    this.abort(why); // the policy stops waiting and rejects with `why`
    const current = this.current;
    if (current?.running === true) this.abandon(current, why);
    if (this.held !== undefined) this.#drainHeld();
    if (this.operationOver) this.finish(why);
  };

  /**
   * Called by an attempt with the final status of its response. Returns true to hand the
   * head to the caller now, false to hold it (paused) while the policy decides.
   */
  head(attempt: Attempt, status: number): boolean {
    const kind = status < 600 ? (this.options.statusKinds[status] as number) : SUCCESS;
    if (kind === SUCCESS) {
      attempt.state = COMMITTED;
      this.committed = true;
      if (this.#hedged !== undefined) this.#win(attempt, undefined);
      return true;
    }
    const now = this.policy.config.clock.now();
    const error = new HttpStatusError(
      status,
      attempt.headerRecord(),
      parseRetryAfter(attempt.header('retry-after'), now),
    );
    attempt.error = error;
    if (this.#hedged !== undefined) return this.#hedgedHead(attempt, kind, error);
    if (
      kind === RETRYABLE &&
      !this.aborted &&
      this.repeatable &&
      this.attemptNumber < this.policy.config.maxAttempts &&
      this.bodyReplayable()
    ) {
      attempt.state = HELD;
      this.held = attempt;
      attempt.fail(error);
      return false;
    }
    attempt.state = COMMITTED;
    this.committed = true;
    return true;
  }

  /** Stops an attempt: aborts it in undici and ignores whatever it reports afterwards. */
  abandon(attempt: Attempt, reason: unknown): void {
    if (attempt.state === DONE || attempt.state === ABANDONED) return;
    attempt.state = ABANDONED;
    attempt.abortReason = reason;
    attempt.abortTransport(reason);
    attempt.fail(reason);
  }

  /** Tells the caller the request failed, once. */
  finish(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.callerError(error);
  }

  /**
   * A hedged attempt's failure status: a retryable one is held while the other attempts
   * run on (the policy may send the next hedge at once); any other reaches the caller.
   */
  #hedgedHead(attempt: Attempt, kind: number, error: HttpStatusError): boolean {
    if (kind === RETRYABLE && !this.aborted) {
      attempt.state = HELD;
      if (this.#heldAll === undefined) this.#heldAll = [attempt];
      else this.#heldAll.push(attempt);
      attempt.fail(error);
      return false;
    }
    attempt.state = COMMITTED;
    this.committed = true;
    this.#win(attempt, error);
    return true;
  }

  /**
   * A hedged attempt's response goes to the caller: its attempt ends now, at the head (the
   * body is the caller's, beyond the policy), so the policy settles and aborts the others.
   */
  #win(attempt: Attempt, error: unknown): void {
    this.current = attempt;
    if (error === undefined) attempt.succeed();
    else attempt.fail(error);
  }

  /**
   * A hedged request failed: the caller gets the held response the error stands for (the
   * first attempt's), or the error; other held responses are drained. A response already
   * committed (a fatal status) flows on to the caller.
   */
  #hedgedFailed(attempts: Attempt[], error: unknown): void {
    const held = this.#heldAll;
    this.#heldAll = undefined;
    let release: Attempt | undefined;
    if (held !== undefined) {
      for (const attempt of held) {
        if (
          release === undefined &&
          attempt.error === error &&
          !this.committed &&
          !this.done &&
          !this.aborted
        ) {
          release = attempt;
        } else {
          attempt.drain();
        }
      }
    }
    if (this.committed) return;
    if (release !== undefined) {
      this.current = release;
      release.release();
      return;
    }
    for (const attempt of attempts) if (attempt.running) this.abandon(attempt, error);
    this.finish(error);
  }

  #drainHeld(): void {
    const held = this.held;
    this.held = undefined;
    held?.drain();
  }
}

function drainAll(attempts: Attempt[]): void {
  for (const attempt of attempts) attempt.drain();
}
