/**
 * Vegas: a delay-based limit after TCP Vegas, following Netflix concurrency-limits'
 * `VegasLimit`. It estimates how many operations are queued at the dependency from how much
 * slower a sample window ran than the fastest ("no-load") window seen. With `rtt` the
 * window's mean latency:
 *
 * ```
 * queue = ceil(limit × (1 − rttNoLoad / rtt))
 * step  = max(1, floor(log10(limit)))
 *
 * queue ≤ step          → limit + beta × step    (nothing queued: grow fast)
 * queue < alpha × step  → limit + step           (a little queued: grow)
 * queue > beta × step   → limit − step           (queueing: shrink)
 * otherwise             → limit                  (the sweet spot)
 * a drop in the window  → limit − step
 *
 * limit ← (1 − smoothing) × limit + smoothing × new limit,  kept within [min, max]
 * ```
 *
 * So the limit settles where between `alpha × step` and `beta × step` operations wait at
 * the dependency: its capacity plus a few. `rttNoLoad` is the smallest window latency seen
 * since the last baseline probe ({@link BaselineProbe}), which re-measures it with the limit
 * halved about every `probeMultiplier × limit` windows, and soon after a window runs 10%
 * faster than it.
 *
 * Differences from Netflix's code, each deliberate: it hears one summary per sample window
 * rather than every sample (window.ts says why); its probe measures the no-load latency with
 * the queue drained, where Netflix's takes the current, loaded sample as the no-load latency
 * (which under sustained load ratchets the limit up at every probe); a drop decreases the
 * limit before anything else, and dropped attempts never count towards the latency (an
 * overloaded server's instant refusal is the fastest answer there is, and would make every
 * later window look queued); and `step` is `log10` at every size (Netflix switches to `sqrt`
 * at 1000).
 *
 * @internal
 * @module
 */

import { num } from '../validate.js';
import {
  appLimited,
  BaselineProbe,
  clamp,
  type LimitAlgorithm,
  type LimitBounds,
  log10Step,
} from './algorithm.js';
import type { WindowSample } from './window.js';

/** Options of the `'vegas'` algorithm (Netflix's defaults). */
export interface VegasOptions {
  /**
   * Below `alpha × log10(limit)` queued operations the limit grows.
   * @default 3
   */
  alpha?: number;
  /**
   * Above `beta × log10(limit)` queued operations the limit shrinks; with nothing queued it
   * grows by this many steps at once. At least `alpha`.
   * @default 6 (or `alpha`, if larger)
   */
  beta?: number;
  /**
   * How far each update moves the limit towards the new value, in (0, 1]; 1 moves all the
   * way.
   * @default 1
   */
  smoothing?: number;
  /**
   * The no-load latency is measured afresh, with the limit halved for two windows, about
   * every `probeMultiplier × limit` windows.
   * @default 30
   */
  probeMultiplier?: number;
}

/** Resolved {@link VegasOptions}. */
export interface VegasParams {
  readonly alpha: number;
  readonly beta: number;
  readonly smoothing: number;
  readonly probeMultiplier: number;
}

/** The option names {@link vegasParams} reads. */
export const VEGAS_KEYS = ['alpha', 'beta', 'smoothing', 'probeMultiplier'] as const;

/** Validates and resolves {@link VegasOptions}; `at` names the options' parent in errors. */
export function vegasParams(o: VegasOptions, at: string): VegasParams {
  const alpha = num(`${at}.alpha`, o.alpha, 3, { min: 0, exclusiveMin: true, max: 1_000 });
  return {
    alpha,
    beta: num(`${at}.beta`, o.beta, Math.max(6, alpha), { min: alpha, max: 1_000 }),
    smoothing: num(`${at}.smoothing`, o.smoothing, 1, { min: 0, exclusiveMin: true, max: 1 }),
    probeMultiplier: num(`${at}.probeMultiplier`, o.probeMultiplier, 30, {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
  };
}

/** A window this much faster than the baseline shows the baseline is stale. */
const STALE = 0.9;

export class Vegas implements LimitAlgorithm {
  estimate: number;
  readonly #bounds: LimitBounds;
  readonly #params: VegasParams;
  readonly #probe: BaselineProbe;
  /** The smallest window latency seen since the last probe; 0 before the first window. */
  #noLoadRtt = 0;

  constructor(bounds: LimitBounds, params: VegasParams, random: () => number) {
    this.#bounds = bounds;
    this.#params = params;
    this.#probe = new BaselineProbe(params.probeMultiplier, random);
    this.estimate = bounds.initial;
  }

  /** The no-load latency the algorithm compares windows with (ms; 0 before any). */
  get noLoadRtt(): number {
    return this.#noLoadRtt;
  }

  update(window: WindowSample): number {
    if (this.#probe.active) {
      const end = this.#probe.step(window);
      if (end === undefined) return this.estimate;
      if (end.baseline !== undefined) this.#noLoadRtt = end.baseline;
      this.estimate = end.restore;
      if (end.baseline !== undefined) return this.estimate;
    }
    const limit = this.estimate;
    const step = log10Step(limit);
    const rtt = window.rtt;
    if (window.drops > 0) {
      if (rtt > 0 && (this.#noLoadRtt === 0 || rtt < this.#noLoadRtt)) this.#noLoadRtt = rtt;
      return this.#set(limit - step);
    }
    if (!(rtt > 0)) return limit;
    if (this.#noLoadRtt === 0 || rtt < this.#noLoadRtt) {
      // Much faster than the no-load latency: it was measured under load, or the dependency
      // got faster; either way, measure it afresh soon.
      if (rtt < STALE * this.#noLoadRtt) this.#probe.request();
      this.#noLoadRtt = rtt;
      return limit;
    }
    const hold = this.#probe.due(limit, this.#bounds.min);
    if (hold !== undefined) {
      this.estimate = hold;
      return hold;
    }
    if (appLimited(window.maxInFlight, limit)) return limit;
    const queue = Math.ceil(limit * (1 - this.#noLoadRtt / rtt));
    const { alpha, beta } = this.#params;
    if (queue <= step) return this.#set(limit + beta * step);
    if (queue < alpha * step) return this.#set(limit + step);
    if (queue > beta * step) return this.#set(limit - step);
    return limit;
  }

  #set(next: number): number {
    const { min, max } = this.#bounds;
    const s = this.#params.smoothing;
    this.estimate = clamp((1 - s) * this.estimate + s * clamp(next, min, max), min, max);
    return this.estimate;
  }
}
