/**
 * The shapes breakwater needs from a NATS client, written down structurally so that the
 * adapter works with a JetStream client from `nats` v2 and from `@nats-io/jetstream` v3
 * without importing either: users of one never need the other installed. Both clients'
 * own objects satisfy these types as they are.
 *
 * @module
 */

/** Message headers as both clients expose them (`MsgHdrs`). */
export interface HeadersLike {
  /** The first value of `key`, or `''` when absent (both clients return an empty string). */
  get(key: string): string;
  /** Sets `key` to `value`. */
  set(key: string, value: string): void;
}

/** Preconditions a publish may carry; the server refuses the message when one fails. */
export interface PublishExpectations {
  /** The stream's last message must have this Nats-Msg-Id. */
  lastMsgID?: string;
  /** The subject must belong to this stream. */
  streamName?: string;
  /** The stream's last sequence must be this one (optimistic concurrency). */
  lastSequence?: number;
  /** The last sequence on this subject must be this one. */
  lastSubjectSequence?: number;
}

/** The options breakwater hands to the client's `publish` (a subset both clients accept). */
export interface ClientPublishOptions {
  msgID?: string;
  timeout?: number;
  expect?: PublishExpectations;
  headers?: HeadersLike;
}

/** What JetStream answers to a stored (or de-duplicated) message. */
export interface PubAck {
  /** The stream that holds the message. */
  stream: string;
  /** The message's sequence in the stream (the original's, for a duplicate). */
  seq: number;
  /** True when the server had this Nats-Msg-Id already and dropped the copy. */
  duplicate: boolean;
  /** The JetStream domain, if any. */
  domain?: string;
}

/** The part of a stream's info the publisher reads. */
export interface StreamInfoLike {
  config: {
    name: string;
    subjects?: string[] | undefined;
    /** Nanoseconds. */
    duplicate_window?: number | undefined;
  };
}

/** The part of a JetStreamManager the publisher uses to find a subject's stream. */
export interface JetStreamManagerLike {
  streams: {
    info(name: string): Promise<StreamInfoLike>;
    names(subject?: string): AsyncIterable<string>;
  };
}

/**
 * A JetStream client: `nc.jetstream()` from `nats` v2, or `jetstream(nc)` from
 * `@nats-io/jetstream` v3.
 */
export interface JetStreamClientLike {
  publish(subject: string, payload?: Uint8Array | string, options?: ClientPublishOptions): Promise<PubAck>;
  jetstreamManager(checkAPI?: boolean): Promise<JetStreamManagerLike>;
  getOptions(): { timeout?: number | undefined };
}

/** A message received from a JetStream consumer (`JsMsg` in both clients). */
export interface JsMsgLike {
  /** The message's sequence in its stream. */
  readonly seq: number;
  readonly headers?: Pick<HeadersLike, 'get'> | undefined;
  readonly info: { readonly stream: string; readonly deliveryCount?: number };
  ack(): void;
  nak(millis?: number): void;
}

/** An entry of a JetStream KV bucket (`KvEntry` in both clients). */
export interface KvEntryLike {
  readonly value: Uint8Array;
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
}

/**
 * A JetStream KV bucket: `await js.views.kv(name)` from `nats` v2, or
 * `await new Kvm(js).create(name)` from `@nats-io/kv` v3.
 */
export interface KvLike {
  /** Writes `key` only if it does not exist (or was deleted); resolves with the revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes `key` only if its last revision is `revision`; resolves with the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  get(key: string): Promise<KvEntryLike | null>;
  delete(key: string, options?: { previousSeq: number }): Promise<void>;
}
