/**
 * A simulated dependency for the adaptive-limit tests: `capacity` handlers serve one
 * operation each in `serviceMs` (± `jitter / 2`, a fraction), a FIFO queue of at most
 * `queueBound` waits behind them, and an operation that finds the queue full is refused at
 * once (a drop, as an overloaded server's RESOURCE_EXHAUSTED). So latency is flat up to
 * `capacity` operations in flight and grows with the queue above it.
 *
 * The client keeps as many operations in flight as the limit allows (infinite demand: the
 * limit, not the caller, holds concurrency down), reports every finished operation to
 * `sample` and releases its slot, as the policy does. Time is simulated: minutes of traffic
 * take milliseconds and no real clock is read.
 */
import type { AttemptSample } from '../../../src/engine/stages.js';

export interface DependencyModel {
  /** Operations served at once: the concurrency the limit should find. */
  readonly capacity: number;
  /** Service time of one operation, ms. */
  readonly serviceMs: number;
  /** Relative spread of the service time: each takes serviceMs × (1 ± jitter / 2). */
  readonly jitter: number;
  /** Operations that may wait for a handler; one more is refused at once. */
  readonly queueBound: number;
  /** How long a refusal takes to come back, ms. */
  readonly refusalMs: number;
}

/** What the simulation drives: an admission stage that hears samples (an adaptive limit). */
export interface Limited {
  readonly limit: number;
  readonly active: number;
  tryAcquire(): boolean;
  release(): void;
  sample(sample: AttemptSample): void;
}

export interface Trace {
  /** [time, limit]: the start, then every change of the limit. */
  readonly limits: [number, number][];
  /** Finished operations that were served (not refused). */
  readonly served: number;
  readonly dropped: number;
  /** Most operations in flight at once. */
  readonly maxInFlight: number;
}

/** A small seeded PRNG (mulberry32), so a failing property replays exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** How the limit spent the simulated time range [from, to). */
export interface LimitStats {
  /** Time-weighted mean. */
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Share of the time the limit lay within [low, high]. */
  within(low: number, high: number): number;
}

export function limitStats(trace: Trace, from: number, to: number): LimitStats {
  const spans: [number, number][] = []; // [value, duration]
  const points = trace.limits;
  for (let i = 0; i < points.length; i++) {
    const [t, value] = points[i] as [number, number];
    const next = i + 1 < points.length ? (points[i + 1] as [number, number])[0] : to;
    const a = Math.max(t, from);
    const b = Math.min(next, to);
    if (b > a) spans.push([value, b - a]);
  }
  const total = to - from;
  return {
    mean: spans.reduce((sum, [v, d]) => sum + v * d, 0) / total,
    min: Math.min(...spans.map(([v]) => v)),
    max: Math.max(...spans.map(([v]) => v)),
    within: (low, high) => spans.reduce((sum, [v, d]) => (v >= low && v <= high ? sum + d : sum), 0) / total,
  };
}

/** A binary min-heap keyed by `key`. */
class Heap<T> {
  readonly #items: T[] = [];
  readonly #key: (item: T) => number;
  constructor(key: (item: T) => number) {
    this.#key = key;
  }
  get size(): number {
    return this.#items.length;
  }
  peek(): T | undefined {
    return this.#items[0];
  }
  push(item: T): void {
    const a = this.#items;
    const k = this.#key(item);
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#key(a[p] as T) <= k) break;
      a[i] = a[p] as T;
      i = p;
    }
    a[i] = item;
  }
  pop(): T {
    const a = this.#items;
    const top = a[0] as T;
    const last = a.pop() as T;
    if (a.length > 0) {
      const k = this.#key(last);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mk = k;
        if (l < a.length && this.#key(a[l] as T) < mk) {
          m = l;
          mk = this.#key(a[l] as T);
        }
        if (r < a.length && this.#key(a[r] as T) < mk) m = r;
        if (m === i) break;
        a[i] = a[m] as T;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}

interface Op {
  readonly start: number;
  readonly end: number;
  readonly dropped: boolean;
}

/**
 * Runs `limited` against `model` for `durationMs` of simulated time, from `start`. `phases`
 * change the model part-way (at a time offset from `start`): a dependency that loses
 * capacity, slows down or recovers.
 */
export function simulate(
  limited: Limited,
  model: DependencyModel,
  durationMs: number,
  random: () => number,
  options: { start?: number; phases?: readonly { at: number; model: DependencyModel }[] } = {},
): Trace {
  const start = options.start ?? 1_000_000;
  const phases = options.phases ?? [];
  let m = model;
  let now = start;
  const end = start + durationMs;
  const inFlight = new Heap<Op>((op) => op.end);
  // When each handler is next free: an operation takes the earliest-free one (FIFO).
  let handlers = new Heap<number>((t) => t);
  for (let i = 0; i < m.capacity; i++) handlers.push(start);
  // Start times of admitted operations, in order (FIFO: they never decrease); those still
  // ahead of `now` are the queue.
  let starts: number[] = [];
  let head = 0;
  const limits: [number, number][] = [[start, limited.limit]];
  let served = 0;
  let dropped = 0;
  let maxInFlight = 0;
  let phase = 0;

  const send = (): void => {
    while (head < starts.length && (starts[head] as number) <= now) head++;
    if (head > 4_096) {
      starts = starts.slice(head);
      head = 0;
    }
    const free = handlers.peek() as number;
    if (free > now && starts.length - head >= m.queueBound) {
      inFlight.push({ start: now, end: now + m.refusalMs, dropped: true });
      return;
    }
    handlers.pop();
    const begin = Math.max(now, free);
    const done = begin + m.serviceMs * (1 + m.jitter * (random() - 0.5));
    handlers.push(done);
    starts.push(begin);
    inFlight.push({ start: now, end: done, dropped: false });
  };

  const fill = (): void => {
    while (limited.tryAcquire()) send();
    if (limited.active > maxInFlight) maxInFlight = limited.active;
  };

  fill();
  while (inFlight.size > 0) {
    const op = inFlight.pop();
    now = op.end;
    if (now >= end) break;
    const next = phases[phase];
    if (next !== undefined && now >= start + next.at) {
      m = next.model;
      phase++;
      // Busy handlers finish what they hold; added ones are free now; the latest-free go first.
      const busy: number[] = [];
      while (handlers.size > 0) busy.push(handlers.pop());
      handlers = new Heap<number>((t) => t);
      for (let i = 0; i < m.capacity; i++) handlers.push(busy[i] ?? now);
    }
    if (op.dropped) dropped++;
    else served++;
    const before = limited.limit;
    limited.sample({ durationMs: op.end - op.start, dropped: op.dropped, inFlight: limited.active, now });
    limited.release();
    if (limited.limit !== before) limits.push([now, limited.limit]);
    fill();
  }
  return { limits, served, dropped, maxInFlight };
}
