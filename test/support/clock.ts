/**
 * A manual clock for tests: time moves only when the test says so, and timers fire in
 * order as it passes. `advance()` lets promise callbacks run between timers, so code that
 * schedules a timer from a promise continuation behaves as it would in real time.
 */
import type { Clock, TimerHandle } from '../../src/clock.js';

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly ms: number;
  readonly callback: () => void;
  referenced: boolean;
}

/** How a promise settled, and the clock's time then. */
export type Settled<T> =
  | { status: 'fulfilled'; value: T; at: number }
  | { status: 'rejected'; reason: unknown; at: number };

/** Filled in once the watched promise settles. */
export interface Watch<T> {
  settled: Settled<T> | undefined;
}

/** Lets every pending promise callback run (a macrotask turn). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  /** Every delay passed to setTimeout, in order (for assertions on waits). */
  readonly delays: number[] = [];
  /** How many timers were ever created, and cleared before they fired. */
  created = 0;
  cleared = 0;

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { id: ++this.#seq, at: this.#now + Math.max(0, ms), ms, callback, referenced: true };
    this.delays.push(ms);
    this.created++;
    // Keep the list sorted by (at, id): after the last timer due no later than this one.
    const timers = this.#timers;
    let lo = 0;
    let hi = timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((timers[mid] as Timer).at <= timer.at) lo = mid + 1;
      else hi = mid;
    }
    timers.splice(lo, 0, timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.#timers.indexOf(handle as Timer);
    if (index < 0) return;
    this.#timers.splice(index, 1);
    this.cleared++;
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** The time of the next timer, if any. */
  get next(): number | undefined {
    return this.#timers[0]?.at;
  }

  /** Whether `handle` is a timer that has neither fired nor been cleared. */
  isPending(handle: TimerHandle): boolean {
    return this.#timers.includes(handle as Timer);
  }

  /** The delays (ms) of the timers still pending, in firing order. */
  pendingDelays(): number[] {
    return this.#timers.map((t) => t.ms);
  }

  /** Sets the time without firing anything (may step back, like a wall clock can). */
  set(time: number): void {
    this.#now = time;
  }

  /** Moves time forward by `ms`, firing due timers in order and flushing promises between them. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await flush();
    }
    this.#now = Math.max(this.#now, target);
    await flush();
  }

  /** Moves time to the next timer and fires it (and any others due then). */
  async tick(): Promise<void> {
    const next = this.#timers[0];
    if (next === undefined) return flush();
    return this.advance(Math.max(0, next.at - this.#now));
  }

  /** Fires timers until none is left, or `limit` ms have passed. */
  async runAll(limit = 3_600_000): Promise<void> {
    const end = this.#now + limit;
    await flush();
    while (this.#timers.length > 0 && (this.#timers[0]?.at ?? Number.POSITIVE_INFINITY) <= end) {
      await this.tick();
    }
  }

  /**
   * Records how and when (on this clock) `promise` settles, without driving time; read
   * `watch.settled` after moving the clock. Handles the rejection.
   */
  watch<T>(promise: Promise<T>): Watch<T> {
    const watch: Watch<T> = { settled: undefined };
    promise.then(
      (value) => {
        watch.settled = { status: 'fulfilled', value, at: this.#now };
      },
      (reason: unknown) => {
        watch.settled = { status: 'rejected', reason, at: this.#now };
      },
    );
    return watch;
  }

  /**
   * Runs timers until `promise` settles (or `limit` ms pass); returns how and when it
   * settled. Drive a clock from one place at a time: `watch` several promises instead.
   */
  async settle<T>(promise: Promise<T>, limit = 3_600_000): Promise<Settled<T> | { status: 'pending' }> {
    const watch = this.watch(promise);
    const end = this.#now + limit;
    await flush();
    while (watch.settled === undefined) {
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      await this.tick();
    }
    return watch.settled ?? { status: 'pending' };
  }

  /** @internal For {@link RefClock}. */
  protected timer(handle: TimerHandle): Timer | undefined {
    return this.#timers.find((t) => t === handle);
  }

  /** @internal For {@link RefClock}. */
  protected get timers(): readonly Timer[] {
    return this.#timers;
  }
}

/** A manual clock that also has Node's `unref`/`ref`, and counts the timers that would keep a process alive. */
export class RefClock extends ManualClock {
  unref(handle: TimerHandle): void {
    const t = this.timer(handle);
    if (t !== undefined) t.referenced = false;
  }

  ref(handle: TimerHandle): void {
    const t = this.timer(handle);
    if (t !== undefined) t.referenced = true;
  }

  /** Pending timers that are referenced (would keep the event loop alive). */
  get referenced(): number {
    return this.timers.filter((t) => t.referenced).length;
  }
}
