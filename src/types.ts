/**
 * The public types of a policy, and what an execution needs of its policy. Kept apart from
 * `policy.ts` so that the engine (`engine/operation.ts`) and the policy that
 * creates it do not import each other.
 *
 * @module
 */

import type { AttemptContext } from './attempt-context.js';
import type { CircuitBreaker } from './breaker/circuit-breaker.js';
import type { KeyedCircuitBreaker } from './breaker/keyed.js';
import type { Bulkhead } from './bulkhead.js';
import type { Clock } from './clock.js';
import type { TimerLane } from './deadline.js';
import type { Admission, Telemetry, Throttle } from './engine/stages.js';
import type { BreakwaterEvent, EventListener } from './events.js';
import type { HedgeOptions, ResolvedHedge } from './hedge/options.js';
import type { Backoff, BackoffFunction } from './retry/backoff.js';
import type { RetryBudget } from './retry/budget.js';
import type { RetryDecision } from './retry/classify.js';

export type { AttemptContext } from './attempt-context.js';

/** Decides whether a failed attempt is retried; may return a server hint. */
export type RetryOn = (error: unknown, context: AttemptContext) => RetryDecision;

/** Retry options. */
export interface RetryOptions {
  /**
   * Total attempts, the first one included: 1 means no retry.
   * @default 3
   */
  maxAttempts?: number | undefined;
  /**
   * Delay between attempts: a strategy from `backoff`, or `(retry, previousDelay) => ms`.
   * @default backoff.exponential() (100 ms doubling to 10 s, full jitter)
   */
  backoff?: Backoff | BackoffFunction | undefined;
  /**
   * Which failures to retry. Returns a boolean, or `{ retry, after }` where `after` is a
   * server-requested delay in ms. Adapters supply their transport's rules when unset.
   * @default retry everything except breakwater's rejections, aborts and programmer errors
   */
  retryOn?: RetryOn | undefined;
  /**
   * A retry budget, consulted before every retry. `false` turns budgeting off.
   * @default a budget of this policy's own: 10% of requests + 10 retries/s over 10 s
   */
  budget?: RetryBudget | false | undefined;
}

/**
 * Options of {@link policy}. Every one is optional: `policy()` makes up to 3 attempts (the
 * first and up to 2 retries) with backoff.
 */
export interface PolicyOptions {
  /**
   * Name used in events and telemetry.
   * @default 'default'
   */
  name?: string | undefined;
  /**
   * Time for the whole operation, every attempt and every wait, in ms. Unset: no deadline
   * (unless the call passes one).
   */
  deadline?: number | undefined;
  /** Time for one attempt, in ms; a timed-out attempt may be retried. Unset: none. */
  attemptTimeout?: number | undefined;
  /**
   * Retry options, or `false` for a single attempt.
   * @default { maxAttempts: 3 }
   */
  retry?: RetryOptions | false | undefined;
  /**
   * Hedging, the alternative to retries for operations safe to run twice: when an attempt
   * runs longer than `delay`, another is sent alongside it; the first success wins and the
   * others are aborted. `hedge.maxAttempts` replaces `retry.maxAttempts` (and no backoff
   * applies); `retry.retryOn` and `retry.budget` still decide which failures send the next
   * hedge at once and how many extra attempts may be sent. Unset: none.
   */
  hedge?: HedgeOptions | false | undefined;
  /** A circuit breaker, or a keyed one (one state per call key). Unset: none. */
  circuitBreaker?: CircuitBreaker | KeyedCircuitBreaker | undefined;
  /** A bulkhead (or another admission stage, such as an adaptive limit). Unset: none. */
  bulkhead?: Bulkhead | undefined;
  /** A throttle asked before every attempt (client-side adaptive throttling). Unset: none. */
  throttle?: Throttle | undefined;
  /**
   * An observer of every operation (`openTelemetry()` from `breakwater/otel`). Unset: none,
   * and nothing is paid for it.
   */
  telemetry?: Telemetry | undefined;
  /**
   * Called when the operation fails (after retries, on an open breaker, a full bulkhead or
   * a deadline); what it returns (or resolves with) becomes the operation's result. A throw
   * (or rejection) becomes the operation's error. Used by `execute`; adapters deliver
   * transport responses, not values, and refuse a policy with a fallback.
   */
  fallback?: ((error: unknown, context: FallbackContext) => unknown) | undefined;
  /**
   * Which failures reach `fallback`.
   * @default every failure except the caller's own abort
   */
  shouldFallback?: ((error: unknown) => boolean) | undefined;
  /**
   * Give every operation an idempotency key (a random UUID), stable across its attempts.
   * A caller's own key (`execute(fn, { idempotencyKey })`) is always used.
   * @default false
   */
  idempotency?: boolean | { generate: () => string } | undefined;
  /** Receives every event, synchronously. */
  onEvent?: EventListener | undefined;
  /** Source of time. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Source of randomness for jitter, uniform in [0, 1).
   * @default Math.random
   */
  random?: (() => number) | undefined;
}

/** What `fallback` learns of the operation that failed. */
export interface FallbackContext {
  /** Attempts made (0 when the operation was refused before its first). */
  readonly attempts: number;
  /** The call's key, if any. */
  readonly key: string | undefined;
  /** The caller's signal, if any. */
  readonly signal: AbortSignal | undefined;
}

/** Per-call options of {@link Policy.execute}. */
export interface ExecuteOptions {
  /** The caller's signal: aborting it rejects at once with its reason; no attempt follows. */
  signal?: AbortSignal | undefined;
  /**
   * An absolute deadline, ms since the epoch (e.g. propagated from upstream). The earliest
   * of this, `timeout` and the policy's deadline applies. A value below 1e11 is a duration,
   * not a time, and is rejected: pass `timeout` for "so many ms from now".
   */
  deadline?: number | undefined;
  /**
   * Time for this call, ms from now: every attempt and every wait. The earliest of this,
   * `deadline` and the policy's deadline applies.
   */
  timeout?: number | undefined;
  /** The caller's own idempotency key (an order id) instead of a generated one. */
  idempotencyKey?: string | undefined;
  /** Key of a keyed circuit breaker (a host, a target, a stream). */
  key?: string | undefined;
  /**
   * Classification for this call, replacing the policy's `retry.retryOn`. Adapters pass
   * their transport's rules here when the policy has none of its own. Called as a method
   * of this options object.
   */
  retryOn?: RetryOn | undefined;
}

/** @internal The validated, frozen configuration of a policy. */
export interface PolicyConfig {
  readonly name: string;
  readonly deadline: number | undefined;
  readonly attemptTimeout: number | undefined;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly retryOn: RetryOn | undefined;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreaker | undefined;
  readonly keyedBreaker: KeyedCircuitBreaker | undefined;
  readonly bulkhead: (Bulkhead & Admission) | undefined;
  readonly throttle: Throttle | undefined;
  readonly hedge: ResolvedHedge | undefined;
  readonly telemetry: Telemetry | undefined;
  readonly fallback: ((error: unknown, context: FallbackContext) => unknown) | undefined;
  readonly shouldFallback: ((error: unknown) => boolean) | undefined;
  readonly generateKey: (() => string) | undefined;
  readonly clock: Clock;
  readonly random: () => number;
}

/** A resilience policy. Immutable and shareable; see {@link policy}. */
export interface Policy {
  /** The policy's name. */
  readonly name: string;
  /** @internal The validated configuration (read-only). */
  readonly config: PolicyConfig;
  /** The policy's circuit breaker (one, or keyed), shared with every policy that has it. */
  readonly circuitBreaker: CircuitBreaker | KeyedCircuitBreaker | undefined;
  /** The policy's retry budget (its own default one, unless it was given one or none). */
  readonly retryBudget: RetryBudget | undefined;
  /** The policy's bulkhead, shared with every policy that has it. */
  readonly bulkhead: Bulkhead | undefined;
  /**
   * Runs `fn` through the policy. Resolves with its result; rejects with the last
   * attempt's own error when retrying stops, or with a {@link BreakwaterError}
   * (circuit open, deadline exceeded, bulkhead full), or the caller's abort reason.
   */
  execute<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T>;
  /** Subscribes to this policy's events; returns the unsubscribe function. */
  onEvent(listener: EventListener): () => void;
  /** A new policy with some options replaced; breakers, budgets and bulkheads stay shared. */
  with(overrides: PolicyOptions): Policy;
}

/** @internal What an execution needs of its policy (implemented by `PolicyImpl`). */
export interface PolicyRuntime {
  readonly config: PolicyConfig;
  /** What rejections name (the policy), made once per policy. */
  readonly rejectionContext: { readonly policy: string };
  /** Undefined while nobody listens, so the pipeline builds no events. */
  readonly emit: ((event: BreakwaterEvent) => void) | undefined;
  /** Shared timers for the policy's deadline and attempt timeout. */
  readonly deadlineLane: TimerLane;
  readonly attemptLane: TimerLane;
}
