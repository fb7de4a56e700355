/**
 * `jetStreamPublisher(js, policy)`: JetStream publishes through a breakwater policy.
 *
 * One publish is one operation of the policy (as `policy.execute` runs it; see
 * `executeAttributed`, which also gives telemetry the subject). Every attempt carries the same Nats-Msg-Id (the
 * caller's `msgID`, else the operation's idempotency key), so when an ack is lost and the
 * attempt is retried, the server's duplicate window drops the second copy and answers
 * `duplicate: true`. Each attempt's request timeout is the time left until the attempt's
 * deadline (the earlier of `attemptTimeout` and the operation's deadline), so the whole
 * publish is bounded. The retry horizon is kept inside the stream's duplicate window (see
 * `duplicate-window.ts`), and the stream's name is the key of a keyed breaker.
 *
 * @module
 */

import { executeAttributed } from '../attributed.js';
import {
  type AttemptContext,
  type ExecuteOptions,
  InvalidOptionsError,
  newIdempotencyKey,
  type Policy,
  type RetryOn,
} from '../index.js';
import { isPolicy } from '../policy.js';
import { invalid, num, obj } from '../validate.js';
import { jetStreamRetryOn } from './classify.js';
import { clampDeadline, worstCaseDuration } from './duplicate-window.js';
import { NoStreamError } from './no-stream.js';
import { StreamDirectory, type StreamRecord } from './streams.js';
import { SubjectAttributes } from './subject-attributes.js';
import type {
  ClientPublishOptions,
  HeadersLike,
  JetStreamClientLike,
  PubAck,
  PublishExpectations,
} from './types.js';

/** Options of {@link jetStreamPublisher}. */
export interface JetStreamPublisherOptions {
  /**
   * The stream that holds the subjects this publisher publishes to: a name, or a function
   * from subject to name (returning undefined to discover it). The stream's name is the
   * keyed breaker's key and the stream whose duplicate window bounds retries.
   * @default discovered: the server is asked once per stream which stream holds a subject
   */
  stream?: string | ((subject: string) => string | undefined) | undefined;
  /**
   * Request timeout of an attempt when the policy gives it no deadline (neither
   * `attemptTimeout` nor `deadline`), in ms.
   * @default the client's JetStream timeout (`js.getOptions().timeout`: 5_000 in both clients)
   */
  timeout?: number | undefined;
}

/** Per-publish options. */
export interface PublishOptions {
  /**
   * The message's Nats-Msg-Id: the same on every attempt, so the server de-duplicates a retry.
   * @default the operation's idempotency key (`policy({ idempotency: true })`), else a random UUID
   *   whenever the policy may retry
   */
  msgID?: string | undefined;
  /**
   * Preconditions (`lastSequence`, `lastMsgID`, ...). A failed one is not retried.
   * @default none
   */
  expect?: PublishExpectations | undefined;
  /**
   * Message headers (the client's `headers()`).
   * @default none
   */
  headers?: HeadersLike | undefined;
  /**
   * Aborting it rejects the publish at once with its reason.
   * @default none
   */
  signal?: AbortSignal | undefined;
  /**
   * An absolute deadline, ms since the epoch; the earlier of it and the policy's applies
   * (then the duplicate-window clamp).
   * @default none (the policy's deadline, if any)
   */
  deadline?: number | undefined;
  /**
   * The stream that holds `subject`, if the caller knows it.
   * @default the publisher's `stream` option, else discovered
   */
  stream?: string | undefined;
}

/** A JetStream publisher bound to a policy. Safe to share; holds no per-call state. */
export interface JetStreamPublisher {
  /** The policy every publish runs through. */
  readonly policy: Policy;
  /**
   * Publishes `payload` to `subject`. Resolves with the server's ack (`ack.duplicate` is
   * true when a retry found the message already stored); rejects with the last attempt's
   * own client error when retrying stops, or with a breakwater rejection (circuit open,
   * deadline exceeded, bulkhead full), or with the caller's abort reason. When the server
   * says no stream captures `subject` (or none has the `stream` name given), it rejects at
   * once with a {@link NoStreamError} and publishes nothing.
   */
  publish(subject: string, payload?: Uint8Array | string, options?: PublishOptions): Promise<PubAck>;
}

const OPTION_KEYS = ['stream', 'timeout'] as const;
const PUBLISH_KEYS = ['msgID', 'expect', 'headers', 'signal', 'deadline', 'stream'] as const;
const MAX_TIMER = 2_147_483_647;
const DEFAULT_TIMEOUT = 5_000;

class Publisher implements JetStreamPublisher {
  readonly policy: Policy;
  readonly #js: JetStreamClientLike;
  readonly #directory: StreamDirectory;
  readonly #stream: string | ((subject: string) => string | undefined) | undefined;
  readonly #timeout: number;
  /** The adapter's classification, or undefined when the policy has its own (which wins). */
  readonly #retryOn: RetryOn | undefined;
  /** The longest a publish can take when only the policy bounds it (0: never retries). */
  readonly #worstCase: number;
  /** Whether the publisher must make the msgID itself (the policy gives no key, yet retries). */
  readonly #ownKeys: boolean;
  /** `messaging.destination.name` per subject, for telemetry (capped). */
  readonly #attributes = new SubjectAttributes();

  constructor(js: JetStreamClientLike, policy: Policy, options: JetStreamPublisherOptions) {
    this.#js = js;
    this.policy = policy;
    this.#directory = new StreamDirectory(js);
    this.#stream = options.stream;
    const fromClient = readClientTimeout(js);
    this.#timeout = options.timeout ?? fromClient;
    const config = policy.config;
    this.#retryOn = config.retryOn === undefined ? jetStreamRetryOn : undefined;
    this.#worstCase = worstCaseDuration(config, this.#timeout);
    this.#ownKeys = config.generateKey === undefined && config.maxAttempts > 1;
  }

  publish(subject: string, payload?: Uint8Array | string, options?: PublishOptions): Promise<PubAck> {
    if (typeof subject !== 'string' || subject.length === 0) {
      return Promise.reject(new InvalidOptionsError('subject', 'publish(subject) needs a non-empty string'));
    }
    let stream: string | undefined;
    if (options !== undefined) {
      try {
        checkPublishOptions(options);
      } catch (error) {
        return Promise.reject(error);
      }
      stream = options.stream;
    }
    if (stream === undefined) {
      const option = this.#stream;
      stream = typeof option === 'function' ? option(subject) : option;
    }
    const record = this.#directory.known(subject, stream);
    const msgID = options?.msgID ?? (this.#ownKeys ? newIdempotencyKey() : undefined);
    if (record !== undefined) return this.#publishTo(record, subject, payload, options, msgID);
    return this.#discoverThenPublish(subject, stream, payload, options, msgID);
  }

  /** The common case: the stream (so its window and breaker key) is known. */
  #publishTo(
    record: StreamRecord,
    subject: string,
    payload: Uint8Array | string | undefined,
    options: PublishOptions | undefined,
    msgID: string | undefined,
    deadline = options?.deadline,
  ): Promise<PubAck> {
    const exec: ExecuteOptions = {
      key: record.name,
      idempotencyKey: msgID,
      retryOn: this.#retryOn,
      signal: options?.signal,
      deadline: clampDeadline(
        this.policy.config.clock.now(),
        record.duplicateWindowMs,
        this.#worstCase,
        deadline,
      ),
    };
    return executeAttributed(
      this.policy,
      this.#attributes,
      subject,
      undefined,
      (ctx) => this.#send(subject, payload, options, ctx),
      exec,
    );
  }

  /**
   * The first publish to a subject of a stream not known yet: first ask the server which
   * stream holds it (under the same policy, deadline and signal; the subject is the breaker
   * key meanwhile), then publish with the window known. Nothing is sent before the window
   * is known, so the horizon is kept from the first send on; nothing at all when no stream
   * holds the subject.
   */
  async #discoverThenPublish(
    subject: string,
    stream: string | undefined,
    payload: Uint8Array | string | undefined,
    options: PublishOptions | undefined,
    msgID: string | undefined,
  ): Promise<PubAck> {
    const config = this.policy.config;
    // One absolute deadline across both steps, so discovery eats into the same budget.
    let deadline = options?.deadline;
    if (config.deadline !== undefined) {
      const own = config.clock.now() + config.deadline;
      if (deadline === undefined || own < deadline) deadline = own;
    }
    const record = await executeAttributed(
      this.policy,
      this.#attributes,
      subject,
      undefined,
      () => this.#directory.resolve(subject, stream),
      { key: stream ?? subject, retryOn: this.#retryOn, signal: options?.signal, deadline },
    );
    if (record !== undefined) return this.#publishTo(record, subject, payload, options, msgID, deadline);
    // The server said no stream holds the subject (or has the given name): a publish could
    // only end in "no responders", so fail at once, naming the subject, and send nothing.
    throw new NoStreamError(subject, stream);
  }

  /** One attempt: one request, timed out at the attempt's deadline. */
  #send(
    subject: string,
    payload: Uint8Array | string | undefined,
    options: PublishOptions | undefined,
    ctx: AttemptContext,
  ): Promise<PubAck> {
    // A fresh object per attempt: the timeout differs, and v2 writes into the options it gets.
    const opts: ClientPublishOptions = { timeout: this.#attemptTimeout(ctx) };
    const msgID = ctx.idempotencyKey;
    if (msgID !== undefined) opts.msgID = msgID;
    if (options !== undefined) {
      if (options.expect !== undefined) opts.expect = options.expect;
      if (options.headers !== undefined) opts.headers = options.headers;
    }
    return this.#js.publish(subject, payload, opts);
  }

  #attemptTimeout(ctx: AttemptContext): number {
    const until = ctx.attemptDeadline;
    if (until === undefined) return this.#timeout;
    // At least 1 ms: 0 would mean "the client's default" to both clients.
    return Math.max(1, Math.ceil(until - this.policy.config.clock.now()));
  }
}

function readClientTimeout(js: JetStreamClientLike): number {
  try {
    const timeout = js.getOptions().timeout;
    if (typeof timeout === 'number' && timeout > 0 && timeout <= MAX_TIMER) return timeout;
  } catch {
    // fall through to the clients' documented default
  }
  return DEFAULT_TIMEOUT;
}

function checkPublishOptions(options: PublishOptions): void {
  obj<PublishOptions>('publish options', options, PUBLISH_KEYS);
  const { msgID, stream } = options;
  if (msgID !== undefined && (typeof msgID !== 'string' || msgID.length === 0)) {
    invalid('msgID', 'a non-empty string', msgID);
  }
  if (stream !== undefined && (typeof stream !== 'string' || stream.length === 0)) {
    invalid('stream', 'a non-empty string', stream);
  }
}

/**
 * Wraps a JetStream client (from `nats` v2 or `@nats-io/jetstream` v3) so that every
 * publish runs through `policy`: retried on timeouts, no responders and reconnects with one
 * Nats-Msg-Id across attempts, bounded by the deadline and the stream's duplicate window,
 * one breaker state per stream with a keyed breaker.
 *
 * @example
 * ```ts
 * import { connect } from '@nats-io/transport-node';
 * import { jetstream } from '@nats-io/jetstream';
 * import { policy } from 'breakwater';
 * import { jetStreamPublisher } from 'breakwater/nats';
 *
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const orders = policy({ deadline: 5_000, attemptTimeout: 1_000, retry: { maxAttempts: 5 } });
 * const publisher = jetStreamPublisher(jetstream(nc), orders);
 * const ack = await publisher.publish('orders.created', JSON.stringify({ id: 'o-42' }), { msgID: 'o-42' });
 * if (ack.duplicate) console.log('already published');
 * ```
 */
export function jetStreamPublisher(
  js: JetStreamClientLike,
  policy: Policy,
  options: JetStreamPublisherOptions = {},
): JetStreamPublisher {
  if (
    typeof js !== 'object' ||
    js === null ||
    typeof js.publish !== 'function' ||
    typeof js.jetstreamManager !== 'function'
  ) {
    invalid(
      'js',
      'a JetStream client (nc.jetstream() from nats, or jetstream(nc) from @nats-io/jetstream)',
      js,
    );
  }
  if (!isPolicy(policy)) invalid('policy', 'a breakwater policy()', policy);
  const o = obj<JetStreamPublisherOptions>('jetStreamPublisher', options, OPTION_KEYS) ?? {};
  const stream = o.stream;
  if (
    stream !== undefined &&
    !(typeof stream === 'function' || (typeof stream === 'string' && stream.length > 0))
  ) {
    invalid('stream', 'a stream name or a function (subject) => stream name', stream);
  }
  const timeout =
    o.timeout === undefined
      ? undefined
      : num('timeout', o.timeout, 0, { min: 0, exclusiveMin: true, max: MAX_TIMER });
  const publisher = new Publisher(js, policy, { stream, timeout });
  clients.set(publisher, js);
  return publisher;
}

/** The client behind each publisher made here (for `resilientHandler` to read consumer info). */
const clients = new WeakMap<JetStreamPublisher, JetStreamClientLike>();

/** @internal The JetStream client `publisher` publishes with, if {@link jetStreamPublisher} made it. */
export function publisherClient(publisher: unknown): JetStreamClientLike | undefined {
  return typeof publisher === 'object' && publisher !== null
    ? clients.get(publisher as JetStreamPublisher)
    : undefined;
}
