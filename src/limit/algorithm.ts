/**
 * What every adaptive-limit algorithm shares: the bounds it keeps its estimate within, and
 * the small arithmetic they have in common. The algorithms themselves (vegas.ts,
 * gradient2.ts, aimd.ts) are pure state machines: no clock, no timer, no I/O; each turns one
 * sample window's summary (window.ts) into a new estimate in O(1).
 *
 * @internal
 * @module
 */
import type { WindowSample } from './window.js';

/** The algorithms {@link adaptiveLimit} offers. */
export type LimitAlgorithmName = 'vegas' | 'gradient2' | 'aimd';

/** The bounds an algorithm keeps its estimate within, and where it starts. */
export interface LimitBounds {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
}

/**
 * An algorithm's state. `update` hears one sample window's summary and returns the new
 * estimate (fractional, within [min, max]); the admission stage allows `floor(estimate)`
 * operations at once.
 */
export interface LimitAlgorithm {
  /** The current estimate, fractional, within [min, max]. */
  readonly estimate: number;
  /** Hears one window; returns the new estimate. */
  update(window: WindowSample): number;
}

/** `value` kept within [min, max]. */
export function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/**
 * The step size Netflix's algorithms scale with the limit: `max(1, floor(log10(limit)))`,
 * so 1 below 100, 2 from 100 to 999, 3 from 1000.
 */
export function log10Step(limit: number): number {
  return limit < 100 ? 1 : Math.max(1, Math.floor(Math.log10(limit)));
}

/**
 * True when the operations in flight use less than half the limit: the caller, not the
 * dependency, is what holds concurrency down, so a good sample says nothing about whether a
 * higher limit would be safe ("app-limited"). Every algorithm refuses to grow then, so the
 * limit cannot drift up during quiet hours and then let a burst through all at once.
 */
export function appLimited(inFlight: number, estimate: number): boolean {
  return inFlight * 2 < estimate;
}

const IDLE = 0;
const DRAINING = 1;
const MEASURING = 2;

/**
 * The periodic baseline probe of the delay-based algorithms. Their judgement rests on a
 * baseline latency (Vegas' no-load latency, Gradient2's long-term latency), which must be
 * measured with nothing queued at the dependency. A client that keeps the dependency busy
 * never sees that: every attempt waits behind the few the limit lets queue. So about every
 * `multiplier × limit` windows (times a random factor in [0.5, 1), so that clients sharing a
 * dependency do not probe in step) the probe halves the limit for two windows: the first
 * lets the queue drain, the second's mean latency becomes the baseline, and the limit goes
 * back to where it was. It costs about one window in `15 × limit` at half the concurrency,
 * and it is how a baseline follows a dependency whose base latency changed.
 */
export class BaselineProbe {
  readonly #multiplier: number;
  readonly #random: () => number;
  #windows = 0;
  /** The first baseline was measured under unknown load: check it early. */
  #requested = true;
  #jitter: number;
  #phase = IDLE;
  #saved = 0;

  constructor(multiplier: number, random: () => number) {
    this.#multiplier = multiplier;
    this.#random = random;
    this.#jitter = this.#nextJitter();
  }

  #nextJitter(): number {
    return 0.5 + 0.5 * this.#random();
  }

  /** Whether a probe is under way (the algorithm then lets {@link step} handle the window). */
  get active(): boolean {
    return this.#phase !== IDLE;
  }

  /**
   * The baseline is known to be stale (latency fell well below it): makes a probe due at
   * the next window, or `multiplier` windows after the last probe if that is later, so noisy
   * latencies cannot make it probe all the time.
   */
  request(): void {
    this.#requested = true;
  }

  /**
   * Counts one window; when a probe is due, starts it and returns the limit to hold
   * (half of `estimate`, at least `min`); otherwise undefined.
   */
  due(estimate: number, min: number): number | undefined {
    const windows = ++this.#windows;
    const due = this.#requested
      ? windows >= this.#multiplier
      : windows >= this.#jitter * this.#multiplier * estimate;
    if (!due) return undefined;
    this.#windows = 0;
    this.#requested = false;
    this.#jitter = this.#nextJitter();
    this.#phase = DRAINING;
    this.#saved = estimate;
    return Math.max(min, Math.floor(estimate / 2));
  }

  /**
   * Advances a probe by one window. Returns `{ baseline, restore }` when the probe ends:
   * `baseline` is the window's latency (undefined if it had none or saw a drop, and then the
   * old baseline stays), `restore` the limit to go back to. Returns undefined while draining.
   */
  step(window: WindowSample): { baseline: number | undefined; restore: number } | undefined {
    if (this.#phase === DRAINING && window.drops === 0) {
      this.#phase = MEASURING;
      return undefined;
    }
    this.#phase = IDLE;
    const measured = window.drops === 0 && window.rtt > 0;
    return { baseline: measured ? window.rtt : undefined, restore: this.#saved };
  }
}
