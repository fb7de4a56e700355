/**
 * Keeping a message in hand while a long handler runs: `msg.working()` every half of the
 * consumer's `ack_wait`, so the server does not redeliver it to another consumer meanwhile.
 *
 * The ack wait is the consumer's configuration, not the message's: it is read once per
 * stream and consumer from the server (`$JS.API.CONSUMER.INFO`, through the dead-letter
 * publisher's client) unless the `ackWait` option gives it. The first message of a consumer
 * does not wait for that answer: its heartbeat starts when the answer comes.
 *
 * @module
 */
import type { Clock } from '../index.js';
import type { JetStreamClientLike, JetStreamManagerLike } from './types.js';

/** The server's default `ack_wait`, in ms: used when the consumer's cannot be read. */
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** Consumers remembered at most; past it the memory starts over (each is asked again once). */
const MAX_CONSUMERS = 1_000;

/** The ack wait of each consumer, learned from the server once. */
export class AckWaits {
  readonly #js: JetStreamClientLike | undefined;
  #jsm: Promise<JetStreamManagerLike> | undefined;
  readonly #known = new Map<string, number>();
  readonly #pending = new Map<string, Promise<number>>();

  /** `js`: the client to ask; without one, every consumer gets {@link DEFAULT_ACK_WAIT_MS}. */
  constructor(js: JetStreamClientLike | undefined) {
    this.#js = js;
  }

  /** The consumer's ack wait in ms if known now (no I/O), else a promise of it. */
  of(stream: string, consumer: string): number | Promise<number> {
    const id = `${stream}\u0000${consumer}`;
    const known = this.#known.get(id);
    if (known !== undefined) return known;
    if (this.#js === undefined) return DEFAULT_ACK_WAIT_MS;
    let pending = this.#pending.get(id);
    if (pending === undefined) {
      pending = this.#lookup(stream, consumer).then(
        (ms) => {
          this.#pending.delete(id);
          if (ms === undefined) return DEFAULT_ACK_WAIT_MS;
          if (this.#known.size >= MAX_CONSUMERS) this.#known.clear();
          this.#known.set(id, ms);
          return ms;
        },
        () => {
          // Not cached: the next message asks again.
          this.#pending.delete(id);
          return DEFAULT_ACK_WAIT_MS;
        },
      );
      this.#pending.set(id, pending);
    }
    return pending;
  }

  async #lookup(stream: string, consumer: string): Promise<number | undefined> {
    const jsm = await this.#manager();
    const info = await jsm.consumers?.info(stream, consumer);
    const nanos = info?.config.ack_wait;
    // The API speaks nanoseconds.
    return typeof nanos === 'number' && nanos > 0 ? nanos / 1_000_000 : undefined;
  }

  #manager(): Promise<JetStreamManagerLike> {
    let jsm = this.#jsm;
    if (jsm === undefined) {
      const created = (this.#js as JetStreamClientLike).jetstreamManager(false);
      jsm = created;
      this.#jsm = created;
      created.catch(() => {
        if (this.#jsm === created) this.#jsm = undefined;
      });
    }
    return jsm;
  }
}

/** A running heartbeat; `stop()` clears its timer (and any later start). */
export interface Heartbeat {
  stop(): void;
}

/**
 * Calls `working()` every half of `ackWait` (a number, or a promise of one) from now until
 * stopped. When the ack wait becomes known only later (the first message of a consumer),
 * the first `working()` is due half an ack wait after the start, so it is sent at once if
 * that time has passed. A `working()` that throws (a closed connection) ends the heartbeat.
 */
export function startHeartbeat(
  msg: { working(): void },
  ackWait: number | Promise<number>,
  clock: Clock,
): Heartbeat {
  const started = clock.now();
  let stopped = false;
  let timer: unknown;
  const beat = (): boolean => {
    try {
      msg.working();
      return true;
    } catch {
      stopped = true;
      return false;
    }
  };
  const arm = (interval: number, first = interval): void => {
    timer = clock.setTimeout(() => {
      timer = undefined;
      if (!stopped && beat()) arm(interval);
    }, first);
  };
  const begin = (ms: number): void => {
    if (stopped) return;
    const interval = Math.max(1, Math.floor(ms / 2));
    const due = interval - (clock.now() - started);
    if (due > 0) arm(interval, due);
    else if (beat()) arm(interval);
  };
  if (typeof ackWait === 'number') begin(ackWait);
  else void ackWait.then(begin);
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) {
        clock.clearTimeout(timer);
        timer = undefined;
      }
    },
  };
}
