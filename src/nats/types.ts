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
  /** Nats-Msg-Id, for the server's de-duplication. */
  msgID?: string;
  /** Request timeout, ms. */
  timeout?: number;
  /** Preconditions the server checks. */
  expect?: PublishExpectations;
  /** Message headers. */
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
  /** The stream's configuration. */
  config: {
    /** The stream's name. */
    name: string;
    /** Its subject filters. */
    subjects?: string[] | undefined;
    /** The duplicate window, in nanoseconds. */
    duplicate_window?: number | undefined;
  };
}

/** The part of a JetStreamManager the publisher uses to find a subject's stream. */
export interface JetStreamManagerLike {
  /** The stream API. */
  streams: {
    /** A stream's info (`$JS.API.STREAM.INFO`). */
    info(name: string): Promise<StreamInfoLike>;
    /** Names of the streams, those holding `subject` when given (`$JS.API.STREAM.NAMES`). */
    names(subject?: string): AsyncIterable<string>;
  };
  /** The consumer API (`resilientHandler` reads a consumer's `ack_wait` from it). */
  consumers?: {
    /** A consumer's info (`$JS.API.CONSUMER.INFO`). */
    info(stream: string, consumer: string): Promise<ConsumerInfoLike>;
  };
}

/** The part of a consumer's info `resilientHandler` reads. */
export interface ConsumerInfoLike {
  /** The consumer's configuration. */
  config: {
    /** How long the server waits for an ack before redelivering, in nanoseconds. */
    ack_wait?: number | undefined;
  };
}

/**
 * A JetStream client: `nc.jetstream()` from `nats` v2, or `jetstream(nc)` from
 * `@nats-io/jetstream` v3.
 */
export interface JetStreamClientLike {
  /** Publishes one message and resolves with the server's ack. */
  publish(subject: string, payload?: Uint8Array | string, options?: ClientPublishOptions): Promise<PubAck>;
  /** A manager with the same options (`checkAPI: false` skips its API probe). */
  jetstreamManager(checkAPI?: boolean): Promise<JetStreamManagerLike>;
  /** The client's options; `timeout` is its default request timeout in ms. */
  getOptions(): { timeout?: number | undefined };
}

/** A message received from a JetStream consumer (`JsMsg` in both clients). */
export interface JsMsgLike {
  /** The message's sequence in its stream. */
  readonly seq: number;
  /** Its headers (Nats-Msg-Id among them), if any. */
  readonly headers?: Pick<HeadersLike, 'get'> | undefined;
  /** Delivery info: the stream, and how many times the message was delivered. */
  readonly info: { readonly stream: string; readonly deliveryCount?: number };
  /** Acknowledges the message: it is not delivered again. */
  ack(): void;
  /** Asks for a redelivery, after `millis` if given. */
  nak(millis?: number): void;
}

/** Headers that can be listed (`MsgHdrs` in both clients), for copying them. */
export interface ListableHeadersLike extends Pick<HeadersLike, 'get'> {
  /** Every header name. */
  keys(): string[];
  /** Every value of `key`. */
  values(key: string): string[];
}

/**
 * A message received from a JetStream consumer, as `resilientHandler` uses it (`JsMsg` from
 * `consume()` or `fetch()`, in both clients).
 */
export interface ConsumedMsgLike extends JsMsgLike {
  /** The subject the message was published to. */
  readonly subject: string;
  /** The payload. */
  readonly data: Uint8Array;
  /** Its headers, if any. */
  readonly headers?: Pick<HeadersLike, 'get'> | ListableHeadersLike | undefined;
  /** Delivery info: stream, consumer and delivery count (1 on the first delivery). */
  readonly info: {
    readonly stream: string;
    readonly consumer: string;
    readonly deliveryCount?: number;
    /** The v2 client's older name for `deliveryCount`. */
    readonly redeliveryCount?: number;
  };
  /** Resets the server's ack wait timer: the handler is still at work. */
  working(): void;
  /** Tells the server never to deliver the message again. */
  term(): void;
}

/** An entry of a JetStream KV bucket (`KvEntry` in both clients). */
export interface KvEntryLike {
  /** The stored bytes. */
  readonly value: Uint8Array;
  /** The entry's revision (its sequence in the bucket's stream). */
  readonly revision: number;
  /** A value, or a delete/purge marker. */
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
  /** The last entry of `key`, or null. */
  get(key: string): Promise<KvEntryLike | null>;
  /** Deletes `key` (a marker), only at revision `previousSeq` when given. */
  delete(key: string, options?: { previousSeq: number }): Promise<void>;
}
