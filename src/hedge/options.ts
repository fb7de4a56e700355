/**
 * The `hedge` policy option: its validation, its defaults, and the resolved form the engine
 * reads (how many attempts, and how long to wait before the next one).
 *
 * Hedging sends another attempt of an operation when the latest one has run longer than
 * `delay`, without cancelling it; the first success wins and the others are aborted. It is
 * the alternative to `retry` for operations that are safe to run twice (gRFC A6's
 * `hedgingPolicy`, Polly's hedging strategy, failsafe-go's HedgePolicy).
 *
 * @module
 */
import { InvalidOptionsError } from '../errors.js';
import { invalid, num, obj, requireNum } from '../validate.js';
import { LatencyQuantile, MAX_LATENCY_MS } from './latency-quantile.js';

/** An adaptive hedge delay: hedge once the first attempt has run longer than a quantile of recent first attempts. */
export interface AdaptiveDelayOptions {
  /**
   * The quantile of this policy's recent first-attempt latencies after which an operation
   * is hedged: `0.95` hedges once the first attempt has run longer than 95% of recent
   * first attempts did (hedges are not learned: mostly fast, they would pull the quantile
   * down and hedge more than 5% of operations). Above 0 and below 1.
   */
  quantile: number;
  /**
   * The delay, ms, until the window first holds `minSamples` attempts (at start). After a
   * quiet spell longer than `windowMs` empties the window, the last quantile learned
   * stands in instead, until the window holds `minSamples` attempts again.
   * @default 100
   */
  initialDelay?: number;
  /**
   * Attempts the window must hold before the quantile replaces `initialDelay`.
   * @default max(20, ⌈10 / (1 − quantile)⌉): enough that about 10 of them lie above the quantile (200 for 0.95)
   */
  minSamples?: number;
  /**
   * How far back the latencies go, ms: an attempt counts for between 3/4 of this and all
   * of it after it ended.
   * @default 10_000
   */
  windowMs?: number;
}

/** Options of `policy({ hedge })`. */
export interface HedgeOptions {
  /**
   * Total attempts, the first one included: 2 means at most one hedge.
   * From 2 to 10.
   * @default 2
   */
  maxAttempts?: number;
  /**
   * How long the latest attempt runs before the next one is sent: ms (0 sends every
   * attempt at once), or `{ quantile }` for an adaptive delay.
   * @default { quantile: 0.95 } (initialDelay 100 ms, minSamples 200, windowMs 10 s)
   */
  delay?: number | AdaptiveDelayOptions;
}

/** The resolved delay: fixed, or adaptive with every default filled in. */
export type ResolvedHedgeDelay =
  | { readonly kind: 'fixed'; readonly ms: number }
  | {
      readonly kind: 'adaptive';
      readonly quantile: number;
      readonly initialDelay: number;
      readonly minSamples: number;
      readonly windowMs: number;
    };

/**
 * @internal The hedge configuration of one policy, as the engine reads it. Holds the
 * policy's latency estimator (adaptive delay only): a policy's own mutable state, like its
 * default retry budget, fed by every attempt of every operation of that policy.
 */
export interface ResolvedHedge {
  /** Total attempts, the first included: 2 to 10. */
  readonly maxAttempts: number;
  /** The validated delay option. */
  readonly delay: ResolvedHedgeDelay;
  /**
   * How long to wait, ms, from the start of the latest attempt before the next one: the
   * fixed delay, or the quantile of recent latencies (never below the exact one; see the
   * estimator's error bound); while the window holds fewer than `minSamples` of them, the
   * last quantile it gave, or `initialDelay` if it never gave one.
   * O(1) for a fixed delay; for an adaptive one, O(1) when nothing was recorded since
   * the last call and about 70 counter reads otherwise.
   */
  delayFor(now: number): number;
  /**
   * An attempt ended on its own (success, or a failure the dependency answered) after
   * `durationMs`. Feeds the adaptive delay; a no-op for a fixed one.
   */
  recordAttempt(durationMs: number, now: number): void;
  /**
   * An attempt was cut short after `elapsedMs` (it lost the race to another attempt, timed
   * out, or was aborted): its latency is unknown, only that it exceeds `elapsedMs`. It is
   * recorded as `elapsedMs` when that is at least the current delay, which keeps it on the
   * right side of the quantile (slower than the delay), and dropped otherwise, since it
   * might have been fast. Recording every loser's elapsed time instead would bias the
   * quantile down (the slow originals that hedges overtake would look fast) and hedge ever
   * sooner. A no-op for a fixed delay.
   */
  recordAbandoned(elapsedMs: number, now: number): void;
}

const HEDGE_KEYS = ['maxAttempts', 'delay'] as const;
const ADAPTIVE_KEYS = ['quantile', 'initialDelay', 'minSamples', 'windowMs'] as const;
/** Default adaptive quantile when `delay` is left out. */
export const DEFAULT_QUANTILE = 0.95;
export const DEFAULT_INITIAL_DELAY = 100;
export const DEFAULT_WINDOW_MS = 10_000;
export const DEFAULT_MAX_ATTEMPTS = 2;
export const MAX_HEDGE_ATTEMPTS = 10;

/** The default `minSamples` for `quantile`: enough that about 10 samples lie above it, at least 20. */
export function defaultMinSamples(quantile: number): number {
  return Math.max(20, Math.ceil(10 / (1 - quantile) - 1e-9));
}

const noop = (): void => {};

function resolveDelay(option: string, value: unknown): ResolvedHedgeDelay {
  if (value === undefined) {
    return {
      kind: 'adaptive',
      quantile: DEFAULT_QUANTILE,
      initialDelay: DEFAULT_INITIAL_DELAY,
      minSamples: defaultMinSamples(DEFAULT_QUANTILE),
      windowMs: DEFAULT_WINDOW_MS,
    };
  }
  if (typeof value === 'number') {
    return { kind: 'fixed', ms: requireNum(option, value, { min: 0, max: MAX_LATENCY_MS }) };
  }
  if (typeof value === 'string') {
    const p = /^p(\d{1,3}(?:\.\d+)?)$/i.exec(value.trim());
    const hint = p === null ? '' : ` (write { quantile: ${Number((Number(p[1]) / 100).toPrecision(12))} })`;
    throw new InvalidOptionsError(
      option,
      `${option} must be a number of ms from 0 to ${MAX_LATENCY_MS} or { quantile }; got ${JSON.stringify(value)}${hint}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(option, `a number of ms from 0 to ${MAX_LATENCY_MS} or { quantile }`, value);
  }
  const o = obj<AdaptiveDelayOptions>(option, value, ADAPTIVE_KEYS) ?? ({} as Partial<AdaptiveDelayOptions>);
  const q = o.quantile;
  if (typeof q !== 'number' || !(q > 0 && q < 1)) {
    invalid(`${option}.quantile`, 'a number above 0 and below 1', q);
  }
  const initialDelay = num(`${option}.initialDelay`, o.initialDelay, DEFAULT_INITIAL_DELAY, {
    min: 0,
    max: MAX_LATENCY_MS,
  });
  const minSamples = num(`${option}.minSamples`, o.minSamples, defaultMinSamples(q), {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const windowMs = num(`${option}.windowMs`, o.windowMs, DEFAULT_WINDOW_MS, {
    min: 100,
    max: 86_400_000,
  });
  return { kind: 'adaptive', quantile: q, initialDelay, minSamples, windowMs };
}

/**
 * Validates the `hedge` option and resolves it: undefined or `false` mean no hedging.
 * Every call returns a new object; an adaptive one has a new, empty estimator.
 *
 * @param option - the option's name in messages (`hedge`, or a per-method path).
 * @throws InvalidOptionsError naming the option (`hedge.maxAttempts`, `hedge.delay.quantile`, ...).
 * @internal
 */
export function resolveHedge(value: unknown, option = 'hedge'): ResolvedHedge | undefined {
  if (value === undefined || value === false) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(option, 'an object ({ maxAttempts, delay }) or false', value);
  }
  const o = obj<HedgeOptions>(option, value, HEDGE_KEYS) ?? {};
  const maxAttempts = num(`${option}.maxAttempts`, o.maxAttempts, DEFAULT_MAX_ATTEMPTS, {
    min: 2,
    max: MAX_HEDGE_ATTEMPTS,
    integer: true,
  });
  const delay = resolveDelay(`${option}.delay`, o.delay);
  if (delay.kind === 'fixed') {
    const ms = delay.ms;
    return Object.freeze({
      maxAttempts,
      delay: Object.freeze(delay),
      delayFor: () => ms,
      recordAttempt: noop,
      recordAbandoned: noop,
    });
  }
  const estimator = new LatencyQuantile({ windowMs: delay.windowMs, minSamples: delay.minSamples });
  const { quantile, initialDelay } = delay;
  // The latest quantile the window produced. After a quiet spell the window empties, but
  // what the policy learned before it is a better guess than `initialDelay`, which only
  // stands in until the policy has ever seen `minSamples` attempts: falling back to it
  // hedged every slow attempt of the first `minSamples` after each pause at 100 ms.
  let learned: number | undefined;
  const delayFor = (now: number): number => {
    const estimate = estimator.quantile(quantile, now);
    if (estimate === undefined) return learned ?? initialDelay;
    learned = estimate;
    return estimate;
  };
  return Object.freeze({
    maxAttempts,
    delay: Object.freeze(delay),
    delayFor,
    recordAttempt: (durationMs: number, now: number) => estimator.record(durationMs, now),
    recordAbandoned: (elapsedMs: number, now: number) => {
      if (elapsedMs >= delayFor(now)) estimator.record(elapsedMs, now);
    },
  });
}
