/**
 * Client-side adaptive throttling (Google SRE book, chapter 21, "Handling Overload"): each
 * client counts, over a sliding window, the requests it wanted to send and those the
 * dependency accepted, and once the dependency accepts too small a share it rejects part of
 * its own traffic locally, before sending it, with probability
 *
 * ```
 * p = max(0, (requests − k × accepts) / (requests + 1))
 * ```
 *
 * `requests` counts every attempt the application asked for, rejected locally or not, so
 * the rejections themselves push `p` up while the dependency stays down, and the few
 * attempts that still get through let `accepts` grow again as soon as it recovers. With
 * `k = 2` the client sends up to twice what the dependency accepts: enough to notice
 * recovery quickly, little enough that a dependency shedding load is not buried under
 * requests it will refuse anyway.
 *
 * @module
 */
import type { Throttle } from '../engine/stages.js';
import { num, obj } from '../validate.js';
import { ThrottledError } from './throttled-error.js';

/** Options of {@link adaptiveThrottle}. */
export interface AdaptiveThrottleOptions {
  /**
   * The multiplier: the client sends up to `k` times what the dependency accepts. Lower is
   * more aggressive; below 2 the throttle rejects earlier, above it later. At least 1.
   * @default 2
   */
  k?: number;
  /**
   * The window the counts cover, ms.
   * @default 120_000
   */
  windowMs?: number;
  /**
   * The window is kept in this many buckets: counts leave it one bucket
   * (`windowMs / buckets`) at a time.
   * @default 12
   */
  buckets?: number;
  /**
   * Below this many requests in the window the throttle never rejects: a handful of
   * failures is no evidence of overload.
   * @default 20
   */
  minRequests?: number;
}

/** The window's counts and the rejection probability they give. */
export interface ThrottleSnapshot {
  /** Attempts asked for in the window, rejected locally or not. */
  readonly requests: number;
  /** Attempts the dependency accepted in the window. */
  readonly accepts: number;
  /** The probability with which an attempt is rejected now, in [0, 1). */
  readonly probability: number;
}

/**
 * An adaptive throttle: pass it as a policy's `throttle`. Share one between policies to
 * count (and throttle) their attempts together.
 */
export interface AdaptiveThrottle extends Throttle {
  readonly k: number;
  readonly windowMs: number;
  readonly minRequests: number;
  /**
   * The window's counts and rejection probability at `now` (ms since the epoch, the
   * policy's clock); without `now`, as of the last attempt.
   */
  snapshot(now?: number): ThrottleSnapshot;
  /** @internal Whether to send an attempt now; counts it as a request either way. */
  allow(random: () => number, now: number): boolean;
  /** @internal An attempt ended; `accepted` is false when its failure counts against the dependency. */
  record(accepted: boolean, now: number): void;
  /** @internal The rejection for a throttled attempt. */
  rejection(): ThrottledError;
}

class Throttler implements AdaptiveThrottle {
  readonly k: number;
  readonly windowMs: number;
  readonly minRequests: number;
  readonly #bucketMs: number;
  readonly #requests: Float64Array;
  readonly #accepts: Float64Array;
  /** The bucket number (time / bucketMs) of the newest bucket; -Infinity before any. */
  #epoch = Number.NEGATIVE_INFINITY;
  #requestSum = 0;
  #acceptSum = 0;
  #last = Number.NEGATIVE_INFINITY;
  #probability = 0;

  constructor(k: number, windowMs: number, buckets: number, minRequests: number) {
    this.k = k;
    this.windowMs = windowMs;
    this.minRequests = minRequests;
    this.#bucketMs = windowMs / buckets;
    this.#requests = new Float64Array(buckets);
    this.#accepts = new Float64Array(buckets);
  }

  /** Moves the window to `now`: buckets that fell out of it are emptied. O(buckets) at most. */
  #advance(now: number): number {
    if (now > this.#last) this.#last = now;
    const epoch = Math.floor(now / this.#bucketMs);
    if (epoch <= this.#epoch) return this.#slot(this.#epoch); // same bucket, or a clock that stepped back
    const n = this.#requests.length;
    if (epoch - this.#epoch >= n) {
      this.#requests.fill(0);
      this.#accepts.fill(0);
      this.#requestSum = 0;
      this.#acceptSum = 0;
    } else {
      for (let e = this.#epoch + 1; e <= epoch; e++) {
        const s = this.#slot(e);
        this.#requestSum -= this.#requests[s] as number;
        this.#acceptSum -= this.#accepts[s] as number;
        this.#requests[s] = 0;
        this.#accepts[s] = 0;
      }
    }
    this.#epoch = epoch;
    return this.#slot(epoch);
  }

  #slot(epoch: number): number {
    const n = this.#requests.length;
    return ((epoch % n) + n) % n;
  }

  #rejectProbability(): number {
    const requests = this.#requestSum;
    if (requests < this.minRequests) return 0;
    const p = (requests - this.k * this.#acceptSum) / (requests + 1);
    return Math.max(p, 0);
  }

  allow(random: () => number, now: number): boolean {
    const slot = this.#advance(now);
    const p = this.#rejectProbability();
    this.#requests[slot] = (this.#requests[slot] as number) + 1;
    this.#requestSum++;
    if (p > 0 && random() < p) {
      this.#probability = p;
      return false;
    }
    return true;
  }

  record(accepted: boolean, now: number): void {
    if (!accepted) return;
    const slot = this.#advance(now);
    this.#accepts[slot] = (this.#accepts[slot] as number) + 1;
    this.#acceptSum++;
  }

  rejection(): ThrottledError {
    return ThrottledError.fast(this.#probability);
  }

  snapshot(now?: number): ThrottleSnapshot {
    if (now !== undefined) this.#advance(now);
    return Object.freeze({
      requests: this.#requestSum,
      accepts: this.#acceptSum,
      probability: this.#rejectProbability(),
    });
  }
}

/** True when `value` is a throttle (what a policy's `throttle` option accepts). */
export function isThrottle(value: unknown): value is Throttle {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Throttle).allow === 'function' &&
    typeof (value as Throttle).record === 'function' &&
    typeof (value as Throttle).rejection === 'function'
  );
}

/**
 * Creates an adaptive throttle (client-side adaptive throttling, Google SRE book chapter
 * 21). Before each attempt it rejects locally, with `ThrottledError`, with probability
 * `max(0, (requests − k × accepts) / (requests + 1))` over the last `windowMs`; an attempt
 * counts as accepted unless its failure counts against the dependency (the breaker's
 * `isFailure` classification). The draw uses the policy's `random`.
 *
 * Unlike a circuit breaker it never cuts traffic off entirely and needs no probe: it sheds
 * just the share the dependency is refusing, each client on its own, and lets the rest
 * through.
 *
 * @example
 * ```ts
 * import { adaptiveThrottle, policy } from 'breakwater';
 * const loyalty = policy({ throttle: adaptiveThrottle({ k: 2, windowMs: 120_000 }) });
 * ```
 */
export function adaptiveThrottle(options: AdaptiveThrottleOptions = {}): AdaptiveThrottle {
  const at = 'adaptiveThrottle';
  const o = obj<AdaptiveThrottleOptions>(at, options, ['k', 'windowMs', 'buckets', 'minRequests']) ?? {};
  const k = num(`${at}.k`, o.k, 2, { min: 1, max: 1_000 });
  const windowMs = num(`${at}.windowMs`, o.windowMs, 120_000, { min: 1, max: 86_400_000 });
  const buckets = num(`${at}.buckets`, o.buckets, 12, { min: 1, max: 1_000, integer: true });
  const minRequests = num(`${at}.minRequests`, o.minRequests, 20, {
    min: 0,
    max: 1_000_000_000,
    integer: true,
  });
  return new Throttler(k, windowMs, buckets, minRequests);
}
