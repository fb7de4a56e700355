/**
 * The two JetStream client generations behind one small interface, so each integration
 * test runs unchanged against `nats` v2 and `@nats-io/jetstream` v3 (same server).
 * Only the test kit imports the clients; breakwater itself never does.
 */
import { type JetStreamManager as JsmV3, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect as connectV3, headers as headersV3 } from '@nats-io/transport-node';
import { connect as connectV2, headers as headersV2, type JetStreamManager as JsmV2 } from 'nats';
import type {
  ConsumedMsgLike,
  HeadersLike,
  JetStreamClientLike,
  JsMsgLike,
  KvLike,
} from '../../../src/nats/index.js';

export type ClientVersion = 'v2' | 'v3';
export const VERSIONS: readonly ClientVersion[] = ['v2', 'v3'];

/** A consumed message, as the tests use it. */
export interface TestMsg extends JsMsgLike {
  string(): string;
}

/** A message as both clients deliver it: what resilientHandler needs, and its text. */
export interface KitMsg extends ConsumedMsgLike {
  string(): string;
}

/** How a loop pulls messages: `consume()` (a continuous pull) or repeated `fetch()` batches. */
export type PullMode = 'consume' | 'fetch';
export const PULL_MODES: readonly PullMode[] = ['consume', 'fetch'];

/** A stored message, read back. */
export interface StoredMsg {
  readonly subject: string;
  readonly seq: number;
  readonly data: string;
  /** Every header, first value of each. */
  readonly headers: Record<string, string>;
}

/** What a consumer's info says. */
export interface ConsumerState {
  /** Not yet delivered. */
  readonly pending: number;
  /** Delivered, not yet acked (or termed). */
  readonly ackPending: number;
  /** Messages delivered more than once. */
  readonly redelivered: number;
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
  /** Every stored message with its headers, in sequence order. */
  messages(stream: string): Promise<StoredMsg[]>;
  /** The consumer's counters now. */
  consumerState(stream: string, durable: string): Promise<ConsumerState>;
  addConsumer(stream: string, durable: string, spec?: ConsumerSpec): Promise<void>;
  /** Pending (undelivered) + unacked messages of a consumer. */
  outstanding(stream: string, durable: string): Promise<number>;
  /**
   * Runs `onMessage` for every message of a durable consumer, one at a time, pulled with
   * `consume()` (default) or with repeated `fetch()` batches.
   */
  consume(
    stream: string,
    durable: string,
    onMessage: (msg: KitMsg) => Promise<void>,
    mode?: PullMode,
  ): Promise<ConsumerLoop>;
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
    async messages(stream) {
      const info = await jsm.streams.info(stream);
      const out: StoredMsg[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const stored = await jsm.streams.getMessage(stream, { seq });
        out.push({
          subject: stored.subject,
          seq: stored.seq,
          data: stored.string(),
          headers: headerRecord(stored.header),
        });
      }
      return out;
    },
    async consumerState(stream, durable) {
      const info = await jsm.consumers.info(stream, durable);
      return {
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
      };
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
    async consume(stream, durable, onMessage, mode = 'consume') {
      const consumer = await js.consumers.get(stream, durable);
      return pullLoop(consumer as unknown as PullConsumer, onMessage, mode);
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
    async messages(stream) {
      const info = await jsm.streams.info(stream);
      const out: StoredMsg[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const stored = await jsm.streams.getMessage(stream, { seq });
        if (stored === null) continue;
        out.push({
          subject: stored.subject,
          seq: stored.seq,
          data: stored.string(),
          headers: headerRecord(stored.header),
        });
      }
      return out;
    },
    async consumerState(stream, durable) {
      const info = await jsm.consumers.info(stream, durable);
      return {
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
      };
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
    async consume(stream, durable, onMessage, mode = 'consume') {
      const consumer = await js.consumers.get(stream, durable);
      return pullLoop(consumer as unknown as PullConsumer, onMessage, mode);
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

/** The first value of every header of a stored message. */
function headerRecord(
  headers: { keys(): string[]; get(key: string): string } | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const key of headers.keys()) out[key] = headers.get(key);
  return out;
}

interface PullConsumer {
  consume(opts: { max_messages: number }): Promise<AsyncIterable<KitMsg> & { stop(): void }>;
  fetch(opts: { max_messages: number; expires: number }): Promise<AsyncIterable<KitMsg>>;
}

/** A loop over a pull consumer, one message at a time. */
async function pullLoop(
  consumer: PullConsumer,
  onMessage: (msg: KitMsg) => Promise<void>,
  mode: PullMode,
): Promise<ConsumerLoop> {
  if (mode === 'consume') {
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
  }
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const batch = await consumer.fetch({ max_messages: 16, expires: 1_000 });
        for await (const msg of batch) await onMessage(msg);
      } catch {
        // A batch can end in an error (missed heartbeats while the server is paused): pull again.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * Resolves once `check()` holds, polling every `everyMs`; rejects after `timeoutMs`, naming
 * `what` (a function is asked then, so it can say what it saw last).
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  {
    timeoutMs = 20_000,
    everyMs = 25,
    what = 'condition',
  }: { timeoutMs?: number; everyMs?: number; what?: string | (() => string) } = {},
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
