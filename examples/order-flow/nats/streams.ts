/**
 * The JetStream side of a run: the ORDERS stream, the three durable consumers, the
 * services' idempotency buckets, and the questions asked of them at the end (has every
 * consumer caught up? how many copies of each order's event were stored?). Each run
 * starts from an empty stream and removes it (and its buckets) when it ends, so a run
 * against an existing server (NATS_URL) leaves nothing behind.
 *
 * @module
 */
import { AckPolicy, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Recorder } from '../metrics.js';
import { ACK_WAIT_MS, WARM_UP_CART } from '../scenario.js';
import type { OrderEvent } from '../stacks/types.js';

export const STREAM = 'ORDERS';
/** Where Shipping's dead letters go (`dlq.ORDERS.shipping`, resilientHandler's default subject). */
export const DEAD_LETTER_STREAM = 'ORDERS_DLQ';
export const SUBJECT = 'orders.created';
export const CONSUMERS = ['email', 'shipping', 'inventory'] as const;
export type ConsumerName = (typeof CONSUMERS)[number];

/** Every connection of the example: quick reconnects, and no ping during a short pause. */
export const CONNECTION_OPTIONS = { reconnectTimeWait: 100, maxReconnectAttempts: -1 } as const;

/** The KV bucket where a service's idempotent handler records what it processed. */
export function bucketName(consumer: ConsumerName): string {
  return `order-flow-${consumer}`;
}

const nanos = (ms: number): number => ms * 1_000_000;

/** Creates an empty ORDERS stream, its consumers and (when asked) the services' buckets. */
export async function prepareStream(nc: NatsConnection, withBuckets: boolean): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await removeStream(jsm);
  await jsm.streams.add({ name: STREAM, subjects: ['orders.>'] });
  await jsm.streams.add({ name: DEAD_LETTER_STREAM, subjects: [`dlq.${STREAM}.>`] });
  for (const name of CONSUMERS) {
    await jsm.consumers.add(STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
      max_ack_pending: 1_000,
    });
  }
  if (withBuckets) {
    const kvm = new Kvm(jetstream(nc));
    for (const name of CONSUMERS) await kvm.create(bucketName(name), { history: 1, ttl: 600_000 });
  }
}

/** Deletes the streams and the buckets (those that exist). */
export async function removeStream(jsm: JetStreamManager): Promise<void> {
  for (const name of [STREAM, DEAD_LETTER_STREAM, ...CONSUMERS.map((c) => `KV_${bucketName(c)}`)]) {
    try {
      await jsm.streams.delete(name);
    } catch {
      // not there
    }
  }
}

/** Whether every consumer has had every message delivered and acked. */
export async function consumersCaughtUp(jsm: JetStreamManager): Promise<boolean> {
  for (const name of CONSUMERS) {
    const info = await jsm.consumers.info(STREAM, name);
    if (info.num_pending + info.num_ack_pending > 0) return false;
  }
  return true;
}

/** What the stream held at the end, and how many of its messages were read and counted. */
export interface StreamCount {
  readonly messages: number;
  readonly counted: number;
  /** Of those, the warm-up orders' (placed before the clock started, not in the numbers). */
  readonly warmUp: number;
  /** Messages in the dead-letter stream at the end. */
  readonly deadLetters: number;
}

/** Counts, per cart, the copies of orders.created the stream holds (recorded as 'stored'). */
export async function countStoredCopies(nc: NatsConnection, recorder: Recorder): Promise<StreamCount> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info(STREAM)).state.messages;
  const deadLetters = (await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages;
  if (total === 0) return { messages: 0, counted: 0, warmUp: 0, deadLetters };
  const reader = await jetstream(nc).consumers.get(STREAM); // an ordered consumer: reads, never acks
  const messages = await reader.consume();
  let seen = 0;
  let warmUp = 0;
  for await (const msg of messages) {
    const { cart } = msg.json<OrderEvent>();
    if (cart === WARM_UP_CART) warmUp++;
    else recorder.count('stored', cart);
    seen++;
    if (seen >= total || msg.info.pending === 0) break;
  }
  messages.stop();
  return { messages: total, counted: seen, warmUp, deadLetters };
}
