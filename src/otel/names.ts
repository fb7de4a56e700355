/**
 * Every name breakwater's telemetry writes: span, span events, attributes, metrics and
 * their units. No semantic convention exists yet for retries or circuit breakers; these
 * follow Polly's telemetry and the open proposal (a `breakwater.` prefix, snake_case
 * values, durations in seconds), and reuse OpenTelemetry's own names where one fits
 * (`error.type`, `http.request.resend_count`). docs/otel.md lists them in one table: a
 * change here is a change to users' dashboards.
 *
 * @module
 */

/** The instrumentation scope (tracer and meter name). */
export const SCOPE = 'breakwater';

/** The operation span is named `breakwater <policy name>`. */
export const SPAN_PREFIX = 'breakwater ';

// Attributes.
export const ATTR_POLICY = 'breakwater.policy';
export const ATTR_ATTEMPTS = 'breakwater.attempts';
export const ATTR_OUTCOME = 'breakwater.outcome';
export const ATTR_ATTEMPT = 'breakwater.attempt';
export const ATTR_ATTEMPT_OUTCOME = 'breakwater.attempt.outcome';
export const ATTR_ATTEMPT_RETRY = 'breakwater.attempt.retry';
export const ATTR_EVENT = 'breakwater.event';
export const ATTR_RETRY_DELAY = 'breakwater.retry.delay';
export const ATTR_RETRY_SERVER_HINT = 'breakwater.retry.server_hint';
export const ATTR_RETRY_REFUSED_REASON = 'breakwater.retry_refused.reason';
export const ATTR_CIRCUIT_STATE = 'breakwater.circuit.state';
export const ATTR_CIRCUIT_KEY = 'breakwater.circuit.key';
export const ATTR_CIRCUIT_RETRY_AFTER = 'breakwater.circuit.retry_after';
export const ATTR_DEADLINE_ELAPSED = 'breakwater.deadline.elapsed';
/** OpenTelemetry's stable attribute for the class of an error. */
export const ATTR_ERROR_TYPE = 'error.type';
/** OpenTelemetry's HTTP attribute: the ordinal of a resent request (1 on the first retry). */
export const ATTR_HTTP_RESEND_COUNT = 'http.request.resend_count';

// Span events.
export const EVENT_RETRY = 'breakwater.retry';
export const EVENT_RETRY_REFUSED = 'breakwater.retry_refused';
export const EVENT_CIRCUIT_REJECTED = 'breakwater.circuit_rejected';
export const EVENT_DEADLINE_EXCEEDED = 'breakwater.deadline_exceeded';

// Metrics.
export const METRIC_OPERATION_DURATION = 'breakwater.operation.duration';
export const METRIC_ATTEMPT_DURATION = 'breakwater.attempt.duration';
export const METRIC_EVENTS = 'breakwater.events';
export const METRIC_CIRCUIT_STATE = 'breakwater.circuit.state';

/** `breakwater.outcome`: how an operation ended. */
export type OperationOutcome =
  | 'success'
  | 'error'
  | 'circuit_open'
  | 'deadline_exceeded'
  | 'bulkhead_rejected'
  | 'aborted';

/** `breakwater.attempt.outcome`: how an attempt ended. */
export type AttemptOutcomeValue = 'success' | 'error' | 'timeout';

/** `breakwater.event`: what the policy decided. */
export type PolicyEventValue =
  | 'retry'
  | 'retry_refused'
  | 'circuit_rejected'
  | 'bulkhead_rejected'
  | 'deadline_exceeded'
  | 'circuit_opened'
  | 'circuit_half_opened'
  | 'circuit_closed';

/** `breakwater.circuit.state`: a breaker's state, snake_case. */
export type CircuitStateValue = 'closed' | 'open' | 'half_open' | 'isolated';

/** Every value of `breakwater.circuit.state`, in the order the gauge reports them. */
export const CIRCUIT_STATES: readonly CircuitStateValue[] = ['closed', 'open', 'half_open', 'isolated'];

/**
 * Histogram buckets in seconds: from 100 µs (an open breaker answers in microseconds)
 * to 10 s, the HTTP semantic conventions' boundaries with finer ones below 5 ms.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
