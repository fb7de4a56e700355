/**
 * What one run measures. Every order the load generator places gets a cart number; every
 * service counts what it does against the cart that caused it (a call received, a publish
 * sent, a package shipped), so the numbers of a phase are those of the carts placed in it,
 * even when their work ran over into the next phase.
 *
 * @module
 */
import { PHASES, phaseAt } from './scenario.js';

export const COUNTERS = [
  'checkout', // HTTP requests that reached Checkout
  'discount', // calls that reached Discount
  'loyalty', // calls that reached Loyalty
  'orders', // CreateOrder calls that reached Orders
  'created', // orders Orders stored
  'publish', // publish requests sent to JetStream (every attempt)
  'duplicateRemoved', // publishes the server answered `duplicate: true` (dropped by Nats-Msg-Id)
  'stored', // copies of orders.created in the stream, counted at the end
  'carrier', // ship calls that reached Shipping's carrier
  'shipped', // packages shipped
  'emailed', // confirmation emails sent
  'reserved', // stock reservations made by Inventory
  'guarded', // deliveries the idempotent handler acked without running the handler again
  'deadLettered', // messages Shipping copied to the dead-letter stream and terminated
  'withoutPoints', // successful checkouts priced without loyalty points (degraded)
] as const;
export type Counter = (typeof COUNTERS)[number];

export interface CartRecord {
  readonly seq: number;
  readonly phase: number;
  /** When the load generator planned to send it, ms from the run's start. */
  readonly plannedAt: number;
  /** From `plannedAt` to the final answer (after the client's retries), ms. */
  latencyMs: number | undefined;
  ok: boolean | undefined;
}

export interface BreakerTransition {
  /** ms from the run's start */
  readonly at: number;
  readonly breaker: string;
  readonly from: string;
  readonly to: string;
}

/** Per-run recorder, shared by every service of the run (they live in one process). */
export class Recorder {
  readonly phaseMs: number;
  /** `performance.now()` at the run's start. */
  #origin: number;
  readonly carts: CartRecord[] = [];
  readonly transitions: BreakerTransition[] = [];
  readonly #counts = new Map<Counter, number[]>(COUNTERS.map((name) => [name, []]));

  constructor(phaseMs: number) {
    this.phaseMs = phaseMs;
    this.#origin = performance.now();
  }

  /** Sets the run's start to now (after set-up and warm-up). */
  start(): void {
    this.#origin = performance.now();
  }

  /** ms since the run's start */
  now(): number {
    return performance.now() - this.#origin;
  }

  /** A new cart, planned for `plannedAt` (ms from the start); returns its number (from 1). */
  newCart(plannedAt: number): number {
    const seq = this.carts.length + 1;
    this.carts.push({
      seq,
      phase: phaseAt(plannedAt, this.phaseMs),
      plannedAt,
      latencyMs: undefined,
      ok: undefined,
    });
    return seq;
  }

  finishCart(seq: number, ok: boolean): void {
    const cart = this.carts[seq - 1];
    if (cart === undefined || cart.ok !== undefined) return;
    cart.ok = ok;
    cart.latencyMs = this.now() - cart.plannedAt;
  }

  /** Counts `n` of `counter` for cart `seq` (unknown carts are ignored). */
  count(counter: Counter, seq: number, n = 1): void {
    if (!Number.isInteger(seq) || seq < 1 || seq > this.carts.length) return;
    const list = this.#counts.get(counter);
    if (list === undefined) return;
    list[seq - 1] = (list[seq - 1] ?? 0) + n;
  }

  /** How many of `counter` cart `seq` caused. */
  countFor(counter: Counter, seq: number): number {
    return this.#counts.get(counter)?.[seq - 1] ?? 0;
  }

  transition(breaker: string, from: string, to: string): void {
    this.transitions.push({ at: this.now(), breaker, from, to });
  }
}

/** The measured numbers of one phase (or of the whole run). */
export interface PhaseNumbers {
  readonly requests: number;
  readonly succeeded: number;
  /** 0..1 */
  readonly successRate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The service under stress in the phase, and the calls that reached it per request. */
  readonly failingService: string;
  readonly failingCalls: number;
  readonly callsPerRequest: number;
  readonly breakerTransitions: number;
  readonly duplicatePublishesRemoved: number;
  /** Copies of orders.created in the stream beyond one per order. */
  readonly duplicateCopiesStored: number;
  readonly ordersCreated: number;
  /** Orders beyond the first for the same cart (a retried checkout that ordered again). */
  readonly duplicateOrders: number;
  readonly packagesShipped: number;
  readonly emailsSent: number;
  readonly stockReservations: number;
  readonly redeliveriesGuarded: number;
  /** Messages copied to the dead-letter stream (and terminated) by the protected Shipping. */
  readonly messagesDeadLettered: number;
  readonly servedWithoutPoints: number;
  readonly loyaltyCalls: number;
  readonly publishAttempts: number;
  readonly carrierCalls: number;
}

/** Nearest-rank percentile of sorted values; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

/** The numbers of the carts for which `include(cart)` holds. */
export function summarize(
  recorder: Recorder,
  include: (cart: CartRecord) => boolean,
  failing: { service: string; counter: Counter },
  transitions: number,
): PhaseNumbers {
  const latencies: number[] = [];
  const sums = new Map<Counter, number>(COUNTERS.map((name) => [name, 0]));
  let requests = 0;
  let succeeded = 0;
  let duplicateOrders = 0;
  let duplicateCopies = 0;
  for (const cart of recorder.carts) {
    if (!include(cart)) continue;
    requests++;
    if (cart.ok === true) succeeded++;
    if (cart.latencyMs !== undefined) latencies.push(cart.latencyMs);
    for (const name of COUNTERS) sums.set(name, (sums.get(name) ?? 0) + recorder.countFor(name, cart.seq));
    const created = recorder.countFor('created', cart.seq);
    duplicateOrders += Math.max(0, created - 1);
    duplicateCopies += Math.max(0, recorder.countFor('stored', cart.seq) - created);
  }
  latencies.sort((a, b) => a - b);
  const sum = (name: Counter): number => sums.get(name) ?? 0;
  const failingCalls = sum(failing.counter);
  return {
    requests,
    succeeded,
    successRate: requests === 0 ? 0 : succeeded / requests,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failingService: failing.service,
    failingCalls,
    callsPerRequest: requests === 0 ? 0 : failingCalls / requests,
    breakerTransitions: transitions,
    duplicatePublishesRemoved: sum('duplicateRemoved'),
    duplicateCopiesStored: duplicateCopies,
    ordersCreated: sum('created'),
    duplicateOrders,
    packagesShipped: sum('shipped'),
    emailsSent: sum('emailed'),
    stockReservations: sum('reserved'),
    redeliveriesGuarded: sum('guarded'),
    messagesDeadLettered: sum('deadLettered'),
    servedWithoutPoints: sum('withoutPoints'),
    loyaltyCalls: sum('loyalty'),
    publishAttempts: sum('publish'),
    carrierCalls: sum('carrier'),
  };
}

/** Per-phase numbers, in phase order. */
export function phaseNumbers(recorder: Recorder): PhaseNumbers[] {
  return PHASES.map((spec, index) =>
    summarize(
      recorder,
      (cart) => cart.phase === index,
      spec.failing,
      recorder.transitions.filter((t) => phaseAt(t.at, recorder.phaseMs) === index).length,
    ),
  );
}

/** One point of the chart: the carts planned in one time bucket. */
export interface SeriesPoint {
  /** Bucket start, ms from the run's start. */
  readonly t: number;
  readonly requests: number;
  /** 0..1 */
  readonly successRate: number;
  readonly p99Ms: number;
}

/** Success rate and p99 latency per bucket of `bucketMs`, by planned send time. */
export function timeSeries(recorder: Recorder, bucketMs: number): SeriesPoint[] {
  const buckets: { ok: number; latencies: number[] }[] = [];
  for (const cart of recorder.carts) {
    const index = Math.floor(cart.plannedAt / bucketMs);
    let bucket = buckets[index];
    if (bucket === undefined) {
      bucket = { ok: 0, latencies: [] };
      buckets[index] = bucket;
    }
    if (cart.ok === true) bucket.ok++;
    bucket.latencies.push(cart.latencyMs ?? 0);
  }
  const points: SeriesPoint[] = [];
  buckets.forEach((bucket, index) => {
    if (bucket === undefined) return;
    const sorted = [...bucket.latencies].sort((a, b) => a - b);
    points.push({
      t: index * bucketMs,
      requests: sorted.length,
      successRate: sorted.length === 0 ? 0 : bucket.ok / sorted.length,
      p99Ms: percentile(sorted, 99),
    });
  });
  return points;
}
