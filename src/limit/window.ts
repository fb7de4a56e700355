/**
 * The sample window: attempts' samples are gathered into windows of about two round trips,
 * and an algorithm hears one summary per window, not one per attempt.
 *
 * Updating once per window, as TCP updates its congestion window once per round trip, is
 * what keeps the limit steady: a sample reports the dependency as it was when the attempt
 * started, so an algorithm that moved the limit on every sample would read a whole round
 * trip of stale, identical good news after each step up and overshoot many times over; and
 * an average over a window is far steadier than one latency. It also bounds how often the
 * limit can change (and is reported to change) to once per window.
 *
 * A window ends at the first sample at least `duration` after it began, where `duration` is
 * twice the smallest latency of the window before, kept within [minMs, maxMs], and once it
 * holds `minSamples` samples: under light traffic (or a limit of a few operations over a slow
 * dependency) a window lasts until it has heard enough. O(1) per sample: running sums only.
 *
 * @internal
 * @module
 */
import type { AttemptSample } from '../engine/stages.js';
import { num, obj } from '../validate.js';

/** One window's summary, as an algorithm hears it. */
export interface WindowSample {
  /** Mean latency of the window's attempts that were not dropped, ms; 0 when all were. */
  readonly rtt: number;
  /** Smallest latency of an attempt not dropped, ms; Infinity when all were dropped. */
  readonly minRtt: number;
  /** Most operations in flight at the end of any of the window's attempts. */
  readonly maxInFlight: number;
  /** Attempts in the window. */
  readonly samples: number;
  /** Of which dropped. */
  readonly drops: number;
  /** When the window ended (the policy's clock). */
  readonly now: number;
}

/** Options of the sample window (`adaptiveLimit({ window })`). */
export interface LimitWindowOptions {
  /**
   * Shortest window, ms.
   * @default 100
   */
  minMs?: number;
  /**
   * Longest window, ms.
   * @default 1_000
   */
  maxMs?: number;
  /**
   * A window lasts until it holds at least this many samples.
   * @default 10
   */
  minSamples?: number;
}

/** Resolved {@link LimitWindowOptions}. */
export interface WindowParams {
  readonly minMs: number;
  readonly maxMs: number;
  readonly minSamples: number;
}

/** Validates and resolves {@link LimitWindowOptions}; `at` names the option in errors. */
export function windowParams(options: unknown, at: string): WindowParams {
  const o = obj<LimitWindowOptions>(at, options, ['minMs', 'maxMs', 'minSamples']) ?? {};
  const minMs = num(`${at}.minMs`, o.minMs, 100, { min: 1, max: 3_600_000 });
  return {
    minMs,
    maxMs: num(`${at}.maxMs`, o.maxMs, Math.max(1_000, minMs), { min: minMs, max: 3_600_000 }),
    minSamples: num(`${at}.minSamples`, o.minSamples, 10, { min: 1, max: 1_000_000, integer: true }),
  };
}

export class SampleWindow {
  readonly #params: WindowParams;
  #start = Number.NaN;
  #duration: number;
  #samples = 0;
  #drops = 0;
  #rttSum = 0;
  #minRtt = Number.POSITIVE_INFINITY;
  #maxInFlight = 0;

  constructor(params: WindowParams) {
    this.#params = params;
    this.#duration = params.minMs;
  }

  /** Adds one sample; returns the summary of the window it closes, if it closes one. */
  add(sample: AttemptSample): WindowSample | undefined {
    const now = sample.now;
    if (Number.isNaN(this.#start)) this.#start = now;
    this.#samples++;
    if (sample.inFlight > this.#maxInFlight) this.#maxInFlight = sample.inFlight;
    if (sample.dropped) {
      this.#drops++;
    } else {
      // Negative (a clock stepped back), NaN or infinite durations say nothing: count them as 0.
      const rtt = Number.isFinite(sample.durationMs) ? Math.max(sample.durationMs, 0) : 0;
      this.#rttSum += rtt;
      if (rtt < this.#minRtt) this.#minRtt = rtt;
    }
    // A clock that stepped back more than a window restarts the window rather than stalling it.
    const elapsed = now - this.#start;
    if (elapsed < this.#duration && elapsed > -this.#params.maxMs) return undefined;
    if (this.#samples < this.#params.minSamples) return undefined;
    const served = this.#samples - this.#drops;
    const summary: WindowSample = {
      rtt: served > 0 ? this.#rttSum / served : 0,
      minRtt: this.#minRtt,
      maxInFlight: this.#maxInFlight,
      samples: this.#samples,
      drops: this.#drops,
      now,
    };
    if (this.#minRtt !== Number.POSITIVE_INFINITY) {
      const { minMs, maxMs } = this.#params;
      const next = 2 * this.#minRtt;
      this.#duration = Math.min(Math.max(next, minMs), maxMs);
    }
    this.#start = now;
    this.#samples = 0;
    this.#drops = 0;
    this.#rttSum = 0;
    this.#minRtt = Number.POSITIVE_INFINITY;
    this.#maxInFlight = 0;
    return summary;
  }
}
