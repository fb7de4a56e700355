/**
 * `resilientHandler(handler, options)`: a JetStream consumer's handler that retries with
 * backoff, dead-letters poison messages, and does not burn deliveries while its dependency
 * is down.
 *
 * For each delivery:
 * 1. If the policy's circuit breaker is open, nak with the time until it lets a probe
 *    through; the handler is not called (one delivery per open period).
 * 2. Run the handler (through the policy, one attempt: the redelivery is the retry), with
 *    `msg.working()` every half of the consumer's ack wait until the message is settled.
 * 3. Success: ack. Failure: classify the error. `retry` naks with the backoff's delay for
 *    this delivery count, until the last allowed delivery (`maxDeliveries`), from which it is
 *    dead-lettered; `drop` acks; `dead-letter` publishes a copy to the dead-letter subject
 *    (through the breakwater publisher, deduplicated by a msgID from stream, consumer and
 *    sequence) and only once the copy is stored, terms the original. A copy that cannot be
 *    stored leaves the original to be redelivered (nak with a delay): nothing is lost.
 *
 * Given a handler made by `idempotentHandler`, it runs that handler's guard (claim, run,
 * record) and does the acking itself, so the two compose into one consumer.
 *
 * @module
 */
import { isBreakwaterError, type Policy } from '../index.js';
import { invalid } from '../validate.js';
import { markResilient } from './composition.js';
import {
  type DeadLetterReason,
  deliver,
  type MessageEventBase,
  type MessageRetryReason,
} from './consumer-events.js';
import { deadLetterMsgId, fillDeadLetterHeaders } from './dead-letter.js';
import { startHeartbeat } from './heartbeat.js';
import { type GuardResult, type GuardRun, idempotencyGuardOf } from './idempotent-handler.js';
import { circuitDelay, deliveryCountOf, disposition, retryDelay } from './redelivery.js';
import { type ResilientHandlerOptions, resolveOptions } from './resilient-options.js';
import type { ConsumedMsgLike, PubAck } from './types.js';

export type { ResilientHandlerOptions } from './resilient-options.js';

/** What the handler receives besides the message. */
export interface ResilientHandlerContext {
  /** This delivery's count, 1 on the first. */
  readonly deliveryCount: number;
  /**
   * Aborted when the policy's deadline or attempt timeout passes (with a `policy`); stop
   * then: the message is nak'ed (or dead-lettered) as a failure. Never aborted without one.
   */
  readonly signal: AbortSignal;
}

/** What happened to one delivery. Every status but `retry` means the server will not deliver it again. */
export type ResilientOutcome =
  /** The handler succeeded; the message was acked. With `idempotentHandler`: `key`, and whether it was recorded. */
  | {
      readonly status: 'handled';
      readonly deliveryCount: number;
      readonly key?: string;
      readonly recorded?: boolean;
      /** With `idempotentHandler`: why recording the key failed (the message was acked all the same). */
      readonly error?: unknown;
    }
  /** With `idempotentHandler`: the key was done already; acked without running the handler. */
  | { readonly status: 'duplicate'; readonly deliveryCount: number; readonly key: string }
  /** Nak'ed with `delayMs`: the message will be delivered again. */
  | {
      readonly status: 'retry';
      readonly deliveryCount: number;
      readonly reason: MessageRetryReason;
      readonly delayMs: number;
      /** The handler's error (or the store's, or the breaker's rejection), if any. */
      readonly error?: unknown;
      /** With `'dead-letter-failed'`: why the copy could not be stored. */
      readonly deadLetterError?: unknown;
      /** With `idempotentHandler`: the message's key. */
      readonly key?: string;
    }
  /** `classify` said `'drop'`: acked without being handled. */
  | { readonly status: 'dropped'; readonly deliveryCount: number; readonly error: unknown }
  /** A copy is stored on `subject` (`ack` is the dead-letter stream's answer); the original was terminated. */
  | {
      readonly status: 'dead-lettered';
      readonly deliveryCount: number;
      readonly reason: DeadLetterReason;
      readonly error: unknown;
      readonly subject: string;
      readonly ack: PubAck;
    };

/** The wrapped handler: call it with every message the consumer receives. */
export type ResilientMessageHandler<M extends ConsumedMsgLike> = (msg: M) => Promise<ResilientOutcome>;

/** A never-aborted signal for handlers run without a policy. */
const NEVER: AbortSignal = new AbortController().signal;

type Failure = { readonly error: unknown; readonly stage: 'store' | 'handler'; readonly key?: string };

/**
 * Wraps a JetStream message handler so that a failure is retried with backoff by delivery
 * count, a poison message is copied to a dead-letter subject and terminated, and an open
 * circuit breaker holds messages back without calling the handler. The wrapped function
 * acks, naks or terms the message itself and resolves with what happened; it never
 * rejects because the handler failed (only when the client cannot ack: a closed connection).
 *
 * Pass a handler made by `idempotentHandler` to process each key once as well.
 *
 * @example
 * ```ts
 * import { jetstream, type JsMsg } from '@nats-io/jetstream';
 * import { connect, headers } from '@nats-io/transport-node';
 * import { policy } from 'breakwater';
 * import { jetStreamPublisher, resilientHandler } from 'breakwater/nats';
 *
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const js = jetstream(nc);
 * const dlq = jetStreamPublisher(js, policy({ deadline: 5_000, attemptTimeout: 1_000 }));
 * const handle = resilientHandler(async (msg: JsMsg) => JSON.parse(msg.string()), {
 *   publisher: dlq,
 *   headers,
 *   maxDeliveries: 5,
 * });
 * const consumer = await js.consumers.get('ORDERS', 'shipping');
 * for await (const msg of await consumer.consume()) {
 *   const outcome = await handle(msg);
 *   if (outcome.status === 'dead-lettered') console.warn('dead-lettered', outcome.error);
 * }
 * ```
 */
export function resilientHandler<M extends ConsumedMsgLike>(
  handler: (msg: M, context: ResilientHandlerContext) => unknown,
  options: ResilientHandlerOptions<M>,
): ResilientMessageHandler<M> {
  if (typeof handler !== 'function') invalid('handler', 'a function (msg, context) => ...', handler);
  const config = resolveOptions(options);
  const guard = idempotencyGuardOf<M>(handler);
  const { clock, publisher, onEvent, maxDeliveries } = config;

  const emitBase = (msg: M, deliveryCount: number): MessageEventBase => ({
    subject: msg.subject,
    stream: msg.info.stream,
    consumer: msg.info.consumer,
    seq: msg.seq,
    deliveryCount,
    at: clock.now(),
  });

  const retry = (
    deliveryCount: number,
    reason: MessageRetryReason,
    delayMs: number,
    extra: { error?: unknown; deadLetterError?: unknown; key?: string | undefined },
  ): ResilientOutcome => ({
    status: 'retry',
    deliveryCount,
    reason,
    delayMs,
    ...('error' in extra ? { error: extra.error } : {}),
    ...('deadLetterError' in extra ? { deadLetterError: extra.deadLetterError } : {}),
    ...(extra.key === undefined ? {} : { key: extra.key }),
  });

  /** Publishes the copy; on failure, the outcome is a nak. */
  const deadLetter = async (
    msg: M,
    deliveryCount: number,
    reason: DeadLetterReason,
    error: unknown,
    key: string | undefined,
  ): Promise<ResilientOutcome> => {
    try {
      const subject = config.deadLetterSubject(msg);
      if (typeof subject !== 'string' || subject.length === 0) {
        throw new TypeError(`deadLetterSubject(msg) returned ${JSON.stringify(subject)}, not a subject`);
      }
      const headers = fillDeadLetterHeaders(config.headers(), msg, deliveryCount, reason, error);
      const ack = await publisher.publish(subject, msg.data, { msgID: deadLetterMsgId(msg), headers });
      return { status: 'dead-lettered', deliveryCount, reason, error, subject, ack };
    } catch (deadLetterError) {
      const delay = retryDelay(config.backoff, deliveryCount, config.random);
      return retry(deliveryCount, 'dead-letter-failed', delay, { error, deadLetterError, key });
    }
  };

  /** What to do after a failure. */
  const afterFailure = (msg: M, deliveryCount: number, failure: Failure): Promise<ResilientOutcome> => {
    const { error, key } = failure;
    const backoffDelay = (): number => retryDelay(config.backoff, deliveryCount, config.random);
    if (failure.stage === 'store') {
      return Promise.resolve(retry(deliveryCount, 'store-failed', backoffDelay(), { error, key }));
    }
    if (isBreakwaterError(error)) {
      if (error.code === 'BREAKWATER_CIRCUIT_OPEN') {
        const after = (error as { retryAfterMs?: unknown }).retryAfterMs;
        const delay = circuitDelay(typeof after === 'number' ? after : Number.NaN, config.backoff);
        return Promise.resolve(retry(deliveryCount, 'circuit-open', delay, { error, key }));
      }
      if (error.code === 'BREAKWATER_BULKHEAD_FULL') {
        return Promise.resolve(retry(deliveryCount, 'bulkhead-full', backoffDelay(), { error, key }));
      }
    }
    let verdict: unknown;
    try {
      verdict = config.classify(error, msg);
    } catch {
      verdict = 'retry'; // a classifier that throws must not lose the message
    }
    const decided = disposition(
      verdict === 'drop' || verdict === 'dead-letter' ? verdict : 'retry',
      deliveryCount,
      maxDeliveries,
    );
    if (decided === 'drop') return Promise.resolve({ status: 'dropped', deliveryCount, error });
    if (decided === 'nak') {
      return Promise.resolve(retry(deliveryCount, 'handler-failed', backoffDelay(), { error, key }));
    }
    const reason: DeadLetterReason = verdict === 'dead-letter' ? 'poison' : 'max-deliveries';
    return deadLetter(msg, deliveryCount, reason, error, key);
  };

  /** Runs the handler (or the idempotency guard) and decides; the message is not settled yet. */
  const runDelivery = async (msg: M, deliveryCount: number): Promise<ResilientOutcome> => {
    const run = runner(config.policy, config.breakerKey(msg));
    if (guard !== undefined) {
      const result: GuardResult = await guard(msg, run);
      switch (result.status) {
        case 'handled':
          return 'error' in result
            ? { ...result, deliveryCount }
            : { status: 'handled', deliveryCount, key: result.key, recorded: result.recorded };
        case 'duplicate':
          return { status: 'duplicate', deliveryCount, key: result.key };
        case 'busy':
          return retry(deliveryCount, 'busy', result.retryAfterMs, { key: result.key });
        default:
          return afterFailure(msg, deliveryCount, result);
      }
    }
    try {
      await run((signal) => handler(msg, { deliveryCount, signal: signal ?? NEVER }));
    } catch (error) {
      return afterFailure(msg, deliveryCount, { error, stage: 'handler' });
    }
    return { status: 'handled', deliveryCount };
  };

  /** Acks, naks or terms the message as `outcome` says, and tells the listener. */
  const settle = (msg: M, outcome: ResilientOutcome): ResilientOutcome => {
    switch (outcome.status) {
      case 'handled':
      case 'duplicate':
        msg.ack();
        return outcome;
      case 'dropped':
        msg.ack();
        if (onEvent !== undefined) {
          deliver(onEvent, { type: 'message-dropped', ...base(msg, outcome), error: outcome.error });
        }
        return outcome;
      case 'dead-lettered':
        msg.term();
        if (onEvent !== undefined) {
          deliver(onEvent, {
            type: 'message-dead-lettered',
            ...base(msg, outcome),
            reason: outcome.reason,
            error: outcome.error,
            deadLetterSubject: outcome.subject,
            duplicate: outcome.ack.duplicate,
          });
        }
        return outcome;
      default:
        if (outcome.delayMs > 0) msg.nak(outcome.delayMs);
        else msg.nak();
        if (onEvent !== undefined) {
          const { status: _status, key: _key, ...rest } = outcome;
          deliver(onEvent, { type: 'message-retry', ...base(msg, outcome), ...rest });
        }
        return outcome;
    }
  };
  const base = (msg: M, outcome: ResilientOutcome) => emitBase(msg, outcome.deliveryCount);

  return markResilient(async (msg: M): Promise<ResilientOutcome> => {
    const deliveryCount = deliveryCountOf(msg.info);
    const openMs = config.openFor(msg);
    if (openMs !== undefined) {
      return settle(msg, retry(deliveryCount, 'circuit-open', circuitDelay(openMs, config.backoff), {}));
    }
    const heartbeat = startHeartbeat(msg, config.ackWait(msg), clock);
    let outcome: ResilientOutcome;
    try {
      outcome = await runDelivery(msg, deliveryCount);
    } finally {
      heartbeat.stop();
    }
    return settle(msg, outcome);
  });
}

/** Runs the handler once through `policy` (its breaker, bulkhead, deadline), or as it is. */
function runner(policy: Policy | undefined, key: string): GuardRun {
  if (policy === undefined) return (invoke) => Promise.resolve().then(() => invoke(undefined));
  return (invoke) => policy.execute((context) => invoke(context.signal), { key });
}
