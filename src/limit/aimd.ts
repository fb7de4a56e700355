/**
 * AIMD: a loss-based limit following Netflix concurrency-limits' `AIMDLimit`: additive
 * increase while attempts succeed, multiplicative decrease when one is dropped.
 *
 * ```
 * a drop in the window, or a window mean latency over timeoutMs
 *             → max(min, min(limit − 1, floor(limit × backoffRatio)))
 * otherwise   → limit + 1      (unless fewer than limit / 2 operations are in flight)
 * ```
 *
 * It reads no latency below `timeoutMs`, so it finds the concurrency at which the dependency
 * starts refusing or timing out, and keeps the limit in a sawtooth just under it. Use it for
 * a dependency that sheds load cleanly (fast RESOURCE_EXHAUSTED or 503), or set `timeoutMs`
 * to the latency that means "overloaded" for yours. Against a dependency with a deep queue
 * and no such timeout it settles at capacity + queue.
 *
 * One difference from Netflix's code, deliberate: it hears one summary per sample window
 * rather than every sample (window.ts says why), so the limit is cut at most once per window
 * (about two round trips), as TCP cuts its window once per loss event. Cut for each dropped
 * sample, a burst of N drops, all sent under the same limit, would count as N overloads and
 * collapse the limit to its minimum.
 *
 * @internal
 * @module
 */

import { invalid, num } from '../validate.js';
import { appLimited, clamp, type LimitAlgorithm, type LimitBounds } from './algorithm.js';
import type { WindowSample } from './window.js';

/** Options of the `'aimd'` algorithm (Netflix's defaults). */
export interface AimdOptions {
  /**
   * The factor a drop multiplies the limit by, in [0.5, 1).
   * @default 0.9
   */
  backoffRatio?: number;
  /**
   * A sample window whose mean latency is over this (ms) counts as a drop, even if every
   * attempt in it succeeded.
   * @default 5_000
   */
  timeoutMs?: number;
}

/** Resolved {@link AimdOptions}. */
export interface AimdParams {
  readonly backoffRatio: number;
  readonly timeoutMs: number;
}

/** The option names {@link aimdParams} reads. */
export const AIMD_KEYS = ['backoffRatio', 'timeoutMs'] as const;

/** Validates and resolves {@link AimdOptions}; `at` names the options' parent in errors. */
export function aimdParams(o: AimdOptions, at: string): AimdParams {
  const backoffRatio = num(`${at}.backoffRatio`, o.backoffRatio, 0.9, { min: 0.5, max: 1 });
  if (backoffRatio === 1) invalid(`${at}.backoffRatio`, 'a number from 0.5 to below 1', backoffRatio);
  return {
    backoffRatio,
    timeoutMs: num(`${at}.timeoutMs`, o.timeoutMs, 5_000, {
      min: 0,
      exclusiveMin: true,
      max: Number.POSITIVE_INFINITY,
      allowInfinity: true,
    }),
  };
}

export class Aimd implements LimitAlgorithm {
  estimate: number;
  readonly #bounds: LimitBounds;
  readonly #params: AimdParams;

  constructor(bounds: LimitBounds, params: AimdParams) {
    this.#bounds = bounds;
    this.#params = params;
    this.estimate = bounds.initial;
  }

  update(window: WindowSample): number {
    const limit = this.estimate;
    const { min, max } = this.#bounds;
    if (window.drops > 0 || window.rtt > this.#params.timeoutMs) {
      this.estimate = clamp(Math.min(limit - 1, Math.floor(limit * this.#params.backoffRatio)), min, max);
      return this.estimate;
    }
    if (appLimited(window.maxInFlight, limit)) return limit;
    this.estimate = clamp(limit + 1, min, max);
    return this.estimate;
  }
}
