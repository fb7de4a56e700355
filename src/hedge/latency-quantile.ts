/**
 * A bounded latency quantile estimator for the adaptive hedge delay (`hedge: { delay:
 * { quantile: 0.95 } }`): how long this policy's recent attempts took, summarised in a
 * fixed-size log-linear histogram over a sliding window of a few time slots.
 *
 * Shape. Latencies (ms) fall into 38 groups of 32 equal-width buckets: group 0 covers
 * [0, 2⁻⁶ ms) linearly (buckets 2⁻¹¹ ms ≈ 0.5 µs wide); group g ≥ 1 covers the octave
 * [2^e, 2^(e+1)) with e = g − 7, from 2⁻⁶ ms (15.6 µs) up to 2³¹ ms, in buckets 2^e / 32
 * wide. Values above 2³¹ − 1 ms (setTimeout's limit, the largest delay an option may hold)
 * are clamped to it; negative values count as 0; NaN is ignored.
 *
 * Error. A quantile is the upper edge of the bucket holding the exact quantile x (nearest
 * rank, see {@link rankOf}), clamped to 2³¹ − 1, so the estimate never lies below x:
 * - x ≥ 2⁻⁶ ms: x ≤ estimate ≤ x × (1 + 1/32), a relative error of at most 3.125%;
 * - x < 2⁻⁶ ms: x < estimate ≤ x + 2⁻¹¹ ms (under half a microsecond).
 *
 * Erring high is deliberate: a hedge delay set at the estimate of the q-quantile is never
 * shorter than the exact one, so the delay alone sends a hedge for at most a (1 − q) share
 * of attempts.
 *
 * Window. Time is cut into 4 slots of `windowMs / 4`; a sample counts in the slot of the
 * `now` it was recorded at, and leaves when its slot is 4 slots old: it counts for at least
 * `3/4 × windowMs` and at most `windowMs` after it was recorded. A clock that steps back
 * books new samples to the newest slot.
 *
 * Cost. `record` is O(1): one `Math.log2` and four counter increments. `quantile` reads
 * O(groups + buckets per group) = 38 + 32 counters, and nothing at all when no sample was
 * recorded and no slot expired since the last read of the same quantile. Expiring a slot
 * costs O(groups) plus 32 per group the slot used, at most once per slot length. Memory
 * is fixed: about 25 KB of counters, allocated at the first sample. The estimator owns no
 * timer: time is the `now` its callers pass.
 *
 * @internal
 * @module
 */
import { num } from '../validate.js';

/** Largest recordable latency, ms: setTimeout's limit, the largest delay an option may hold. */
export const MAX_LATENCY_MS = 2_147_483_647;

const SUB_BITS = 5;
/** Buckets per group. */
const SUB = 1 << SUB_BITS;
/** The lowest octave is [2^MIN_EXP, 2^(MIN_EXP + 1)); below it, group 0 is linear. */
const MIN_EXP = -6;
/** The highest octave is [2^MAX_EXP, 2^(MAX_EXP + 1)), which holds MAX_LATENCY_MS. */
const MAX_EXP = 30;
const GROUPS = MAX_EXP - MIN_EXP + 2;
const BUCKETS = GROUPS * SUB;
/** Time slots of the sliding window. */
const SLOTS = 4;

/** Guaranteed relative error of a quantile at or above {@link RELATIVE_ERROR_FLOOR_MS}. */
export const RELATIVE_ERROR = 1 / SUB;
/** Below this latency (ms), the error is absolute: at most {@link ABSOLUTE_ERROR_MS}. */
export const RELATIVE_ERROR_FLOOR_MS = 2 ** MIN_EXP;
/** Largest error (ms) of a quantile below {@link RELATIVE_ERROR_FLOOR_MS}. */
export const ABSOLUTE_ERROR_MS = 2 ** MIN_EXP / SUB;

/** Lower edge of each group (ms); group 0 starts at 0. */
const BASE = new Float64Array(GROUPS);
/** Width of one bucket of each group (ms). Powers of two, so edges are exact doubles. */
const WIDTH = new Float64Array(GROUPS);
BASE[0] = 0;
WIDTH[0] = 2 ** MIN_EXP / SUB;
for (let g = 1; g < GROUPS; g++) {
  const e = MIN_EXP + g - 1;
  BASE[g] = 2 ** e;
  WIDTH[g] = 2 ** e / SUB;
}

const mod = (n: number, m: number): number => ((n % m) + m) % m;

/**
 * The nearest-rank position (1-based) of the `q`-quantile among `n` sorted samples:
 * ⌈q × n⌉, at least 1 and at most n. A tolerance of 1e-9 keeps a product such as
 * 0.55 × 100 = 55.00000000000001 at rank 55.
 */
export function rankOf(q: number, n: number): number {
  const rank = Math.ceil(q * n - 1e-9);
  return rank < 1 ? 1 : Math.min(rank, n);
}

/** The bucket index (group × 32 + bucket) of a clamped, non-negative latency. */
function bucketOf(ms: number): number {
  if (ms < 2 ** MIN_EXP) {
    // Exact: ms × 2^11 only moves the exponent.
    return Math.min(SUB - 1, Math.floor(ms / (WIDTH[0] as number)));
  }
  let g = Math.floor(Math.log2(ms)) - MIN_EXP + 1;
  if (g >= GROUPS) g = GROUPS - 1;
  // Math.log2 may round across a power of two; the edges themselves are exact.
  if (ms < (BASE[g] as number)) g--;
  else if (g + 1 < GROUPS && ms >= (BASE[g + 1] as number)) g++;
  // ms − BASE[g] is exact (ms lies within a factor 2 of it); the division is by a power of two.
  const sub = Math.floor((ms - (BASE[g] as number)) / (WIDTH[g] as number));
  return g * SUB + (sub < SUB ? sub : SUB - 1);
}

/** The upper edge (ms) of bucket `index`, clamped to {@link MAX_LATENCY_MS}. */
function upperEdge(index: number): number {
  const g = index >>> SUB_BITS;
  const edge = (BASE[g] as number) + ((index & (SUB - 1)) + 1) * (WIDTH[g] as number);
  return Math.min(edge, MAX_LATENCY_MS);
}

/** Options of {@link LatencyQuantile}. */
export interface LatencyQuantileOptions {
  /**
   * Length of the sliding window, ms: a sample counts for between 3/4 of it and all of it.
   * @default 10_000
   */
  windowMs?: number;
  /**
   * `quantile()` answers undefined while the window holds fewer samples.
   * @default 1
   */
  minSamples?: number;
}

/** Counters of the window, allocated at the first sample. */
interface Counters {
  /** Per slot, per bucket: SLOTS × BUCKETS. */
  readonly slotBuckets: Uint32Array;
  /** Per slot, per group: SLOTS × GROUPS. */
  readonly slotGroups: Uint32Array;
  /** Per slot: how many samples. */
  readonly slotTotals: Float64Array;
  /** Sums over the slots, per bucket and per group. */
  readonly buckets: Uint32Array;
  readonly groups: Uint32Array;
}

/**
 * Recent latencies of one policy's attempts, and their quantiles. Not shared between
 * policies; every method takes the time from its caller.
 */
export class LatencyQuantile {
  /** Length of the window, ms. */
  readonly windowMs: number;
  /** Samples the window must hold before `quantile()` answers. */
  readonly minSamples: number;
  readonly #slotMs: number;
  #counters: Counters | undefined;
  /** Samples in the window. */
  #count = 0;
  /** Index (now / slotMs) of the newest slot. */
  #epoch = Number.NEGATIVE_INFINITY;
  /** Bumped by every change of the counters, so a repeated read can reuse its answer. */
  #version = 0;
  #cachedVersion = -1;
  #cachedQ = Number.NaN;
  #cachedValue: number | undefined;

  constructor(options: LatencyQuantileOptions = {}) {
    this.windowMs = num('windowMs', options.windowMs, 10_000, { min: 4, max: 86_400_000 });
    this.minSamples = num('minSamples', options.minSamples, 1, { min: 1, max: 1e9, integer: true });
    this.#slotMs = this.windowMs / SLOTS;
  }

  /** Bytes of counters this estimator holds once it has a sample (the same for any number of samples). */
  static readonly BYTES = (SLOTS * BUCKETS + SLOTS * GROUPS + BUCKETS + GROUPS) * 4 + SLOTS * 8;

  /** Bytes of counters held now: 0 before the first sample, then {@link LatencyQuantile.BYTES}. */
  get bytes(): number {
    const c = this.#counters;
    if (c === undefined) return 0;
    return (
      c.slotBuckets.byteLength +
      c.slotGroups.byteLength +
      c.slotTotals.byteLength +
      c.buckets.byteLength +
      c.groups.byteLength
    );
  }

  /** Records one latency, ms, observed at `now` (ms, the policy's clock). */
  record(ms: number, now: number): void {
    if (Number.isNaN(ms)) return;
    let c = this.#counters;
    if (c === undefined) {
      c = {
        slotBuckets: new Uint32Array(SLOTS * BUCKETS),
        slotGroups: new Uint32Array(SLOTS * GROUPS),
        slotTotals: new Float64Array(SLOTS),
        buckets: new Uint32Array(BUCKETS),
        groups: new Uint32Array(GROUPS),
      };
      this.#counters = c;
    }
    const slot = this.#advance(c, now);
    const value = ms > 0 ? Math.min(ms, MAX_LATENCY_MS) : 0;
    const bucket = bucketOf(value);
    const group = bucket >>> SUB_BITS;
    c.slotBuckets[slot * BUCKETS + bucket] = (c.slotBuckets[slot * BUCKETS + bucket] as number) + 1;
    c.slotGroups[slot * GROUPS + group] = (c.slotGroups[slot * GROUPS + group] as number) + 1;
    c.slotTotals[slot] = (c.slotTotals[slot] as number) + 1;
    c.buckets[bucket] = (c.buckets[bucket] as number) + 1;
    c.groups[group] = (c.groups[group] as number) + 1;
    this.#count++;
    this.#version++;
  }

  /** Samples in the window at `now`. */
  count(now: number): number {
    const c = this.#counters;
    if (c !== undefined) this.#advance(c, now);
    return this.#count;
  }

  /**
   * The `q`-quantile (q in (0, 1]) of the latencies in the window at `now`, ms, within the
   * error documented in the module comment; undefined while the window holds fewer than
   * `minSamples` samples.
   */
  quantile(q: number, now: number): number | undefined {
    const c = this.#counters;
    if (c === undefined) return undefined;
    this.#advance(c, now);
    if (this.#count < this.minSamples) return undefined;
    if (this.#cachedVersion === this.#version && this.#cachedQ === q) return this.#cachedValue;
    const rank = rankOf(q, this.#count);
    let seen = 0;
    let group = 0;
    for (; group < GROUPS - 1; group++) {
      const inGroup = c.groups[group] as number;
      if (seen + inGroup >= rank) break;
      seen += inGroup;
    }
    let index = group * SUB;
    const last = index + SUB - 1;
    for (; index < last; index++) {
      seen += c.buckets[index] as number;
      if (seen >= rank) break;
    }
    const value = upperEdge(index);
    this.#cachedVersion = this.#version;
    this.#cachedQ = q;
    this.#cachedValue = value;
    return value;
  }

  /** Moves the window to `now`, expiring slots that left it; returns the current slot. */
  #advance(c: Counters, now: number): number {
    let epoch = Math.floor(now / this.#slotMs);
    // A time that is not finite (NaN, ±Infinity) books to the newest slot, or slot 0 at first.
    if (!Number.isFinite(epoch)) epoch = Number.isFinite(this.#epoch) ? this.#epoch : 0;
    const behind = epoch - this.#epoch;
    // Same slot, or a clock that stepped back: the newest slot.
    if (behind <= 0) return mod(this.#epoch, SLOTS);
    if (behind >= SLOTS) {
      if (this.#count > 0) {
        c.slotBuckets.fill(0);
        c.slotGroups.fill(0);
        c.slotTotals.fill(0);
        c.buckets.fill(0);
        c.groups.fill(0);
        this.#count = 0;
        this.#version++;
      }
    } else {
      for (let e = this.#epoch + 1; e <= epoch; e++) this.#expire(c, mod(e, SLOTS));
    }
    this.#epoch = epoch;
    return mod(epoch, SLOTS);
  }

  /** Takes slot `slot`'s samples out of the sums and empties it for reuse. */
  #expire(c: Counters, slot: number): void {
    const total = c.slotTotals[slot] as number;
    if (total === 0) return;
    for (let group = 0; group < GROUPS; group++) {
      const inGroup = c.slotGroups[slot * GROUPS + group] as number;
      if (inGroup === 0) continue;
      c.groups[group] = (c.groups[group] as number) - inGroup;
      c.slotGroups[slot * GROUPS + group] = 0;
      const from = group * SUB;
      for (let index = from; index < from + SUB; index++) {
        const n = c.slotBuckets[slot * BUCKETS + index] as number;
        if (n === 0) continue;
        c.buckets[index] = (c.buckets[index] as number) - n;
        c.slotBuckets[slot * BUCKETS + index] = 0;
      }
    }
    c.slotTotals[slot] = 0;
    this.#count -= total;
    this.#version++;
  }
}
