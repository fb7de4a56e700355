/**
 * The report stage: builds the events an operation emits. The operation builds one only
 * when someone listens (an `onEvent` listener, or an observer such as telemetry).
 *
 * @internal
 * @module
 */

import type { CircuitBreaker, CircuitState } from '../breaker/circuit-breaker.js';
import type { Bulkhead } from '../bulkhead.js';
import type {
  AttemptEndEvent,
  AttemptStartEvent,
  BulkheadRejectedEvent,
  CircuitRejectedEvent,
  CircuitStateChangeEvent,
  DeadlineExceededEvent,
  FallbackUsedEvent,
  HedgeStartedEvent,
  LimitChangedEvent,
  OperationEndEvent,
  RetryRefusedEvent,
  RetryRefusedReason,
  RetryScheduledEvent,
} from '../events.js';
import type { Attempt, AttemptEnd } from './attempt.js';

export function attemptStart(
  policy: string,
  at: number,
  attempt: number,
  key: string | undefined,
): AttemptStartEvent {
  return { type: 'attempt-start', policy, at, attempt, key };
}

export function attemptEnd(
  policy: string,
  at: number,
  attempt: Attempt,
  key: string | undefined,
  outcome: AttemptEnd,
  error: unknown,
): AttemptEndEvent {
  return {
    type: 'attempt-end',
    policy,
    at,
    attempt: attempt.attempt,
    key,
    durationMs: at - attempt.startedAt,
    outcome,
    error: outcome === 'success' ? undefined : error,
  };
}

export function retryScheduled(
  policy: string,
  at: number,
  attempt: number,
  delayMs: number,
  hinted: boolean,
  error: unknown,
): RetryScheduledEvent {
  return {
    type: 'retry-scheduled',
    policy,
    at,
    attempt,
    delayMs,
    reason: hinted ? 'server-hint' : 'backoff',
    error,
  };
}

export function retryRefused(
  policy: string,
  at: number,
  attempt: number,
  reason: RetryRefusedReason,
  error: unknown,
): RetryRefusedEvent {
  return { type: 'retry-refused', policy, at, attempt, reason, error };
}

export function circuitChange(
  policy: string,
  at: number,
  from: CircuitState,
  to: CircuitState,
  key: string | undefined,
): CircuitStateChangeEvent {
  return { type: 'circuit-state-change', policy, at, from, to, key };
}

export function circuitRejected(
  policy: string,
  at: number,
  attempt: number,
  key: string | undefined,
  breaker: CircuitBreaker,
): CircuitRejectedEvent {
  return { type: 'circuit-rejected', policy, at, attempt, key, retryAfterMs: breaker.retryAfterMs() };
}

export function bulkheadRejected(
  policy: string,
  at: number,
  bulkhead: Pick<Bulkhead, 'active' | 'queued'>,
): BulkheadRejectedEvent {
  return { type: 'bulkhead-rejected', policy, at, active: bulkhead.active, queued: bulkhead.queued };
}

export function deadlineExceeded(
  policy: string,
  at: number,
  attempts: number,
  deadline: number,
  startedAt: number,
): DeadlineExceededEvent {
  return { type: 'deadline-exceeded', policy, at, attempt: attempts, deadline, elapsedMs: at - startedAt };
}

export function operationEnd(
  policy: string,
  at: number,
  attempts: number,
  startedAt: number,
  success: boolean,
  result: unknown,
): OperationEndEvent {
  return {
    type: 'operation-end',
    policy,
    at,
    attempts,
    durationMs: at - startedAt,
    outcome: success ? 'success' : 'failure',
    error: success ? undefined : result,
  };
}

export function fallbackUsed(
  policy: string,
  at: number,
  attempts: number,
  error: unknown,
): FallbackUsedEvent {
  return { type: 'fallback-used', policy, at, attempts, error };
}

export function hedgeStarted(
  policy: string,
  at: number,
  attempt: number,
  startedAt: number,
): HedgeStartedEvent {
  return { type: 'hedge-started', policy, at, attempt, afterMs: at - startedAt };
}

export function limitChanged(policy: string, at: number, previous: number, limit: number): LimitChangedEvent {
  return { type: 'limit-changed', policy, at, previous, limit };
}
