/**
 * The two JetStream client generations behind one small interface, so each integration
 * test runs unchanged against `nats` v2 and `@nats-io/jetstream` v3 (same server).
 * Only the test kit imports the clients; breakwater itself never does.
 */
import { type JetStreamManager as JsmV3, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect as connectV3, headers as headersV3 } from '@nats-io/transport-node';
import { connect as connectV2, headers as headersV2, type JetStreamManager as JsmV2 } from 'nats';
import type { HeadersLike, JetStreamClientLike, JsMsgLike, KvLike } from '../../../src/nats/index.js';

export type ClientVersion = 'v2' | 'v3';
export const VERSIONS: readonly ClientVersion[] = ['v2', 'v3'];

/** A consumed message, as the tests use it. */
export interface TestMsg extends JsMsgLike {
  string(): string;
}

export interface StreamSpec {
  name: string;
  subjects: string[];
  /** ms */
  duplicateWindow?: number;
}

export interface ConsumerSpec {
  /** ms */
  ackWait?: number;
  maxDeliver?: number;
}

/** A running consumer loop; `stop()` ends it and waits for the message in hand. */
export interface ConsumerLoop {
  stop(): Promise<void>;
}

export interface ClientKit {
  readonly version: ClientVersion;
  readonly js: JetStreamClientLike;
  headers(): HeadersLike;
  addStream(spec: StreamSpec): Promise<void>;
  deleteStream(name: string): Promise<void>;
  /** Messages stored in the stream now. */
  count(stream: string): Promise<number>;
  /** Every stored message's payload, in sequence order. */
  payloads(stream: string): Promise<string[]>;
  addConsumer(stream: string, durable: string, spec?: ConsumerSpec): Promise<void>;
  /** Pending (undelivered) + unacked messages of a consumer. */
  outstanding(stream: string, durable: string): Promise<number>;
  /** Runs `onMessage` for every message of a durable consumer, one at a time. */
  consume(stream: string, durable: string, onMessage: (msg: TestMsg) => Promise<void>): Promise<ConsumerLoop>;
  /** Creates a KV bucket (history 1). */
  kv(bucket: string): Promise<KvLike>;
  /** Opens an existing KV bucket (possibly created by the other client generation). */
  openKv(bucket: string): Promise<KvLike>;
  close(): Promise<void>;
}

const ms = (n: number): number => n * 1_000_000;

/** Fast reconnects: tests restart the server and want the client back at once. */
const CONNECT = { reconnectTimeWait: 100, maxReconnectAttempts: -1, pingInterval: 60_000 } as const;

export async function connectKit(version: ClientVersion, url: string): Promise<ClientKit> {
  return version === 'v2' ? connectV2Kit(url) : connectV3Kit(url);
}

async function connectV2Kit(url: string): Promise<ClientKit> {
  const nc = await connectV2({ servers: url, ...CONNECT });
  const js = nc.jetstream();
  const jsm: JsmV2 = await nc.jetstreamManager();
  return {
    version: 'v2',
    js,
    headers: () => headersV2(),
    async addStream(spec) {
      await jsm.streams.add({
        name: spec.name,
        subjects: spec.subjects,
        ...(spec.duplicateWindow === undefined ? {} : { duplicate_window: ms(spec.duplicateWindow) }),
      });
    },
    async deleteStream(name) {
      await jsm.streams.delete(name);
    },
    async count(stream) {
      return (await jsm.streams.info(stream)).state.messages;
    },
    async payloads(stream) {
      const info = await jsm.streams.info(stream);
      const out: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        out.push((await jsm.streams.getMessage(stream, { seq })).string());
      }
      return out;
    },
    async addConsumer(stream, durable, spec = {}) {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: 'explicit' as never,
        ...(spec.ackWait === undefined ? {} : { ack_wait: ms(spec.ackWait) }),
        ...(spec.maxDeliver === undefined ? {} : { max_deliver: spec.maxDeliver }),
      });
    },
    async outstanding(stream, durable) {
      const info = await jsm.consumers.info(stream, durable);
      return info.num_pending + info.num_ack_pending;
    },
    async consume(stream, durable, onMessage) {
      const consumer = await js.consumers.get(stream, durable);
      const messages = await consumer.consume({ max_messages: 64 });
      const loop = (async () => {
        for await (const msg of messages) await onMessage(msg);
      })();
      return {
        async stop() {
          messages.stop();
          await loop;
        },
      };
    },
    async kv(bucket) {
      return js.views.kv(bucket, { history: 1 });
    },
    async openKv(bucket) {
      return js.views.kv(bucket, { bindOnly: true });
    },
    async close() {
      await nc.close();
    },
  };
}

async function connectV3Kit(url: string): Promise<ClientKit> {
  const nc = await connectV3({ servers: url, ...CONNECT });
  const js = jetstream(nc);
  const jsm: JsmV3 = await jetstreamManager(nc);
  return {
    version: 'v3',
    js,
    headers: () => headersV3(),
    async addStream(spec) {
      await jsm.streams.add({
        name: spec.name,
        subjects: spec.subjects,
        ...(spec.duplicateWindow === undefined ? {} : { duplicate_window: ms(spec.duplicateWindow) }),
      });
    },
    async deleteStream(name) {
      await jsm.streams.delete(name);
    },
    async count(stream) {
      return (await jsm.streams.info(stream)).state.messages;
    },
    async payloads(stream) {
      const info = await jsm.streams.info(stream);
      const out: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const stored = await jsm.streams.getMessage(stream, { seq });
        if (stored !== null) out.push(stored.string());
      }
      return out;
    },
    async addConsumer(stream, durable, spec = {}) {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: 'explicit' as never,
        ...(spec.ackWait === undefined ? {} : { ack_wait: ms(spec.ackWait) }),
        ...(spec.maxDeliver === undefined ? {} : { max_deliver: spec.maxDeliver }),
      });
    },
    async outstanding(stream, durable) {
      const info = await jsm.consumers.info(stream, durable);
      return info.num_pending + info.num_ack_pending;
    },
    async consume(stream, durable, onMessage) {
      const consumer = await js.consumers.get(stream, durable);
      const messages = await consumer.consume({ max_messages: 64 });
      const loop = (async () => {
        for await (const msg of messages) await onMessage(msg);
      })();
      return {
        async stop() {
          messages.stop();
          await loop;
        },
      };
    },
    async kv(bucket) {
      return new Kvm(js).create(bucket, { history: 1 });
    },
    async openKv(bucket) {
      return new Kvm(js).open(bucket);
    },
    async close() {
      await nc.close();
    },
  };
}

/** Resolves once `check()` holds, polling every `everyMs`; rejects after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 20_000, everyMs = 25, what = 'condition' } = {},
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
