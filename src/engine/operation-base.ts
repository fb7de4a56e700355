/**
 * What one operation holds: its state, the attempts in flight, the deadline's timer, the
 * caller's listener, the bulkhead slot, what the hedge and retry stages keep between
 * attempts. The transitions of its state machine are in `operation.ts`; the bookkeeping
 * of an attempt's end and of the settle is in `book.ts`; the stages (breaker.ts, hedge.ts,
 * timers.ts, ...) read and write what they need here.
 *
 * The fields are assigned in the constructor, never by class-field initializers, and none
 * is `#private`: on Node 20, a field initializer anywhere in a class hierarchy makes every
 * `new` of a subclass several times slower (the bench measures it), and an operation is
 * made on every call.
 *
 * @internal
 * @module
 */
import type { CircuitBreaker } from '../breaker/circuit-breaker.js';
import type { TimerHandle } from '../clock.js';
import type { BreakwaterEvent } from '../events.js';
import type { ExecuteOptions, PolicyRuntime } from '../types.js';
import type { Attempt } from './attempt.js';
import type { OperationHandler } from './handler.js';
import type { OperationObserver } from './stages.js';

/** Where an operation is in its life (see `operation.ts`). */
export type OperationState = 'admitting' | 'queued' | 'attempting' | 'waiting' | 'done';

export abstract class OperationBase<T> {
  state: OperationState;
  readonly key: string | undefined;
  /** The operation's deadline, ms since the epoch, once known. */
  deadline: number | undefined;
  readonly policy: PolicyRuntime;
  readonly handler: OperationHandler<T>;
  readonly options: ExecuteOptions | undefined;
  readonly observer: OperationObserver | undefined;
  breaker: CircuitBreaker | undefined;
  startedAt: number;
  /** Attempts started. */
  attempts: number;
  /** The attempts in flight: the first here, more (hedges) in `more`. */
  inFlight: Attempt | undefined;
  more: Attempt[] | undefined;
  failures: number;
  lastError: unknown;
  /** Hedging: the first attempt's failure (what the caller gets when every attempt fails). */
  firstFailure: unknown;
  /** Hedging: no more hedges are sent (the budget or a server's pushback said so). */
  hedgesStopped: boolean;
  /** Refused for invalid options (see `refuse`): no fallback answers for those. */
  invalidOptions: boolean;
  previousDelay: number;
  /** The backoff's wait, or the hedge delay's timer. */
  waitTimer: TimerHandle | undefined;
  cancelQueue: (() => void) | undefined;
  holdsSlot: boolean;
  subscribed: boolean;
  generatedKey: string | undefined;
  // TimedEntry (the deadline): `timerAt` is 0 until it is armed.
  timerAt: number;
  timerDone: boolean;
  ownTimer: TimerHandle | undefined;

  constructor(
    policy: PolicyRuntime,
    handler: OperationHandler<T> | undefined,
    options: ExecuteOptions | undefined,
    observer: OperationObserver | undefined,
  ) {
    this.state = 'admitting';
    this.key = options?.key;
    const deadline = options?.deadline;
    this.deadline = deadline === Number.POSITIVE_INFINITY ? undefined : deadline;
    this.policy = policy;
    // Without a handler, the operation is its own (see `ExecuteOperation`).
    this.handler = handler ?? (this as unknown as OperationHandler<T>);
    this.options = options;
    this.observer = observer;
    this.breaker = undefined;
    this.startedAt = 0;
    this.attempts = 0;
    this.inFlight = undefined;
    this.more = undefined;
    this.failures = 0;
    this.lastError = undefined;
    this.firstFailure = undefined;
    this.hedgesStopped = false;
    this.invalidOptions = false;
    this.previousDelay = 0;
    this.waitTimer = undefined;
    this.cancelQueue = undefined;
    this.holdsSlot = false;
    this.subscribed = false;
    this.generatedKey = undefined;
    this.timerAt = 0;
    this.timerDone = true;
    this.ownTimer = undefined;
  }

  /** `attempting`: starts the next attempt (see `Operation.beginAttempt`). */
  abstract beginAttempt(now: number): void;
  /** `done`: settles the operation, once (see `Operation.settle`). */
  abstract settle(success: boolean, result: unknown): void;
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
    this.generatedKey ??= generate();
    return this.generatedKey;
  }

  /** Whether anyone hears events (a listener, or an observer): events are built only then. */
  get listening(): boolean {
    return this.observer !== undefined || this.policy.emit !== undefined;
  }

  emit(event: BreakwaterEvent): void {
    this.observer?.event(event);
    this.policy.emit?.(event);
  }
}
