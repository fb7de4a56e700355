/**
 * What one operation holds, and the bookkeeping around it: the attempts in flight, the
 * deadline's timer, the caller's listener, the bulkhead slot, and the events it reports.
 * The transitions of its state machine are in `operation.ts`; this is what they use.
 *
 * @internal
 * @module
 */
import { type AbortSubscriber, unsubscribeAbort } from '../abort.js';
import type { CircuitBreaker, CircuitState } from '../breaker/circuit-breaker.js';
import { defaultIsFailure } from '../breaker/options.js';
import type { TimerHandle } from '../clock.js';
import { DeadlineExceededError } from '../errors.js';
import type { BreakwaterEvent } from '../events.js';
import type { ExecuteOptions, PolicyRuntime } from '../types.js';
import type { Attempt, AttemptEnd } from './attempt.js';
import { bookAttempt, isOpen } from './breaker.js';
import type { OperationHandler } from './handler.js';
import * as report from './report.js';
import type { OperationObserver } from './stages.js';
import { arm, disarm, type TimedEntry } from './timers.js';

/** Where an operation is in its life (see `operation.ts`). */
export type OperationState = 'admitting' | 'queued' | 'attempting' | 'waiting' | 'done';

export abstract class OperationBase<T> implements TimedEntry, AbortSubscriber {
  state: OperationState = 'admitting';
  readonly key: string | undefined;
  /** The operation's deadline, ms since the epoch, once known. */
  deadline: number | undefined;
  protected readonly policy: PolicyRuntime;
  protected readonly handler: OperationHandler<T>;
  protected readonly options: ExecuteOptions | undefined;
  protected readonly observer: OperationObserver | undefined;
  protected breaker: CircuitBreaker | undefined = undefined;
  protected startedAt = 0;
  /** Attempts started. */
  protected attempts = 0;
  /** The attempts in flight: the first here, more (hedges) in `more`. */
  protected inFlight: Attempt | undefined = undefined;
  protected more: Attempt[] | undefined = undefined;
  protected failures = 0;
  protected lastError: unknown = undefined;
  /** Hedging: the first attempt's failure (what the caller gets when every attempt fails). */
  protected firstFailure: unknown = undefined;
  /** Hedging: no more hedges are sent (the budget or a server's pushback said so). */
  protected hedgesStopped = false;
  /** Refused for invalid options (see `refuse`): no fallback answers for those. */
  protected invalidOptions = false;
  protected previousDelay = 0;
  protected waitTimer: TimerHandle | undefined = undefined;
  protected onWaitOver: (() => void) | undefined = undefined;
  protected cancelQueue: (() => void) | undefined = undefined;
  protected holdsSlot = false;
  protected subscribed = false;
  #deadlineArmed = false;
  #generatedKey: string | undefined = undefined;
  // TimedEntry (the deadline)
  timerAt = 0;
  timerDone = true;
  ownTimer: TimerHandle | undefined = undefined;

  constructor(
    policy: PolicyRuntime,
    handler: OperationHandler<T> | undefined,
    options: ExecuteOptions | undefined,
    observer: OperationObserver | undefined,
  ) {
    this.policy = policy;
    // Without a handler, the operation is its own (see `ExecuteOperation`).
    this.handler = handler ?? (this as unknown as OperationHandler<T>);
    this.options = options;
    this.observer = observer;
    this.key = options?.key;
    const deadline = options?.deadline;
    this.deadline = deadline === Number.POSITIVE_INFINITY ? undefined : deadline;
  }

  /** The deadline's timer fired. */
  abstract onTimer(): void;
  /** The caller's signal aborted (called by src/abort.ts). */
  abstract onCallerAbort(): void;

  now(): number {
    return this.policy.config.clock.now();
  }

  idempotencyKey(): string | undefined {
    const own = this.options?.idempotencyKey;
    if (own !== undefined) return own;
    const generate = this.policy.config.generateKey;
    if (generate === undefined) return undefined;
    this.#generatedKey ??= generate();
    return this.#generatedKey;
  }

  /** Whether anyone hears events (a listener, or an observer): events are built only then. */
  protected get listening(): boolean {
    return this.observer !== undefined || this.policy.emit !== undefined;
  }

  protected emit(event: BreakwaterEvent): void {
    this.observer?.event(event);
    this.policy.emit?.(event);
  }

  /**
   * Whether a stage times attempts (a slow-call rule, an adaptive limit, a throttle, a
   * hedge delay): then the clock is read when each attempt starts and ends. The one place
   * that decides it, for both ends.
   */
  protected timesAttempts(): boolean {
    const cfg = this.policy.config;
    return (
      cfg.hedge !== undefined ||
      cfg.throttle !== undefined ||
      cfg.bulkhead?.sample !== undefined ||
      this.breaker?.measuresDuration === true
    );
  }

  /** Adds an attempt to those in flight. */
  protected track(attempt: Attempt): void {
    if (this.inFlight === undefined) this.inFlight = attempt;
    else if (this.more === undefined) this.more = [attempt];
    else this.more.push(attempt);
  }

  /**
   * Books an attempt's end, once: its timer, the breaker, the budget, the admission
   * stage's sample, the event. Returns the time (0 when nothing needed it).
   */
  protected book(attempt: Attempt, end: AttemptEnd, error: unknown): number {
    const policy = this.policy;
    const cfg = policy.config;
    attempt.ended = true;
    const more = this.more;
    if (this.inFlight === attempt) this.inFlight = more?.shift();
    else more?.splice(more.indexOf(attempt) >>> 0, 1);
    disarm(policy.attemptLane, cfg.clock, attempt);
    const breaker = this.breaker;
    const bulkhead = cfg.bulkhead;
    const listening = this.listening;
    const hedge = cfg.hedge;
    const now = end !== 'success' || listening || this.timesAttempts() ? cfg.clock.now() : 0;
    if (breaker !== undefined) {
      const from = listening ? breaker.current : undefined;
      bookAttempt(breaker, attempt, end, error, now);
      if (from !== undefined) this.circuitChange(breaker, from, now);
    }
    if (end === 'success') cfg.budget?.onSuccess();
    // The adaptive hedge delay learns every attempt's latency; a loser's is only a floor.
    if (hedge !== undefined) {
      if (end === 'aborted') hedge.recordAbandoned(now - attempt.startedAt, now);
      else if (end !== 'deadline') hedge.recordAttempt(now - attempt.startedAt, now);
    }
    // An adaptive limit learns from how long attempts take and which are dropped; a
    // throttle, from which the dependency accepted. An abandoned attempt says nothing.
    const throttle = cfg.throttle;
    if (end !== 'aborted' && (bulkhead?.sample !== undefined || throttle !== undefined)) {
      const against =
        end === 'timeout' ||
        end === 'deadline' ||
        (end === 'failure' &&
          (breaker === undefined ? defaultIsFailure(error) : breaker.countsAsFailure(error)));
      throttle?.record(!against, now);
      const change = bulkhead?.sample?.({
        durationMs: now - attempt.startedAt,
        dropped: against,
        inFlight: bulkhead.active,
        now,
      });
      if (change !== undefined && listening) {
        this.emit(report.limitChanged(cfg.name, now, change.previous, change.limit));
      }
    }
    if (listening) this.emit(report.attemptEnd(cfg.name, now, attempt, this.key, end, error));
    return now;
  }

  /** Ends every attempt in flight with `end`, and aborts its signal with `reason`. */
  protected endAll(end: AttemptEnd, reason: unknown): void {
    let attempt = this.inFlight;
    while (attempt !== undefined) {
      this.book(attempt, end, reason);
      attempt.abort(reason);
      attempt = this.inFlight;
    }
  }

  /** Releases the timers, the caller's listener, the queue place and the bulkhead slot. */
  protected release(): void {
    const policy = this.policy;
    const cfg = policy.config;
    if (this.#deadlineArmed) disarm(policy.deadlineLane, cfg.clock, this);
    if (this.waitTimer !== undefined) {
      cfg.clock.clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
    }
    if (this.cancelQueue !== undefined) {
      this.cancelQueue();
      this.cancelQueue = undefined;
    }
    if (this.subscribed) {
      this.subscribed = false;
      unsubscribeAbort(this.options?.signal as AbortSignal, this);
    }
    if (this.holdsSlot) {
      this.holdsSlot = false;
      cfg.bulkhead?.release();
    }
  }

  /** Arms the deadline's timer, once: while queued, or while an attempt only it can stop runs. */
  protected armDeadline(now: number): void {
    const deadline = this.deadline;
    if (this.#deadlineArmed || deadline === undefined) return;
    this.#deadlineArmed = true;
    this.timerAt = deadline;
    arm(this.policy.deadlineLane, this.policy.config.clock, this, now);
  }

  /** Whether the breaker refuses attempts now (reading it may move open to half-open). */
  breakerOpen(now: number): boolean {
    const breaker = this.breaker;
    if (breaker === undefined) return false;
    const from = this.listening ? breaker.current : undefined;
    const open = isOpen(breaker);
    if (from !== undefined) this.circuitChange(breaker, from, now);
    return open;
  }

  /**
   * The rejection for a deadline that passed at `now`: it names the policy, the time spent
   * and the attempts made; its cause is the last failed attempt's error.
   */
  protected deadlineError(deadline: number, now: number): DeadlineExceededError {
    const policy = this.policy.config.name;
    const attempts = this.attempts;
    const elapsedMs = now - this.startedAt;
    return this.failures > 0
      ? new DeadlineExceededError(deadline, { cause: this.lastError, policy, attempts, elapsedMs })
      : new DeadlineExceededError(deadline, { policy, attempts, elapsedMs });
  }

  /** The breaker refused attempt `number`: the event, and the error to reject with. */
  protected circuitRejection(breaker: CircuitBreaker, number: number): unknown {
    if (this.listening) {
      this.emit(report.circuitRejected(this.policy.config.name, this.now(), number, this.key, breaker));
    }
    return breaker.rejection(this.failures > 0 ? this.lastError : undefined, this.policy.rejectionContext);
  }

  protected circuitChange(breaker: CircuitBreaker, from: CircuitState, now: number): void {
    if (breaker.current !== from) {
      this.emit(report.circuitChange(this.policy.config.name, now, from, breaker.current, this.key));
    }
  }
}
