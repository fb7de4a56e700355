/**
 * Adaptive concurrency limit: a bulkhead whose size is learned from the dependency's
 * latency and drops instead of set by hand. It caps operations like {@link bulkhead} and is
 * accepted wherever a bulkhead is; the engine tells it how every attempt ended
 * (`sample()`), and one of three algorithms (vegas.ts, gradient2.ts, aimd.ts) moves the
 * limit once per sample window (window.ts).
 *
 * @module
 */
import { reportListenerError } from '../breaker/circuit-breaker.js';
import type { Bulkhead } from '../bulkhead.js';
import type { Admission, AttemptSample } from '../engine/stages.js';
import { BulkheadRejectedError } from '../errors.js';
import { invalid, num, obj, oneOf } from '../validate.js';
import { AIMD_KEYS, Aimd, type AimdOptions, aimdParams } from './aimd.js';
import type { LimitAlgorithm, LimitAlgorithmName, LimitBounds } from './algorithm.js';
import { GRADIENT2_KEYS, Gradient2, type Gradient2Options, gradient2Params } from './gradient2.js';
import { VEGAS_KEYS, Vegas, type VegasOptions, vegasParams } from './vegas.js';
import { WaitQueue } from './wait-queue.js';
import { type LimitWindowOptions, SampleWindow, windowParams } from './window.js';

/** Options every algorithm takes. */
export interface AdaptiveLimitCommonOptions {
  /**
   * The limit before the first sample window has been heard.
   * @default 20 (kept within [minLimit, maxLimit])
   */
  initialLimit?: number;
  /**
   * The limit never falls below this.
   * @default 1
   */
  minLimit?: number;
  /**
   * The limit never rises above this.
   * @default 200 (1000 for `'vegas'`)
   */
  maxLimit?: number;
  /**
   * Operations allowed to wait for a slot; 0 rejects at once when the limit is reached. A
   * waiting operation still obeys its deadline and the caller's signal.
   * @default 0
   */
  maxQueue?: number;
  /**
   * The sample window: the limit moves (and `onLimitChange` hears of it) at most once per
   * window. A window lasts twice the smallest latency of the previous one, within
   * [minMs, maxMs], and until it holds at least `minSamples` attempts.
   * @default { minMs: 100, maxMs: 1_000, minSamples: 10 }
   */
  window?: LimitWindowOptions;
}

/** Options of {@link adaptiveLimit} with `algorithm: 'vegas'` (the default). */
export interface VegasLimitOptions extends AdaptiveLimitCommonOptions, VegasOptions {
  /** @default 'vegas' */
  algorithm?: 'vegas';
}

/** Options of {@link adaptiveLimit} with `algorithm: 'gradient2'`. */
export interface Gradient2LimitOptions extends AdaptiveLimitCommonOptions, Gradient2Options {
  algorithm: 'gradient2';
}

/** Options of {@link adaptiveLimit} with `algorithm: 'aimd'`. */
export interface AimdLimitOptions extends AdaptiveLimitCommonOptions, AimdOptions {
  algorithm: 'aimd';
}

/** Options of {@link adaptiveLimit}: the common ones and those of the chosen algorithm. */
export type AdaptiveLimitOptions = VegasLimitOptions | Gradient2LimitOptions | AimdLimitOptions;

/** The limit moved. */
export interface LimitChange {
  /** The limit before. */
  readonly previous: number;
  /** The limit now. */
  readonly limit: number;
  /** When it moved (ms since the epoch, the policy's clock): the end of a sample window. */
  readonly at: number;
}

/** Hears every change of an adaptive limit. */
export type LimitChangeListener = (change: LimitChange) => void;

/**
 * An adaptive concurrency limit: a {@link Bulkhead} whose `maxConcurrent` is the current
 * limit. Share one object between policies to cap (and learn from) their operations
 * together, as with a bulkhead.
 */
export interface AdaptiveLimit extends Bulkhead {
  /** The algorithm that moves the limit. */
  readonly algorithm: LimitAlgorithmName;
  /** Operations allowed to run at once now (the same as `maxConcurrent`). */
  readonly limit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  /**
   * Calls `listener` each time the limit moves: at most once per sample window.
   * Returns a function that unsubscribes it.
   */
  onLimitChange(listener: LimitChangeListener): () => void;
  /**
   * @internal Hears one finished attempt (its latency, whether it was dropped, the
   * operations in flight). The policy calls it for every attempt. Returns the change when
   * this sample closed a window that moved the limit (listeners have heard it by then), so
   * the caller can report it as an event without subscribing.
   */
  sample(sample: AttemptSample): LimitChange | undefined;
}

const COMMON_KEYS = ['algorithm', 'initialLimit', 'minLimit', 'maxLimit', 'maxQueue', 'window'] as const;
const ALGORITHM_KEYS: Readonly<Record<LimitAlgorithmName, readonly string[]>> = {
  vegas: VEGAS_KEYS,
  gradient2: GRADIENT2_KEYS,
  aimd: AIMD_KEYS,
};
const MAX = 1_000_000_000;

class Limiter implements AdaptiveLimit, Admission {
  readonly algorithm: LimitAlgorithmName;
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly maxQueue: number;
  active = 0;
  #limit: number;
  readonly #algorithm: LimitAlgorithm;
  readonly #window: SampleWindow;
  readonly #queue = new WaitQueue();
  #listeners: LimitChangeListener[] = [];

  constructor(
    name: LimitAlgorithmName,
    algorithm: LimitAlgorithm,
    bounds: LimitBounds,
    maxQueue: number,
    window: SampleWindow,
  ) {
    this.algorithm = name;
    this.#algorithm = algorithm;
    this.minLimit = bounds.min;
    this.maxLimit = bounds.max;
    this.#limit = bounds.initial;
    this.maxQueue = maxQueue;
    this.#window = window;
  }

  get limit(): number {
    return this.#limit;
  }

  get maxConcurrent(): number {
    return this.#limit;
  }

  get queued(): number {
    return this.#queue.size;
  }

  tryAcquire(): boolean {
    if (this.active < this.#limit && this.#queue.size === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  enqueue(grant: () => void): (() => void) | undefined {
    if (this.#queue.size >= this.maxQueue) return undefined;
    return this.#queue.push(grant);
  }

  release(): void {
    this.active--;
    this.#grant();
  }

  /** Hands free slots to waiters, first come first served. */
  #grant(): void {
    while (this.active < this.#limit) {
      const grant = this.#queue.shift();
      if (grant === undefined) return;
      this.active++;
      grant();
    }
  }

  rejection(context?: { readonly policy?: string | undefined }): BulkheadRejectedError {
    return BulkheadRejectedError.fast(this.#limit, this.maxQueue, this.active, this.queued, context?.policy);
  }

  sample(sample: AttemptSample): LimitChange | undefined {
    const window = this.#window.add(sample);
    if (window === undefined) return undefined;
    const next = Math.floor(this.#algorithm.update(window));
    const previous = this.#limit;
    if (next === previous) return undefined;
    this.#limit = next;
    if (next > previous) this.#grant();
    const change: LimitChange = Object.freeze({ previous, limit: next, at: window.now });
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        reportListenerError(error);
      }
    }
    return change;
  }

  onLimitChange(listener: LimitChangeListener): () => void {
    if (typeof listener !== 'function') invalid('onLimitChange(listener)', 'a function', listener);
    // Copy on write: a listener that unsubscribes during delivery does not disturb the loop.
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }
}

/**
 * Creates an adaptive concurrency limit: pass it as a policy's `bulkhead` (alone or shared
 * between policies) and it finds how many operations the dependency serves at once, from
 * the latency and the drops (timeouts, overload refusals) of every attempt. Over the limit
 * it rejects at once with `BulkheadRejectedError` (its `maxConcurrent` is the limit then), or
 * queues when `maxQueue > 0`.
 *
 * - `'vegas'` (default): keeps a few operations queued at the dependency, judged by how much
 *   slower attempts run than the fastest seen. Tight and steady when latency is stable.
 * - `'gradient2'`: follows the ratio of the long-term average latency to the current one.
 *   For dependencies whose latency varies from call to call.
 * - `'aimd'`: +1 per window, × 0.9 on a drop; reads no latency. For dependencies that shed
 *   load cleanly (fast RESOURCE_EXHAUSTED or 503).
 *
 * Every operation is O(1); it keeps no timer; memory is bounded by `maxQueue`.
 *
 * @example
 * ```ts
 * import { adaptiveLimit, policy } from 'breakwater';
 * const limit = adaptiveLimit({ algorithm: 'gradient2', maxLimit: 100 });
 * const unsubscribe = limit.onLimitChange(({ previous, limit: now }) => console.log(`limit ${previous} -> ${now}`));
 * const loyalty = policy({ deadline: 500, bulkhead: limit });
 * ```
 */
export function adaptiveLimit(options: AdaptiveLimitOptions = {}): AdaptiveLimit {
  const at = 'adaptiveLimit';
  const first = obj<{ algorithm: unknown }>(at, options, [
    ...COMMON_KEYS,
    ...VEGAS_KEYS,
    ...GRADIENT2_KEYS,
    ...AIMD_KEYS,
  ]);
  const name = oneOf<LimitAlgorithmName>(`${at}.algorithm`, first?.algorithm, 'vegas', [
    'vegas',
    'gradient2',
    'aimd',
  ]);
  // Again with the chosen algorithm's keys only: `alpha` with 'aimd' is a mistake.
  const o = (obj(at, options, [...COMMON_KEYS, ...ALGORITHM_KEYS[name]]) ?? {}) as Record<string, unknown>;
  const min = num(`${at}.minLimit`, o.minLimit, 1, { min: 1, max: MAX, integer: true });
  const max = num(`${at}.maxLimit`, o.maxLimit, Math.max(name === 'vegas' ? 1_000 : 200, min), {
    min,
    max: MAX,
    integer: true,
  });
  const initial = num(`${at}.initialLimit`, o.initialLimit, Math.min(Math.max(20, min), max), {
    min,
    max,
    integer: true,
  });
  const maxQueue = num(`${at}.maxQueue`, o.maxQueue, 0, { min: 0, max: MAX, integer: true });
  const window = new SampleWindow(windowParams(o.window, `${at}.window`));
  const bounds: LimitBounds = { initial, min, max };
  const algorithm =
    name === 'vegas'
      ? new Vegas(bounds, vegasParams(o, at), Math.random)
      : name === 'gradient2'
        ? new Gradient2(bounds, gradient2Params(o, at), Math.random)
        : new Aimd(bounds, aimdParams(o, at));
  return new Limiter(name, algorithm, bounds, maxQueue, window);
}
