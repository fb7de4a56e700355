/**
 * breakwater: client-side resilience for Node.js services.
 *
 * @packageDocumentation
 */
import { type BackoffFactories, constant, custom, exponential } from './retry/backoff.js';

export {
  type CircuitBreaker,
  type CircuitBreakerMetrics,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
  type CircuitState,
  type CircuitStateChange,
  type CircuitStateListener,
  circuitBreaker,
  type WindowOptions,
} from './breaker/circuit-breaker.js';
export {
  type KeyedCircuitBreaker,
  type KeyedCircuitBreakerOptions,
  keyedCircuitBreaker,
} from './breaker/keyed.js';
export { type Bulkhead, type BulkheadOptions, bulkhead } from './bulkhead.js';
export { type Clock, systemClock, type TimerHandle } from './clock.js';
export { attemptsMade } from './engine/failure.js';
export type {
  AttemptSample,
  ClientAttemptInfo,
  ClientAttemptSpan,
  ObservedPolicy,
  OperationAttributes,
  OperationObserver,
  PolicyObserver,
  Telemetry,
  Throttle,
} from './engine/stages.js';
export {
  AttemptTimeoutError,
  BreakwaterError,
  type BreakwaterErrorCode,
  type BulkheadContext,
  BulkheadRejectedError,
  type CircuitOpenContext,
  CircuitOpenError,
  type DeadlineContext,
  DeadlineExceededError,
  InvalidOptionsError,
  isBreakwaterError,
} from './errors.js';
export type {
  AttemptEndEvent,
  AttemptOutcome,
  AttemptStartEvent,
  BreakwaterEvent,
  BulkheadRejectedEvent,
  CircuitRejectedEvent,
  CircuitStateChangeEvent,
  DeadlineExceededEvent,
  EventListener,
  FallbackUsedEvent,
  HedgeStartedEvent,
  LimitChangedEvent,
  OperationEndEvent,
  RetryRefusedEvent,
  RetryRefusedReason,
  RetryScheduledEvent,
} from './events.js';
export type { AdaptiveDelayOptions, HedgeOptions } from './hedge/options.js';
export { newIdempotencyKey } from './idempotency.js';
export {
  type AdaptiveLimit,
  type AdaptiveLimitCommonOptions,
  type AdaptiveLimitOptions,
  type AimdLimitOptions,
  adaptiveLimit,
  type Gradient2LimitOptions,
  type LimitChange,
  type LimitChangeListener,
  type VegasLimitOptions,
} from './limit/adaptive-limit.js';
export type { AimdOptions } from './limit/aimd.js';
export type { LimitAlgorithmName } from './limit/algorithm.js';
export type { Gradient2Options } from './limit/gradient2.js';
export {
  type AdaptiveThrottle,
  type AdaptiveThrottleOptions,
  adaptiveThrottle,
  type ThrottleSnapshot,
} from './limit/throttle.js';
export { ThrottledError } from './limit/throttled-error.js';
export type { VegasOptions } from './limit/vegas.js';
export type { LimitWindowOptions } from './limit/window.js';
export {
  type AttemptContext,
  type ExecuteOptions,
  type FallbackContext,
  type Policy,
  type PolicyOptions,
  policy,
  type RetryOn,
  type RetryOptions,
} from './policy.js';
export type {
  Backoff,
  BackoffFactories,
  BackoffFunction,
  ConstantBackoffOptions,
  CustomBackoffOptions,
  ExponentialBackoffOptions,
  Jitter,
} from './retry/backoff.js';
export {
  type RatioBudgetOptions,
  type RetryBudget,
  type RetryBudgetOptions,
  retryBudget,
  type TokenBudgetOptions,
} from './retry/budget.js';
export { isRetryableByDefault, type RetryDecision, type RetryVerdict } from './retry/classify.js';

/**
 * Backoff strategies: `backoff.exponential(options)`, `backoff.constant(delay)` and
 * `backoff.custom(fn, options)`. A plain function `(retry, previousDelay) => ms` passed as
 * `retry.backoff` is treated as `backoff.custom(fn)`.
 */
export const backoff: BackoffFactories = Object.freeze({ exponential, constant, custom });
