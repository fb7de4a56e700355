/**
 * A manual clock for tests: time moves only when the test says so, and timers fire in
 * order as it passes. `advance()` lets promise callbacks run between timers, so code that
 * schedules a timer from a promise continuation behaves as it would in real time.
 */
import type { Clock, TimerHandle } from '../../src/clock.js';

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
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

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { id: ++this.#seq, at: this.#now + Math.max(0, ms), callback };
    this.delays.push(ms);
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t !== handle);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** The time of the next timer, if any. */
  get next(): number | undefined {
    return this.#timers[0]?.at;
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
    this.#now = target;
    await flush();
  }

  /** Moves time to the next timer and fires it (and any others due then). */
  async tick(): Promise<void> {
    const next = this.#timers[0];
    if (next === undefined) return flush();
    return this.advance(next.at - this.#now);
  }

  /** Fires timers until none is left, or `limit` ms have passed. */
  async runAll(limit = 3_600_000): Promise<void> {
    const end = this.#now + limit;
    await flush();
    while (this.#timers.length > 0 && (this.#timers[0]?.at ?? Number.POSITIVE_INFINITY) <= end) {
      await this.tick();
    }
  }
}
