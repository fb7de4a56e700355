/**
 * The circuit breaker's public types: its options, states, snapshots and interface.
 *
 * @module
 */
import type { Clock } from '../clock.js';
import type { CircuitOpenError } from '../errors.js';
import type { Backoff } from '../retry/backoff.js';

/** The four states of a breaker. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** The sliding window the failure and slow-call rates are computed over. */
export type WindowOptions =
  | {
      type: 'count';
      /** Number of most recent calls. */
      size: number;
    }
  | {
      type: 'time';
      /** Length of the window, in ms. */
      durationMs: number;
      /**
       * Number of buckets the window is kept in (its resolution). The oldest bucket leaves
       * the window as a whole, so the window holds the calls of the last `durationMs` minus
       * up to one bucket (the current bucket included).
       * @default 10
       */
      buckets?: number | undefined;
    };

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * Window over which rates are computed.
   * @default { type: 'count', size: 100 }
   */
  window?: WindowOptions | undefined;
  /**
   * Open when failures / calls in the window reaches this, in (0, 1].
   * @default 0.5
   */
  failureRateThreshold?: number | undefined;
  /**
   * Rates are only judged once the window holds at least this many calls.
   * @default 20 (capped at the count window's size)
   */
  minimumCalls?: number | undefined;
  /**
   * Also open after this many failures in a row. When this is the only rule you set
   * (no `window`, `failureRateThreshold`, `minimumCalls` or `slowCall`), the breaker is a
   * pure consecutive-failures breaker and the rate rule is off.
   */
  consecutiveFailures?: number | undefined;
  /** Optional: calls at least `durationMs` long count as slow; open when slow / calls reaches `rateThreshold`. */
  slowCall?: { durationMs: number; rateThreshold: number } | undefined;
  /**
   * How long the breaker stays open before letting probes through, in ms; or a
   * {@link Backoff} whose delay grows with each consecutive re-open (reset on close).
   * `backoff.exponential` defaults to full jitter, which can draw an open time close to 0;
   * pass `jitter: 'none'` or `'equal'` for a growing open time with a floor.
   * @default 5_000
   */
  openDuration?: number | Backoff | undefined;
  /**
   * Half-open probing: at most `maxProbes` calls in flight at once (others are rejected at
   * once, not queued); `successThreshold` successful probes in a row close the breaker;
   * any failed or slow probe re-opens it.
   * @default { maxProbes: 1, successThreshold: 1 }
   */
  halfOpen?: { maxProbes?: number | undefined; successThreshold?: number | undefined } | undefined;
  /**
   * Which errors count against the dependency.
   * @default every error except breakwater's own rejections (circuit open, bulkhead full)
   */
  isFailure?: ((error: unknown) => boolean) | undefined;
  /** Restores a state saved with {@link CircuitBreaker.toJSON}. */
  initialState?: CircuitBreakerSnapshot | undefined;
  /** Source of time. @default systemClock */
  clock?: Clock | undefined;
}

/** A state change, delivered to {@link CircuitBreaker.onStateChange} listeners. */
export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Time of the change, ms since the epoch. */
  readonly at: number;
  /** The key, for a breaker inside a keyed breaker. */
  readonly key: string | undefined;
  /** When `to` is 'open': ms until probes are let through. */
  readonly openForMs: number | undefined;
}

/** A serialisable breaker state; pass it back as `initialState` to restore. */
export interface CircuitBreakerSnapshot {
  readonly state: CircuitState;
  /** When open: the time (ms since the epoch) probes are let through. */
  readonly openUntil?: number;
  /** Consecutive re-opens so far (drives a growing `openDuration`). */
  readonly reopenCount?: number;
}

/**
 * A breaker's counts at one moment, from {@link CircuitBreaker.metrics}: what the
 * failure-rate and slow-call rules see now. Built in O(1) (a time window first drops the
 * buckets that left it: O(buckets)).
 */
export interface CircuitBreakerMetrics {
  /** The state, as {@link CircuitBreaker.state} reads it. */
  readonly state: CircuitState;
  /** The window's kind: `'none'` for a pure consecutive-failures breaker. */
  readonly window: 'count' | 'time' | 'none';
  /** Calls recorded in the window (emptied when the breaker closes). */
  readonly calls: number;
  /** Failed calls in the window (as `isFailure` judged them). */
  readonly failures: number;
  /** Slow calls in the window (0 without a `slowCall` rule). */
  readonly slowCalls: number;
  /** failures / calls, or 0 when the window is empty. */
  readonly failureRate: number;
  /** slowCalls / calls, or 0 when the window is empty. */
  readonly slowCallRate: number;
  /** The rates are judged only once `calls` reaches this. */
  readonly minimumCalls: number;
  /** Failures in a row while closed (the `consecutiveFailures` rule's count). */
  readonly consecutiveFailures: number;
  /** When open: ms until a probe is let through; `Infinity` when isolated; otherwise 0. */
  readonly retryAfterMs: number;
  /** When half-open: probes in flight now, and probes that succeeded in a row so far. */
  readonly halfOpen: { readonly inFlight: number; readonly successes: number } | undefined;
  /** Consecutive re-opens so far (drives a growing `openDuration`). */
  readonly reopenCount: number;
}

/** Listener of state changes. */
export type CircuitStateListener = (change: CircuitStateChange) => void;

/**
 * A circuit breaker. Safe to share between policies; every attempt of every policy that
 * holds it is counted in the same window.
 */
export interface CircuitBreaker {
  /**
   * Distinguishes it from a keyed breaker (whose `keyed` is true), so that
   * `policy.circuitBreaker` narrows: `if (breaker && !breaker.keyed) breaker.metrics()`.
   */
  readonly keyed: false;
  /** The current state. Reading it lets an open breaker whose time is up turn half-open. */
  readonly state: CircuitState;
  /** Forces the breaker open until {@link CircuitBreaker.reset} (maintenance, kill switch). */
  isolate(): void;
  /** Closes the breaker and forgets the window. */
  reset(): void;
  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: CircuitStateListener): () => void;
  /** A snapshot that `circuitBreaker({ initialState })` restores. */
  toJSON(): CircuitBreakerSnapshot;
  /**
   * The breaker's counts now: state, calls, failures and slow calls in the window, their
   * rates, the consecutive-failure count, and the wait until a probe. For dashboards and
   * health checks; reading it, like reading `state`, lets an open breaker whose time is up
   * turn half-open.
   */
  metrics(): CircuitBreakerMetrics;
  /** @internal Asks to run one call: a permit (≥ 0) or -1 when refused. */
  acquire(): number;
  /** @internal Why the last `acquire()` was refused: ms until a probe may pass. */
  retryAfterMs(): number;
  /**
   * @internal Builds the rejection for a refused acquire; `context.policy` names the policy
   * in the error.
   */
  rejection(cause: unknown, context?: { readonly policy?: string | undefined }): CircuitOpenError;
  /** @internal Whether `error` counts against the dependency (the breaker's `isFailure`). */
  countsAsFailure(error: unknown): boolean;
  /** @internal The outcome of a call admitted with `permit`. */
  record(permit: number, error: unknown, failed: boolean, durationMs: number): void;
  /** @internal A call admitted with `permit` ended with no verdict (e.g. the caller aborted). */
  release(permit: number): void;
  /** @internal The state as stored, without letting time turn open into half-open. */
  readonly current: CircuitState;
  /** @internal Whether `record` needs a duration (slow-call rule). */
  readonly measuresDuration: boolean;
}
