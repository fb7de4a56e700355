/**
 * The typed event stream. Every event is one member of {@link BreakwaterEvent},
 * discriminated by `type`; listeners run synchronously, and a policy with no listener
 * builds no event objects at all.
 *
 * @module
 */
import type { CircuitState } from './breaker/circuit-breaker.js';

/** Why retrying stopped. */
export type RetryRefusedReason = 'max-attempts' | 'budget' | 'deadline' | 'not-retryable' | 'circuit-open';

/** How one attempt ended. */
export type AttemptOutcome = 'success' | 'failure' | 'timeout' | 'deadline' | 'aborted';

interface Base {
  /** The policy's `name`. */
  readonly policy: string;
  /** Time of the event, ms since the epoch (the policy's clock). */
  readonly at: number;
}

/** An attempt is about to run. */
export interface AttemptStartEvent extends Base {
  readonly type: 'attempt-start';
  readonly attempt: number;
  /** The breaker key, if the call has one. */
  readonly key: string | undefined;
}

/** An attempt ended. */
export interface AttemptEndEvent extends Base {
  readonly type: 'attempt-end';
  readonly attempt: number;
  readonly key: string | undefined;
  readonly durationMs: number;
  readonly outcome: AttemptOutcome;
  /** The attempt's error, unless it succeeded. */
  readonly error: unknown;
}

/** A failed attempt will be retried after `delayMs`. */
export interface RetryScheduledEvent extends Base {
  readonly type: 'retry-scheduled';
  /** The attempt that failed; the next one is `attempt + 1`. */
  readonly attempt: number;
  readonly delayMs: number;
  /** 'backoff' when the delay was computed, 'server-hint' when the server asked for it. */
  readonly reason: 'backoff' | 'server-hint';
  readonly error: unknown;
}

/** A failed attempt will not be retried. */
export interface RetryRefusedEvent extends Base {
  readonly type: 'retry-refused';
  readonly attempt: number;
  readonly reason: RetryRefusedReason;
  readonly error: unknown;
}

/** A call of this policy moved its circuit breaker to another state. */
export interface CircuitStateChangeEvent extends Base {
  readonly type: 'circuit-state-change';
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly key: string | undefined;
}

/** The circuit breaker refused an attempt. */
export interface CircuitRejectedEvent extends Base {
  readonly type: 'circuit-rejected';
  readonly attempt: number;
  readonly key: string | undefined;
  readonly retryAfterMs: number;
}

/** The bulkhead refused the operation. */
export interface BulkheadRejectedEvent extends Base {
  readonly type: 'bulkhead-rejected';
  readonly active: number;
  readonly queued: number;
}

/** The operation's deadline passed before it finished. */
export interface DeadlineExceededEvent extends Base {
  readonly type: 'deadline-exceeded';
  /** Attempts started so far. */
  readonly attempt: number;
  readonly deadline: number;
  readonly elapsedMs: number;
}

/** An adaptive limit (`adaptiveLimit()`) moved, at most once per sample window. */
export interface LimitChangedEvent extends Base {
  readonly type: 'limit-changed';
  readonly previous: number;
  readonly limit: number;
}

/** Hedging sent another attempt while the others still run. */
export interface HedgeStartedEvent extends Base {
  readonly type: 'hedge-started';
  /** The number of the attempt being sent (2 for the first hedge). */
  readonly attempt: number;
  /** Time since the operation started, ms. */
  readonly afterMs: number;
}

/** The operation failed and the policy's `fallback` answers in its place. */
export interface FallbackUsedEvent extends Base {
  readonly type: 'fallback-used';
  /** Attempts made. */
  readonly attempts: number;
  /** The failure the fallback answers for. */
  readonly error: unknown;
}

/** The operation settled. */
export interface OperationEndEvent extends Base {
  readonly type: 'operation-end';
  readonly attempts: number;
  readonly durationMs: number;
  readonly outcome: 'success' | 'failure';
  readonly error: unknown;
}

/** Every event a policy emits. Narrow it with `event.type`. */
export type BreakwaterEvent =
  | AttemptStartEvent
  | AttemptEndEvent
  | RetryScheduledEvent
  | RetryRefusedEvent
  | CircuitStateChangeEvent
  | CircuitRejectedEvent
  | BulkheadRejectedEvent
  | DeadlineExceededEvent
  | HedgeStartedEvent
  | LimitChangedEvent
  | FallbackUsedEvent
  | OperationEndEvent;

/** A listener of {@link BreakwaterEvent}s. */
export type EventListener = (event: BreakwaterEvent) => void;
