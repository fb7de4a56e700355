/**
 * How an ended operation, an attempt and an error are named in telemetry: the bounded
 * values of `breakwater.outcome`, `breakwater.attempt.outcome` and `error.type`. Error
 * messages, keys and URLs never become attribute values.
 *
 * @module
 */
import type { CircuitState } from '../breaker/circuit-breaker.js';
import { isBreakwaterError } from '../errors.js';
import type { AttemptOutcome, RetryRefusedReason } from '../events.js';
import type { AttemptOutcomeValue, CircuitStateValue, OperationOutcome, PolicyEventValue } from './names.js';

/**
 * The outcome of a failed operation, from its error:
 * - breakwater's rejections by `code`: circuit open, deadline exceeded, bulkhead full;
 *   also when an adapter surfaced one as its transport's error with the rejection as
 *   `cause` (gRPC does);
 * - `aborted` when the caller aborted: the error is the one an attempt was aborted with
 *   (`abortedWith`), or an `AbortError` / `TimeoutError` (what `AbortController.abort()`
 *   and `AbortSignal.timeout()` give when no reason of one's own is passed);
 * - `error` for everything else (the last attempt's own error, a timed-out last attempt).
 */
export function failureOutcome(error: unknown, abortedWith: unknown): OperationOutcome {
  if (abortedWith !== undefined && error === abortedWith) return 'aborted';
  const own = rejectionOutcome(error);
  if (own !== undefined) return own;
  const cause =
    typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
  const wrapped = rejectionOutcome(cause);
  if (wrapped !== undefined) return wrapped;
  return isAbortError(error) ? 'aborted' : 'error';
}

function rejectionOutcome(error: unknown): OperationOutcome | undefined {
  if (!isBreakwaterError(error)) return undefined;
  switch (error.code) {
    case 'BREAKWATER_CIRCUIT_OPEN':
      return 'circuit_open';
    case 'BREAKWATER_DEADLINE_EXCEEDED':
      return 'deadline_exceeded';
    case 'BREAKWATER_BULKHEAD_FULL':
      return 'bulkhead_rejected';
    default:
      return undefined;
  }
}

function isAbortError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const name = (error as { name?: unknown }).name;
  return name === 'AbortError' || (name === 'TimeoutError' && error instanceof DOMException);
}

/**
 * `breakwater.attempt.outcome`: an attempt cut short by its timeout or by the deadline is
 * a `timeout`; a failed one, and one the caller aborted, an `error`.
 */
export function attemptOutcome(outcome: AttemptOutcome): AttemptOutcomeValue {
  switch (outcome) {
    case 'success':
      return 'success';
    case 'timeout':
    case 'deadline':
      return 'timeout';
    default:
      return 'error';
  }
}

/**
 * `error.type`, as OpenTelemetry's conventions ask: a low-cardinality class of the error.
 * breakwater's errors give their `code`, an HTTP status error its status code, an error
 * with a string `code` that code (`ECONNRESET`, `UND_ERR_SOCKET`), a gRPC error its
 * numeric status code, anything else its `name` (`TypeError`); `_OTHER` when there is
 * nothing to go by.
 */
export function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  const e = error as { code?: unknown; statusCode?: unknown; name?: unknown };
  if (isBreakwaterError(error)) return error.code;
  if (typeof e.statusCode === 'number' && Number.isInteger(e.statusCode)) return String(e.statusCode);
  if (typeof e.code === 'string' && e.code.length > 0 && e.code.length <= 64) return e.code;
  // A DOMException's numeric `code` is a legacy alias of its name (20 for AbortError).
  if (typeof e.code === 'number' && Number.isInteger(e.code) && !(error instanceof DOMException)) {
    return String(e.code);
  }
  if (typeof e.name === 'string' && e.name.length > 0 && e.name.length <= 64) return e.name;
  return '_OTHER';
}

/** `breakwater.retry_refused.reason`: the event's reason, snake_case. */
export const REFUSED_REASON: Readonly<Record<RetryRefusedReason, string>> = Object.freeze({
  'max-attempts': 'max_attempts',
  budget: 'budget',
  deadline: 'deadline',
  'not-retryable': 'not_retryable',
  'circuit-open': 'circuit_open',
});

/** `breakwater.circuit.state`: the breaker's state, snake_case. */
export const STATE_VALUE: Readonly<Record<CircuitState, CircuitStateValue>> = Object.freeze({
  closed: 'closed',
  open: 'open',
  'half-open': 'half_open',
  isolated: 'isolated',
});

/** The `breakwater.event` a state change counts as; none for a move to `isolated`. */
export function stateChangeEvent(to: CircuitState): PolicyEventValue | undefined {
  switch (to) {
    case 'open':
      return 'circuit_opened';
    case 'half-open':
      return 'circuit_half_opened';
    case 'closed':
      return 'circuit_closed';
    default:
      return undefined;
  }
}
