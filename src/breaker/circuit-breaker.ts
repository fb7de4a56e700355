/**
 * The circuit breaker state machine. The arithmetic of windows lives in `window.ts`; this
 * file only decides transitions.
 *
 * @module
 */
import { type Clock, systemClock } from '../clock.js';
import { CircuitOpenError, isBreakwaterError } from '../errors.js';
import { type Backoff, isBackoff } from '../retry/backoff.js';
import { invalid, num, obj, oneOf, requireNum, fn as validateFn } from '../validate.js';
import { CountWindow, type OutcomeWindow, TimeWindow } from './window.js';

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
       * Number of buckets the window is kept in (its resolution).
       * @default 10
       */
      buckets?: number;
    };

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * Window over which rates are computed.
   * @default { type: 'count', size: 100 }
   */
  window?: WindowOptions;
  /**
   * Open when failures / calls in the window reaches this, in (0, 1].
   * @default 0.5
   */
  failureRateThreshold?: number;
  /**
   * Rates are only judged once the window holds at least this many calls.
   * @default 20 (capped at the count window's size)
   */
  minimumCalls?: number;
  /**
   * Also open after this many failures in a row. When this is the only rule you set
   * (no `window`, `failureRateThreshold`, `minimumCalls` or `slowCall`), the breaker is a
   * pure consecutive-failures breaker and the rate rule is off.
   */
  consecutiveFailures?: number;
  /** Optional: calls at least `durationMs` long count as slow; open when slow / calls reaches `rateThreshold`. */
  slowCall?: { durationMs: number; rateThreshold: number };
  /**
   * How long the breaker stays open before letting probes through, in ms; or a
   * {@link Backoff} whose delay grows with each consecutive re-open (reset on close).
   * @default 5_000
   */
  openDuration?: number | Backoff;
  /**
   * Half-open probing: at most `maxProbes` calls in flight at once (others are rejected at
   * once, not queued); `successThreshold` successful probes in a row close the breaker;
   * any failed or slow probe re-opens it.
   * @default { maxProbes: 1, successThreshold: 1 }
   */
  halfOpen?: { maxProbes?: number; successThreshold?: number };
  /**
   * Which errors count against the dependency.
   * @default every error except breakwater's own rejections (circuit open, bulkhead full)
   */
  isFailure?: (error: unknown) => boolean;
  /** Restores a state saved with {@link CircuitBreaker.toJSON}. */
  initialState?: CircuitBreakerSnapshot;
  /** Source of time. @default systemClock */
  clock?: Clock;
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

/** Listener of state changes. */
export type CircuitStateListener = (change: CircuitStateChange) => void;

/**
 * A circuit breaker. Safe to share between policies; every attempt of every policy that
 * holds it is counted in the same window.
 */
export interface CircuitBreaker {
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
  /** @internal Asks to run one call: a permit (≥ 0) or -1 when refused. */
  acquire(): number;
  /** @internal Why the last `acquire()` was refused: ms until a probe may pass. */
  retryAfterMs(): number;
  /** @internal Builds the rejection for a refused acquire. */
  rejection(cause: unknown): CircuitOpenError;
  /** @internal The outcome of a call admitted with `permit`. */
  record(permit: number, error: unknown, failed: boolean, durationMs: number): void;
  /** @internal A call admitted with `permit` ended with no verdict (e.g. the caller aborted). */
  release(permit: number): void;
  /** @internal The state as stored, without letting time turn open into half-open. */
  readonly current: CircuitState;
  /** @internal Whether `record` needs a duration (slow-call rule). */
  readonly measuresDuration: boolean;
}

type State =
  | { readonly kind: 'closed' }
  | { readonly kind: 'open'; readonly until: number }
  | { readonly kind: 'half-open'; inFlight: number; successes: number }
  | { readonly kind: 'isolated' };

const CLOSED: State = Object.freeze({ kind: 'closed' });
const ISOLATED: State = Object.freeze({ kind: 'isolated' });

/** @internal Resolved options shared by the breakers of a keyed breaker. */
export interface BreakerConfig {
  readonly window: WindowOptions | undefined;
  readonly failureRateThreshold: number;
  readonly minimumCalls: number;
  readonly consecutiveFailures: number;
  readonly slowCall: { readonly durationMs: number; readonly rateThreshold: number } | undefined;
  readonly openDuration: number | Backoff;
  readonly maxProbes: number;
  readonly successThreshold: number;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly clock: Clock;
}

/** @internal The default `isFailure`: breakwater's own rejections say nothing about the dependency. */
export function defaultIsFailure(error: unknown): boolean {
  if (isBreakwaterError(error)) {
    return error.code !== 'BREAKWATER_CIRCUIT_OPEN' && error.code !== 'BREAKWATER_BULKHEAD_FULL';
  }
  return true;
}

const OPTION_KEYS = [
  'window',
  'failureRateThreshold',
  'minimumCalls',
  'consecutiveFailures',
  'slowCall',
  'openDuration',
  'halfOpen',
  'isFailure',
  'initialState',
  'clock',
] as const;

/** @internal Validates options; `prefix` names them in errors. */
export function resolveBreakerOptions(
  options: unknown,
  prefix: string,
  extraKeys: readonly string[] = [],
): { config: BreakerConfig; initialState: CircuitBreakerSnapshot | undefined } {
  const o = obj<CircuitBreakerOptions>(prefix, options ?? {}, [...OPTION_KEYS, ...extraKeys]) ?? {};
  const rateRuleSet =
    o.window !== undefined ||
    o.failureRateThreshold !== undefined ||
    o.minimumCalls !== undefined ||
    o.slowCall !== undefined;
  const consecutiveFailures = num(`${prefix}.consecutiveFailures`, o.consecutiveFailures, 0, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const useRates = rateRuleSet || consecutiveFailures === 0;

  let window: WindowOptions | undefined;
  if (useRates) {
    const w = o.window === undefined ? { type: 'count', size: 100 } : o.window;
    if (typeof w !== 'object' || w === null)
      invalid(`${prefix}.window`, "{ type: 'count' | 'time', ... }", w);
    const type = oneOf(`${prefix}.window.type`, (w as { type?: unknown }).type, 'count', ['count', 'time']);
    if (type === 'count') {
      obj(`${prefix}.window`, w, ['type', 'size']);
      const size = requireNum(`${prefix}.window.size`, (w as { size?: unknown }).size, {
        min: 1,
        max: 1_000_000,
        integer: true,
      });
      window = { type, size };
    } else {
      obj(`${prefix}.window`, w, ['type', 'durationMs', 'buckets']);
      const durationMs = requireNum(
        `${prefix}.window.durationMs`,
        (w as { durationMs?: unknown }).durationMs,
        {
          min: 1,
          max: 86_400_000,
        },
      );
      const buckets = num(`${prefix}.window.buckets`, (w as { buckets?: unknown }).buckets, 10, {
        min: 1,
        max: 1_000,
        integer: true,
      });
      window = { type, durationMs, buckets };
    }
  }
  const failureRateThreshold = num(`${prefix}.failureRateThreshold`, o.failureRateThreshold, 0.5, {
    min: 0,
    exclusiveMin: true,
    max: 1,
  });
  const maxCalls = window?.type === 'count' ? window.size : 1_000_000_000;
  const minimumCalls = num(`${prefix}.minimumCalls`, o.minimumCalls, Math.min(20, maxCalls), {
    min: 1,
    max: maxCalls,
    integer: true,
  });
  let slowCall: BreakerConfig['slowCall'];
  if (o.slowCall !== undefined) {
    const s = obj<{ durationMs: number; rateThreshold: number }>(`${prefix}.slowCall`, o.slowCall, [
      'durationMs',
      'rateThreshold',
    ]);
    slowCall = Object.freeze({
      durationMs: requireNum(`${prefix}.slowCall.durationMs`, s?.durationMs, {
        min: 0,
        exclusiveMin: true,
        max: 86_400_000,
      }),
      rateThreshold: requireNum(`${prefix}.slowCall.rateThreshold`, s?.rateThreshold, {
        min: 0,
        exclusiveMin: true,
        max: 1,
      }),
    });
  }
  let openDuration: number | Backoff;
  if (isBackoff(o.openDuration)) {
    openDuration = o.openDuration;
  } else {
    openDuration = num(`${prefix}.openDuration`, o.openDuration, 5_000, { min: 0, max: 2_147_483_647 });
  }
  const h = obj<{ maxProbes: number; successThreshold: number }>(`${prefix}.halfOpen`, o.halfOpen, [
    'maxProbes',
    'successThreshold',
  ]);
  const maxProbes = num(`${prefix}.halfOpen.maxProbes`, h?.maxProbes, 1, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const successThreshold = num(`${prefix}.halfOpen.successThreshold`, h?.successThreshold, maxProbes, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const isFailure = validateFn<(error: unknown) => boolean>(`${prefix}.isFailure`, o.isFailure);
  const clock = o.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    invalid(`${prefix}.clock`, 'a Clock (an object with now())', clock);
  }
  let initialState: CircuitBreakerSnapshot | undefined;
  if (o.initialState !== undefined) {
    const s = obj<CircuitBreakerSnapshot>(`${prefix}.initialState`, o.initialState, [
      'state',
      'openUntil',
      'reopenCount',
    ]);
    const state = oneOf<CircuitState>(`${prefix}.initialState.state`, s?.state, 'closed', [
      'closed',
      'open',
      'half-open',
      'isolated',
    ]);
    initialState = {
      state,
      openUntil: num(`${prefix}.initialState.openUntil`, s?.openUntil, 0, { min: 0 }),
      reopenCount: num(`${prefix}.initialState.reopenCount`, s?.reopenCount, 0, {
        min: 0,
        integer: true,
        max: 1e9,
      }),
    };
  }
  return {
    config: Object.freeze({
      window,
      failureRateThreshold,
      minimumCalls,
      consecutiveFailures,
      slowCall,
      openDuration,
      maxProbes,
      successThreshold,
      isFailure,
      clock,
    }),
    initialState,
  };
}

/** @internal The breaker implementation, also used per key by the keyed breaker. */
export class Breaker implements CircuitBreaker {
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

  rejection(cause: unknown): CircuitOpenError {
    return CircuitOpenError.fast(this.#retryAfter, this.#key, cause);
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
