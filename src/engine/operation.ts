/**
 * The execution engine: one operation as a callback-driven state machine.
 *
 *   admitting ──► queued ──► attempting ◄──► waiting
 *       │            │           │               │
 *       └────────────┴───────────┴───────────────┴──► done
 *
 * - `admitting`: the caller's signal, the breaker, the bulkhead (`start`, `admit`);
 * - `queued`: waiting for a bulkhead slot;
 * - `attempting`: one attempt or more in flight (hedging runs several);
 * - `waiting`: the backoff between a failed attempt and the next;
 * - `done`: settled, once, in `settle`; everything the operation held is released.
 *
 * Every attempt starts in `beginAttempt` and ends in `attemptEnded`, whoever ends it: its
 * handler (`succeed`/`fail`), its timeout, the deadline, the caller's abort, or the
 * operation settling while it still runs. The stages it calls each do one job: admission
 * (the bulkhead), breaker (permit and record), retry (the decision), timers (deadline and
 * attempt timeout on the policy's lanes), report (events), fallback. What the operation
 * holds, and how it is booked and released, is in `operation-base.ts`. See
 * docs/architecture.md.
 *
 * Nothing is done that the policy does not need: no clock read without a deadline, a
 * timeout, a slow-call rule or a listener; no event built without a listener; no timer for
 * a deadline that the attempt timeout already covers.
 *
 * @internal
 * @module
 */
import { type AbortSubscriber, subscribeAbort } from '../abort.js';
import { earliest } from '../deadline.js';
import { AttemptTimeoutError } from '../errors.js';
import { Attempt, type AttemptEnd, type AttemptOwner } from './attempt.js';
import { book, endAll, release, timesAttempts, track } from './book.js';
import { breakerFor, breakerRefuses, circuitChange, circuitRejection } from './breaker.js';
import { armDeadline, deadlineError } from './deadline.js';
import { recordAttempts } from './failure.js';
import { fallbackApplies, runFallback } from './fallback.js';
import { armHedge, hedgedFailure } from './hedge.js';
import { OperationBase } from './operation-base.js';
import * as report from './report.js';
import { retryAfterFailure } from './retry.js';
import { arm, type TimedEntry } from './timers.js';

export type { OperationState } from './operation-base.js';

export class Operation<T> extends OperationBase<T> implements AttemptOwner, TimedEntry, AbortSubscriber {
  /** Runs the operation: `admitting`, then the first attempt (or the bulkhead's queue). */
  start(): void {
    const listening = this.listening;
    // Listeners hear durations: the clock is read from the start.
    if (listening) this.startedAt = this.now();
    const refusal = this.admit(listening);
    if (refusal === undefined) this.begin(listening);
    else this.settle(false, refusal.error);
  }

  /** Fails the operation before it started (its options were invalid). */
  refuse(error: unknown): void {
    if (this.listening) this.startedAt = this.now();
    // Invalid options are the caller's bug: no fallback hides them.
    this.invalidOptions = true;
    this.settle(false, error);
  }

  /**
   * `admitting`: the caller's signal, the breaker, the bulkhead. Returns why the operation
   * is refused, if it is; leaves it `queued` when it must wait for a slot.
   */
  private admit(listening: boolean): { error: unknown } | undefined {
    const cfg = this.policy.config;
    const signal = this.options?.signal;
    if (signal?.aborted) return { error: signal.reason };
    const breaker = breakerFor(cfg, this.key);
    this.breaker = breaker;
    if (breaker !== undefined && breaker.current !== 'closed') {
      const from = listening ? breaker.current : undefined;
      const refused = breakerRefuses(breaker);
      if (from !== undefined) circuitChange(this, breaker, from, this.now());
      if (refused) return { error: circuitRejection(this, breaker, 1) };
    }
    const bulkhead = cfg.bulkhead;
    if (bulkhead === undefined) return undefined;
    if (bulkhead.tryAcquire()) this.holdsSlot = true;
    else if (bulkhead.queued < bulkhead.maxQueue) this.state = 'queued';
    else {
      if (listening) this.emit(report.bulkheadRejected(cfg.name, this.now(), bulkhead));
      return { error: bulkhead.rejection(this.policy.rejectionContext) };
    }
    return undefined;
  }

  /** Admitted: the deadline, the caller's signal, the budget; then the first attempt. */
  private begin(listening: boolean): void {
    const cfg = this.policy.config;
    const options = this.options;
    const timeout = options?.timeout;
    const timed = this.deadline !== undefined || cfg.deadline !== undefined || timeout !== undefined;
    const now = listening
      ? this.startedAt
      : timed || cfg.attemptTimeout !== undefined || timesAttempts(this)
        ? cfg.clock.now()
        : 0;
    this.startedAt = now;
    if (timed) {
      let deadline = this.deadline;
      if (cfg.deadline !== undefined) deadline = earliest(deadline, now + cfg.deadline);
      if (timeout !== undefined) deadline = earliest(deadline, now + timeout);
      this.deadline = deadline;
      if (deadline !== undefined && deadline <= now) {
        this.deadlinePassed(now);
        return;
      }
    }
    const signal = options?.signal;
    if (signal !== undefined) {
      subscribeAbort(signal, this);
      this.subscribed = true;
    }
    cfg.budget?.onRequest();
    if (this.state !== 'queued') {
      this.beginAttempt(now);
      return;
    }
    armDeadline(this, now);
    this.cancelQueue = cfg.bulkhead?.enqueue(() => {
      // Granted inside another operation's release: start on a microtask, not in its stack.
      this.cancelQueue = undefined;
      this.holdsSlot = true;
      queueMicrotask(() => this.resume());
    });
  }

  /** The backoff wait ended, or a queued operation got its slot: the next attempt. */
  private resume(): void {
    if (this.state === 'done') return;
    const now = this.now();
    const deadline = this.deadline;
    // The deadline's timer is due but has not fired yet: no attempt may start.
    if (deadline !== undefined && now >= deadline) this.deadlinePassed(now);
    else this.beginAttempt(now);
  }

  /** `attempting`: the one place an attempt starts. */
  beginAttempt(now: number): void {
    const policy = this.policy;
    const cfg = policy.config;
    const breaker = this.breaker;
    const number = this.attempts + 1;
    let permit = -1;
    if (breaker !== undefined) {
      const from = this.listening ? breaker.current : undefined;
      permit = breaker.acquire();
      if (from !== undefined) circuitChange(this, breaker, from, now);
      if (permit < 0) {
        if (this.inFlight === undefined) this.settle(false, circuitRejection(this, breaker, number));
        return;
      }
    }
    const throttle = cfg.throttle;
    if (throttle !== undefined && !throttle.allow(cfg.random, now)) {
      // Shed locally: the attempt is never sent, and a throttled operation is not retried.
      if (breaker !== undefined) breaker.release(permit);
      if (this.inFlight === undefined) this.settle(false, throttle.rejection(policy.rejectionContext));
      return;
    }
    this.attempts = number;
    const timeout = cfg.attemptTimeout;
    const deadline = this.deadline;
    const attemptDeadline =
      timeout !== undefined && (deadline === undefined || now + timeout < deadline)
        ? now + timeout
        : deadline;
    const attempt = new Attempt(this, number, now, attemptDeadline);
    attempt.permit = permit;
    track(this, attempt);
    this.state = 'attempting';
    if (attemptDeadline !== deadline) {
      attempt.timerAt = attemptDeadline as number;
      arm(policy.attemptLane, cfg.clock, attempt, now);
    } else {
      // Nothing ends this attempt before the deadline does: the deadline needs its timer.
      armDeadline(this, now);
    }
    if (this.listening) {
      this.emit(report.attemptStart(cfg.name, now, number, this.key));
      if (attempt.ended) return; // a listener stopped the operation
    }
    // Hedging: the next attempt follows after the hedge delay, unless an answer comes first.
    const hedge = cfg.hedge;
    if (hedge !== undefined && number < hedge.maxAttempts && !this.hedgesStopped) {
      armHedge(this, hedge.delayFor(now));
    }
    const handler = this.handler;
    try {
      const observer = this.observer;
      if (observer === undefined) handler.startAttempt(attempt);
      else observer.runAttempt(handler.startAttempt, handler, attempt);
    } catch (error) {
      // A throw fails the attempt, unless it had reported already: then the throw came
      // from code its report called back, and is not ours to swallow.
      if (attempt.ended) throw error;
      attempt.fail(error);
    }
  }

  /**
   * The one place an attempt ends: books it (timer, breaker, budget, events), then decides
   * what follows: the operation's success, the next attempt after a wait, or its failure.
   */
  attemptEnded(attempt: Attempt, end: AttemptEnd, error: unknown, value: unknown): void {
    const failure = end === 'timeout' ? this.timedOut(attempt) : error;
    const now = book(this, attempt, end, failure);
    if (this.state === 'done') return;
    if (end === 'success') this.settle(true, value);
    else this.attemptFailed(attempt, failure, now);
  }

  /** The attempt timeout fired: its signal is aborted with the error it fails with. */
  private timedOut(attempt: Attempt): AttemptTimeoutError {
    const failure = new AttemptTimeoutError(this.policy.config.attemptTimeout ?? 0);
    attempt.abort(failure);
    return failure;
  }

  /** An attempt failed: the next attempt after a wait (or a hedge), or the operation's failure. */
  private attemptFailed(attempt: Attempt, failure: unknown, now: number): void {
    const cfg = this.policy.config;
    this.failures++;
    this.lastError = failure;
    if (cfg.hedge !== undefined) {
      hedgedFailure(this, attempt, failure, now);
      return;
    }
    const { verdict, hinted } = retryAfterFailure(this, attempt, failure, now);
    if (typeof verdict !== 'number') {
      if (this.listening) this.emit(report.retryRefused(cfg.name, now, attempt.attempt, verdict, failure));
      if (this.inFlight === undefined) this.settle(false, failure);
      return;
    }
    if (this.listening) {
      this.emit(report.retryScheduled(cfg.name, now, attempt.attempt, verdict, hinted, failure));
    }
    this.previousDelay = verdict;
    this.state = 'waiting';
    this.waitTimer = cfg.clock.setTimeout(() => {
      this.waitTimer = undefined;
      if (this.state === 'waiting') this.resume();
    }, verdict);
  }

  onTimer(): void {
    if (this.state !== 'done') this.deadlinePassed(this.now());
  }

  /** The deadline passed: attempts in flight count as failed, and the operation fails. */
  private deadlinePassed(now: number): void {
    const deadline = this.deadline ?? now;
    const error = deadlineError(this, deadline, now);
    endAll(this, 'deadline', error);
    if (this.listening) {
      this.emit(
        report.deadlineExceeded(this.policy.config.name, now, this.attempts, deadline, this.startedAt),
      );
    }
    this.settle(false, error);
  }

  onCallerAbort(): void {
    if (this.state === 'done') return;
    const reason = this.options?.signal?.reason;
    endAll(this, 'aborted', reason);
    this.settle(false, reason);
  }

  /**
   * `done`: the one place the operation settles. Releases everything, then tells the
   * handler (or lets the policy's fallback answer for a failure).
   */
  settle(success: boolean, result: unknown): void {
    if (this.state === 'done') return;
    this.state = 'done';
    // Attempts still in flight lost (a hedge won, or the operation failed without them).
    if (this.inFlight !== undefined) endAll(this, 'aborted', result);
    release(this);
    if (success && !this.listening) this.handler.succeeded(result as T);
    else this.answer(success, result);
  }

  /** Tells the listeners, then the handler (or lets the policy's fallback answer a failure). */
  private answer(success: boolean, result: unknown): void {
    const cfg = this.policy.config;
    const signal = this.options?.signal;
    const fallback =
      !success && !this.invalidOptions && cfg.fallback !== undefined && fallbackApplies(cfg, result, signal);
    if (!success) recordAttempts(result, this.attempts);
    if (this.listening) {
      const now = this.now();
      if (fallback) this.emit(report.fallbackUsed(cfg.name, now, this.attempts, result));
      this.emit(report.operationEnd(cfg.name, now, this.attempts, this.startedAt, success, result));
    }
    if (success) this.handler.succeeded(result as T);
    else if (!fallback) this.handler.failed(result);
    else runFallback(cfg, result, { attempts: this.attempts, key: this.key, signal }, this.handler);
  }
}
