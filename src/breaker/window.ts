/**
 * Sliding windows of call outcomes for the circuit breaker: a count window (the last N
 * calls) and a time window (the calls of the last D ms, in B buckets). Both update and
 * read in O(1) (the time window's advance is bounded by its bucket count).
 *
 * @internal
 * @module
 */

/** Aggregates the breaker reads. */
export interface WindowTotals {
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

export interface OutcomeWindow extends WindowTotals {
  /** Records one outcome at time `now`. */
  record(failure: boolean, slow: boolean, now: number): void;
  /** Drops buckets older than the window (time windows only); call before reading totals. */
  advance(now: number): void;
  /** Forgets everything. */
  clear(): void;
}

const FAILURE = 1;
const SLOW = 2;

/** The last `size` calls. */
export class CountWindow implements OutcomeWindow {
  readonly #ring: Uint8Array;
  #next = 0;
  calls = 0;
  failures = 0;
  slow = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  record(failure: boolean, slow: boolean): void {
    const ring = this.#ring;
    const i = this.#next;
    if (this.calls === ring.length) {
      const old = ring[i] ?? 0;
      if (old & FAILURE) this.failures--;
      if (old & SLOW) this.slow--;
    } else {
      this.calls++;
    }
    ring[i] = (failure ? FAILURE : 0) | (slow ? SLOW : 0);
    if (failure) this.failures++;
    if (slow) this.slow++;
    this.#next = i + 1 === ring.length ? 0 : i + 1;
  }

  advance(): void {}

  clear(): void {
    this.#ring.fill(0);
    this.#next = 0;
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }
}

/** The calls of the last `durationMs`, kept in `buckets` buckets. */
export class TimeWindow implements OutcomeWindow {
  readonly #bucketMs: number;
  readonly #calls: Float64Array;
  readonly #failures: Float64Array;
  readonly #slow: Float64Array;
  #epoch = Number.NEGATIVE_INFINITY;
  calls = 0;
  failures = 0;
  slow = 0;

  constructor(durationMs: number, buckets: number) {
    this.#bucketMs = durationMs / buckets;
    this.#calls = new Float64Array(buckets);
    this.#failures = new Float64Array(buckets);
    this.#slow = new Float64Array(buckets);
  }

  #slot(epoch: number): number {
    const n = this.#calls.length;
    return ((epoch % n) + n) % n;
  }

  advance(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    if (epoch <= this.#epoch) return; // same bucket, or a clock that stepped back
    const n = this.#calls.length;
    if (epoch - this.#epoch >= n) {
      this.clear();
    } else {
      for (let e = this.#epoch + 1; e <= epoch; e++) {
        const s = this.#slot(e);
        this.calls -= this.#calls[s] ?? 0;
        this.failures -= this.#failures[s] ?? 0;
        this.slow -= this.#slow[s] ?? 0;
        this.#calls[s] = 0;
        this.#failures[s] = 0;
        this.#slow[s] = 0;
      }
    }
    this.#epoch = epoch;
  }

  record(failure: boolean, slow: boolean, now: number): void {
    this.advance(now);
    const s = this.#slot(this.#epoch);
    this.#calls[s] = (this.#calls[s] ?? 0) + 1;
    this.calls++;
    if (failure) {
      this.#failures[s] = (this.#failures[s] ?? 0) + 1;
      this.failures++;
    }
    if (slow) {
      this.#slow[s] = (this.#slow[s] ?? 0) + 1;
      this.slow++;
    }
  }

  clear(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }
}
