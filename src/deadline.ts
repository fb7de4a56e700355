/**
 * Deadline arithmetic and the timers behind deadlines and attempt timeouts.
 *
 * A policy's deadline (and its attempt timeout) is the same duration for every call, so
 * the expiry times of its calls arrive in order. A {@link TimerLane} exploits that: one
 * FIFO queue and one timer serve every in-flight call of the policy, instead of a
 * `setTimeout`/`clearTimeout` pair per call (which costs more than the rest of the
 * pipeline together). An expiry that would break the order (a deadline propagated from
 * upstream) gets a timer of its own.
 *
 * @module
 */
import type { Clock, TimerHandle } from './clock.js';

/** setTimeout's longest delay, ms; Node fires a longer one after 1 ms. */
export const MAX_TIMER = 2_147_483_647;

/** Something a {@link TimerLane} can expire. */
export interface LaneEntry {
  /** Expiry time, ms since the epoch. */
  timerAt: number;
  /** True once the entry fired or was removed. */
  timerDone: boolean;
  /** Called once, at or after `timerAt`, unless removed first. */
  onTimer(): void;
}

/** @internal One timer for many in-order expiries. */
export class TimerLane {
  readonly #clock: Clock;
  /** Ring buffer of entries in expiry order; removed entries stay until they reach the head. */
  #ring: (LaneEntry | undefined)[] = new Array(16);
  #mask = 15;
  #start = 0;
  #count = 0;
  #live = 0;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #referenced = false;
  #firing = false;
  readonly #fire = (): void => this.#onFire();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Entries waiting now (for tests). */
  get size(): number {
    return this.#live;
  }

  /**
   * Adds `entry`. Returns false, and keeps nothing, when `entry` would expire before the
   * last one queued: the caller then needs a timer of its own.
   */
  add(entry: LaneEntry): boolean {
    if (this.#count > 0) {
      const last = this.#ring[(this.#start + this.#count - 1) & this.#mask] as LaneEntry;
      if (entry.timerAt < last.timerAt) return false;
      if (this.#count === this.#ring.length) this.#resize();
    }
    entry.timerDone = false;
    this.#ring[(this.#start + this.#count) & this.#mask] = entry;
    this.#count++;
    this.#live++;
    if (this.#firing) return true; // #onFire arms the timer when it is done
    if (this.#timer === undefined) {
      this.#arm(entry.timerAt);
    } else if (entry.timerAt < this.#timerAt) {
      // Only possible when the lane was empty: an idle timer armed for a later time.
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#arm(entry.timerAt);
    } else if (!this.#referenced) {
      this.#clock.ref?.(this.#timer);
      this.#referenced = true;
    }
    return true;
  }

  /**
   * The ring is full: drop the removed entries behind a long-lived head (they would keep
   * every finished call reachable until the head expires) when they are at least half of
   * it, and double the ring otherwise. Either way, O(1) amortised per add.
   */
  #resize(): void {
    const old = this.#ring;
    const compact = this.#live * 2 <= this.#count;
    const next: (LaneEntry | undefined)[] = new Array(compact ? old.length : old.length * 2);
    let n = 0;
    for (let i = 0; i < this.#count; i++) {
      const entry = old[(this.#start + i) & this.#mask] as LaneEntry;
      if (!compact || !entry.timerDone) next[n++] = entry;
    }
    this.#ring = next;
    this.#mask = next.length - 1;
    this.#start = 0;
    this.#count = n;
  }

  /** Removes `entry` (a no-op if it fired or was removed already). */
  remove(entry: LaneEntry): void {
    if (entry.timerDone) return;
    entry.timerDone = true;
    this.#live--;
    // Drop removed entries from the head; in-order traffic keeps the ring short.
    const ring = this.#ring;
    while (this.#count > 0) {
      const head = ring[this.#start] as LaneEntry;
      if (!head.timerDone) break;
      ring[this.#start] = undefined;
      this.#start = (this.#start + 1) & this.#mask;
      this.#count--;
    }
    if (this.#live === 0) this.#idle();
  }

  /** Nothing waits: let the process exit, but keep the timer so the next call need not make one. */
  #idle(): void {
    if (this.#timer === undefined || this.#firing) return;
    if (this.#clock.unref !== undefined) {
      if (this.#referenced) this.#clock.unref(this.#timer);
      this.#referenced = false;
    } else {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
    }
  }

  #arm(at: number): void {
    const delay = at - this.#clock.now();
    // A later expiry than a timer can wait is reached in steps (#onFire re-arms).
    this.#timer = this.#clock.setTimeout(this.#fire, delay > 0 ? Math.min(delay, MAX_TIMER) : 0);
    this.#timerAt = at;
    this.#referenced = true;
  }

  #onFire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#firing = true;
    try {
      const now = this.#clock.now();
      // Re-read the ring each turn: an expiring entry may add or remove entries.
      while (this.#count > 0) {
        const entry = this.#ring[this.#start] as LaneEntry;
        if (!entry.timerDone && entry.timerAt > now) break;
        this.#ring[this.#start] = undefined;
        this.#start = (this.#start + 1) & this.#mask;
        this.#count--;
        if (entry.timerDone) continue;
        entry.timerDone = true;
        this.#live--;
        entry.onTimer();
      }
    } finally {
      this.#firing = false;
    }
    if (this.#count > 0) this.#arm((this.#ring[this.#start] as LaneEntry).timerAt);
  }
}

/** The earlier of two optional deadlines. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
