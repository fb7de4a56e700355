/**
 * Gradient2: a delay-based limit following Netflix concurrency-limits' `Gradient2Limit`. It
 * compares a sample window's mean latency with a long-term average and shrinks the limit in
 * proportion when the dependency slows down:
 *
 * ```
 * rtt      = the window's mean latency (attempts not dropped)
 * longRtt  = exponential average of window latencies over about `longWindow` windows
 *            (a plain average of the first 10)
 *
 * gradient = clamp(longRtt / rtt, 0.5, 1), at most 1 − (share of the window dropped)
 * new      = limit × gradient + queueSize
 * limit   ← (1 − smoothing) × limit + smoothing × new,  kept within [min, max]
 * ```
 *
 * While latency holds steady the gradient is 1 and the limit grows by `queueSize ×
 * smoothing` per window; when latency rises the gradient falls below 1 and the limit falls
 * (by at most half of `smoothing` per window, so one outlier cannot halve it). At rest the
 * limit sits where `limit × (1 − gradient) = queueSize`: about `queueSize` operations queued
 * at the dependency. It uses averages rather than the minimum, so it suits dependencies
 * whose latency varies from call to call.
 *
 * Differences from Netflix's code, each deliberate:
 * - One update per sample window rather than per sample (window.ts says why).
 * - `longRtt` rises only from windows in which the limit was not reached. Once the limit is
 *   what holds concurrency down, slower windows are the limit's own queueing, not a new
 *   baseline; Netflix's average follows them, so under sustained load the gradient returns
 *   to 1 and the limit creeps up by `queueSize × smoothing` per update for as long as the
 *   load lasts. `longRtt` falls at ten times the rate it rises, and by 10% at once when it is
 *   over twice the window's latency (Netflix's rule for the end of a long overload).
 * - The baseline probe ({@link BaselineProbe}) re-measures `longRtt` with the limit halved
 *   about every `probeMultiplier × limit` windows, and soon after a window runs 10% faster
 *   than it: how a baseline that only rises while unsaturated still follows a dependency
 *   whose base latency rose during an overload, or fell.
 * - Drops: Netflix ignores them; here the gradient is at most the share of the window not
 *   dropped (all dropped: 0.5), and dropped attempts stay out of the latency (an instant
 *   refusal would otherwise look like a fast, healthy answer).
 *
 * @internal
 * @module
 */

import { num } from '../validate.js';
import { appLimited, BaselineProbe, clamp, type LimitAlgorithm, type LimitBounds } from './algorithm.js';
import type { WindowSample } from './window.js';

/** Options of the `'gradient2'` algorithm (Netflix's defaults). */
export interface Gradient2Options {
  /**
   * How far each update moves the limit towards the new value, in (0, 1].
   * @default 0.2
   */
  smoothing?: number;
  /**
   * Operations the limit may grow by per update while latency holds steady (the room
   * left for queueing at the dependency).
   * @default 4
   */
  queueSize?: number;
  /**
   * Windows the long-term latency average spans (a new window weighs `2 / (longWindow + 1)`).
   * @default 600
   */
  longWindow?: number;
  /**
   * The long-term latency is measured afresh, with the limit halved for two windows, about
   * every `probeMultiplier × limit` windows.
   * @default 30
   */
  probeMultiplier?: number;
}

/** Resolved {@link Gradient2Options}. */
export interface Gradient2Params {
  readonly smoothing: number;
  readonly queueSize: number;
  readonly longWindow: number;
  readonly probeMultiplier: number;
}

/** The option names {@link gradient2Params} reads. */
export const GRADIENT2_KEYS = ['smoothing', 'queueSize', 'longWindow', 'probeMultiplier'] as const;

/** Validates and resolves {@link Gradient2Options}; `at` names the options' parent in errors. */
export function gradient2Params(o: Gradient2Options, at: string): Gradient2Params {
  return {
    smoothing: num(`${at}.smoothing`, o.smoothing, 0.2, { min: 0, exclusiveMin: true, max: 1 }),
    queueSize: num(`${at}.queueSize`, o.queueSize, 4, { min: 0, max: 1_000_000 }),
    longWindow: num(`${at}.longWindow`, o.longWindow, 600, { min: 1, max: 1_000_000, integer: true }),
    probeMultiplier: num(`${at}.probeMultiplier`, o.probeMultiplier, 30, {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
  };
}

/** A window this much faster than the baseline shows the baseline is stale. */
const STALE = 0.9;

/** Windows averaged plainly before the long-term average turns exponential. */
const WARMUP = 10;

export class Gradient2 implements LimitAlgorithm {
  estimate: number;
  readonly #bounds: LimitBounds;
  readonly #params: Gradient2Params;
  readonly #factor: number;
  readonly #probe: BaselineProbe;
  #longRtt = 0;
  #count = 0;

  constructor(bounds: LimitBounds, params: Gradient2Params, random: () => number) {
    this.#bounds = bounds;
    this.#params = params;
    this.#factor = 2 / (params.longWindow + 1);
    this.#probe = new BaselineProbe(params.probeMultiplier, random);
    this.estimate = bounds.initial;
  }

  /** The long-term latency average (ms; 0 before any window). */
  get longRtt(): number {
    return this.#longRtt;
  }

  update(window: WindowSample): number {
    if (this.#probe.active) {
      const end = this.#probe.step(window);
      if (end === undefined) return this.estimate;
      if (end.baseline !== undefined) {
        this.#longRtt = end.baseline;
        this.#count = WARMUP;
      }
      this.estimate = end.restore;
      if (end.baseline !== undefined) return this.estimate;
    }
    const limit = this.estimate;
    const rtt = window.rtt;
    if (rtt > 0) {
      if (this.#count < WARMUP) {
        this.#count++;
        this.#longRtt += (rtt - this.#longRtt) / this.#count;
      } else if (rtt < this.#longRtt) {
        this.#longRtt += (rtt - this.#longRtt) * Math.min(1, 10 * this.#factor);
      } else if (window.maxInFlight < Math.floor(limit)) {
        this.#longRtt += (rtt - this.#longRtt) * this.#factor;
      }
      if (this.#longRtt > 2 * rtt) this.#longRtt *= 0.9;
      // Much faster than the long-term latency: it was measured under load, or the
      // dependency got faster; either way, measure it afresh soon.
      if (rtt < STALE * this.#longRtt) this.#probe.request();
    }
    const dropShare = window.drops / window.samples;
    if (dropShare === 0) {
      const hold = rtt > 0 ? this.#probe.due(limit, this.#bounds.min) : undefined;
      if (hold !== undefined) {
        this.estimate = hold;
        return hold;
      }
      if (appLimited(window.maxInFlight, limit)) return limit;
    }
    const latency = rtt > 0 ? this.#longRtt / rtt : 0;
    return this.#set(limit, clamp(Math.min(latency, 1 - dropShare), 0.5, 1));
  }

  #set(limit: number, gradient: number): number {
    const { smoothing, queueSize } = this.#params;
    const next = limit * gradient + queueSize;
    this.estimate = clamp((1 - smoothing) * limit + smoothing * next, this.#bounds.min, this.#bounds.max);
    return this.estimate;
  }
}
