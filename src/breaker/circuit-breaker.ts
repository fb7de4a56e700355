/**
 * The circuit breaker state machine. The arithmetic of windows lives in `window.ts`, option
 * validation in `options.ts` and the public types in `types.ts`; this file only decides
 * transitions.
 *
 * @module
 */
import { CircuitOpenError } from '../errors.js';
import { invalid } from '../validate.js';
import { type BreakerConfig, defaultIsFailure, resolveBreakerOptions } from './options.js';
import type {
  CircuitBreaker,
  CircuitBreakerMetrics,
  CircuitBreakerOptions,
  CircuitBreakerSnapshot,
  CircuitState,
  CircuitStateChange,
  CircuitStateListener,
} from './types.js';
import { CountWindow, type OutcomeWindow, TimeWindow } from './window.js';

export type {
  CircuitBreaker,
  CircuitBreakerMetrics,
  CircuitBreakerOptions,
  CircuitBreakerSnapshot,
  CircuitState,
  CircuitStateChange,
  CircuitStateListener,
  WindowOptions,
} from './types.js';

type State =
  | { readonly kind: 'closed' }
  | { readonly kind: 'open'; readonly until: number }
  | { readonly kind: 'half-open'; inFlight: number; successes: number }
  | { readonly kind: 'isolated' };

const CLOSED: State = Object.freeze({ kind: 'closed' });
const ISOLATED: State = Object.freeze({ kind: 'isolated' });

/** @internal The breaker implementation, also used per key by the keyed breaker. */
export class Breaker implements CircuitBreaker {
  readonly keyed = false as const;
  readonly #config: BreakerConfig;
  readonly #window: OutcomeWindow | undefined;
  readonly #key: string | undefined;
  readonly #onChange: ((change: CircuitStateChange) => void) | undefined;
  readonly measuresDuration: boolean;
  #listeners: CircuitStateListener[] = [];
  #state: State = CLOSED;
  /** Bumped on every transition; a permit from an older generation is ignored. */
  #generation = 0;
  #consecutive = 0;
  #reopens = 0;
  #lastOpenFor = 0;
  #retryAfter = 0;

  constructor(
    config: BreakerConfig,
    initial?: CircuitBreakerSnapshot,
    key?: string,
    onChange?: (change: CircuitStateChange) => void,
  ) {
    this.#config = config;
    this.#key = key;
    this.#onChange = onChange;
    const w = config.window;
    this.#window =
      w === undefined
        ? undefined
        : w.type === 'count'
          ? new CountWindow(w.size)
          : new TimeWindow(w.durationMs, w.buckets ?? 10);
    this.measuresDuration = config.slowCall !== undefined;
    if (initial !== undefined) this.#restore(initial);
  }

  #restore(s: CircuitBreakerSnapshot): void {
    this.#reopens = s.reopenCount ?? 0;
    switch (s.state) {
      case 'open':
      case 'half-open':
        // A restored half-open breaker has no probes in flight: restart it as open with its
        // time up, so the next call becomes the first probe.
        this.#state = { kind: 'open', until: s.state === 'open' ? (s.openUntil ?? 0) : 0 };
        break;
      case 'isolated':
        this.#state = ISOLATED;
        break;
      default:
        this.#state = CLOSED;
    }
  }

  get current(): CircuitState {
    return this.#state.kind;
  }

  get state(): CircuitState {
    const s = this.#state;
    if (s.kind === 'open' && this.#config.clock.now() >= s.until) {
      this.#transition({ kind: 'half-open', inFlight: 0, successes: 0 });
    }
    return this.#state.kind;
  }

  acquire(): number {
    const s = this.#state;
    switch (s.kind) {
      case 'closed':
        return this.#generation;
      case 'open': {
        const now = this.#config.clock.now();
        if (now < s.until) {
          this.#retryAfter = s.until - now;
          return -1;
        }
        const half: State = { kind: 'half-open', inFlight: 1, successes: 0 };
        this.#transition(half);
        return this.#generation;
      }
      case 'half-open':
        if (s.inFlight < this.#config.maxProbes) {
          s.inFlight++;
          return this.#generation;
        }
        this.#retryAfter = 0;
        return -1;
      default:
        this.#retryAfter = Number.POSITIVE_INFINITY;
        return -1;
    }
  }

  retryAfterMs(): number {
    return this.#retryAfter;
  }

  rejection(cause: unknown, context?: { readonly policy?: string | undefined }): CircuitOpenError {
    return CircuitOpenError.fast(this.#retryAfter, this.#key, cause, context?.policy);
  }

  countsAsFailure(error: unknown): boolean {
    return (this.#config.isFailure ?? defaultIsFailure)(error) === true;
  }

  record(permit: number, error: unknown, failed: boolean, durationMs: number): void {
    if (permit !== this.#generation) return; // admitted under an earlier state
    const cfg = this.#config;
    let failure = failed;
    if (failed) {
      const judge = cfg.isFailure ?? defaultIsFailure;
      failure = judge(error) === true;
    }
    const slow = cfg.slowCall !== undefined && durationMs >= cfg.slowCall.durationMs;
    const s = this.#state;
    if (s.kind === 'closed') {
      const w = this.#window;
      if (failure) this.#consecutive++;
      else this.#consecutive = 0;
      if (w !== undefined) w.record(failure, slow, w instanceof TimeWindow ? cfg.clock.now() : 0);
      if (this.#shouldOpen()) this.#open();
    } else if (s.kind === 'half-open') {
      if (failure || slow) {
        this.#reopens++;
        this.#open();
      } else {
        s.inFlight--;
        s.successes++;
        if (s.successes >= cfg.successThreshold) this.#close();
      }
    }
  }

  release(permit: number): void {
    if (permit !== this.#generation) return;
    const s = this.#state;
    if (s.kind === 'half-open') s.inFlight--;
  }

  #shouldOpen(): boolean {
    const cfg = this.#config;
    if (cfg.consecutiveFailures > 0 && this.#consecutive >= cfg.consecutiveFailures) return true;
    const w = this.#window;
    if (w === undefined || w.calls < cfg.minimumCalls) return false;
    // Divide, not multiply: failures / calls is rounded once and compares exactly with the
    // threshold at the boundary, while 0.07 × 100 rounds up to 7.000000000000001 and would
    // keep the breaker closed at a failure rate of exactly 7 %.
    if (w.failures / w.calls >= cfg.failureRateThreshold) return true;
    return cfg.slowCall !== undefined && w.slow / w.calls >= cfg.slowCall.rateThreshold;
  }

  #openDuration(): number {
    const d = this.#config.openDuration;
    if (typeof d === 'number') return d;
    const next = d.delay(this.#reopens + 1, this.#lastOpenFor);
    this.#lastOpenFor = next;
    return next;
  }

  #open(): void {
    const openFor = this.#openDuration();
    this.#transition({ kind: 'open', until: this.#config.clock.now() + openFor }, openFor);
  }

  #close(): void {
    this.#reopens = 0;
    this.#lastOpenFor = 0;
    this.#transition(CLOSED);
  }

  #transition(next: State, openForMs?: number): void {
    const from = this.#state.kind;
    this.#state = next;
    this.#generation++;
    this.#consecutive = 0;
    if (next.kind === 'closed') this.#window?.clear();
    if (from === next.kind) return;
    if (this.#listeners.length === 0 && this.#onChange === undefined) return;
    const change: CircuitStateChange = Object.freeze({
      from,
      to: next.kind,
      at: this.#config.clock.now(),
      key: this.#key,
      openForMs,
    });
    this.#onChange?.(change);
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }

  isolate(): void {
    this.#transition(ISOLATED);
  }

  reset(): void {
    this.#reopens = 0;
    this.#lastOpenFor = 0;
    this.#window?.clear();
    this.#transition(CLOSED);
  }

  onStateChange(listener: CircuitStateListener): () => void {
    if (typeof listener !== 'function') invalid('onStateChange(listener)', 'a function', listener);
    // Copy on write: a listener that unsubscribes during delivery does not disturb the loop.
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  metrics(): CircuitBreakerMetrics {
    const state = this.state;
    const s = this.#state;
    const cfg = this.#config;
    const w = this.#window;
    let calls = 0;
    let failures = 0;
    let slowCalls = 0;
    if (w !== undefined) {
      if (w instanceof TimeWindow) w.advance(cfg.clock.now());
      calls = w.calls;
      failures = w.failures;
      slowCalls = w.slow;
    }
    let retryAfterMs = 0;
    if (s.kind === 'open') retryAfterMs = Math.max(0, s.until - cfg.clock.now());
    else if (s.kind === 'isolated') retryAfterMs = Number.POSITIVE_INFINITY;
    return {
      state,
      window: cfg.window === undefined ? 'none' : cfg.window.type,
      calls,
      failures,
      slowCalls,
      failureRate: calls === 0 ? 0 : failures / calls,
      slowCallRate: calls === 0 ? 0 : slowCalls / calls,
      minimumCalls: cfg.minimumCalls,
      consecutiveFailures: this.#consecutive,
      retryAfterMs,
      halfOpen: s.kind === 'half-open' ? { inFlight: s.inFlight, successes: s.successes } : undefined,
      reopenCount: this.#reopens,
    };
  }

  toJSON(): CircuitBreakerSnapshot {
    const s = this.#state;
    switch (s.kind) {
      case 'open':
        return { state: 'open', openUntil: s.until, reopenCount: this.#reopens };
      case 'half-open':
        return { state: 'half-open', reopenCount: this.#reopens };
      default:
        return { state: s.kind };
    }
  }
}

/** @internal Reports an error thrown by a user listener without disturbing the call. */
export function reportListenerError(error: unknown): void {
  process.emitWarning(
    `A breakwater listener threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    { code: 'BREAKWATER_LISTENER_ERROR' },
  );
}

/**
 * Creates a circuit breaker to pass to one or several policies.
 *
 * By default it opens when half of the last 100 calls failed (once at least 20 were
 * made), stays open 5 s, then lets one probe through: its success closes the breaker,
 * its failure re-opens it.
 *
 * @example
 * ```ts
 * import { backoff, circuitBreaker } from 'breakwater';
 * const breaker = circuitBreaker({
 *   window: { type: 'time', durationMs: 10_000, buckets: 10 },
 *   failureRateThreshold: 0.5,
 *   minimumCalls: 20,
 *   openDuration: backoff.exponential({ initialDelay: 5_000, maxDelay: 60_000, jitter: 'none' }),
 *   halfOpen: { maxProbes: 3, successThreshold: 3 },
 * });
 * const unsubscribe = breaker.onStateChange(({ from, to }) => console.log(`breaker ${from} -> ${to}`));
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const { config, initialState } = resolveBreakerOptions(options, 'circuitBreaker');
  return new Breaker(config, initialState);
}
