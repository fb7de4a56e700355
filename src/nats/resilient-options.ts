/**
 * The options of `resilientHandler`, validated once at construction into the small
 * configuration its per-message code reads.
 *
 * @module
 */

import {
  type Backoff,
  type BackoffFunction,
  backoff,
  type CircuitBreaker,
  type Clock,
  type Policy,
  systemClock,
} from '../index.js';
import { isPolicy } from '../policy.js';
import { invalid, num, obj } from '../validate.js';
import type { MessageEventListener } from './consumer-events.js';
import { defaultDeadLetterSubject } from './dead-letter.js';
import { AckWaits } from './heartbeat.js';
import { type JetStreamPublisher, publisherClient } from './publisher.js';
import { classifyHandlerError, type FailureClass, MAX_NAK_DELAY } from './redelivery.js';
import type { ConsumedMsgLike, HeadersLike } from './types.js';

/** Options of `resilientHandler`. */
export interface ResilientHandlerOptions<M extends ConsumedMsgLike> {
  /**
   * Publishes the dead-letter copies: a `jetStreamPublisher(js, policy)`. Its policy bounds
   * and retries the copy's publish (give it a deadline); the copy's msgID makes a retry safe.
   */
  publisher: JetStreamPublisher;
  /**
   * Makes an empty headers object for a dead-letter copy: the `headers` function of your
   * client (`import { headers } from 'nats'`, or from `@nats-io/transport-node`).
   */
  headers: () => HeadersLike;
  /**
   * Deliveries a message gets before a failure dead-letters it: the handler failing on
   * delivery `maxDeliveries` (or later) dead-letters the message instead of nak'ing it.
   * Leave the consumer's own `max_deliver` unlimited (-1, its default) or above this:
   * the server stops redelivering at `max_deliver`, and a message it stops redelivering
   * can no longer be dead-lettered.
   * @default 5
   */
  maxDeliveries?: number | undefined;
  /**
   * The subject of a dead-letter copy, or a function of the message giving it. A stream
   * must hold it (create one, e.g. `DLQ` with subjects `dlq.>`): until one does, messages to
   * dead-letter stay in their stream and are redelivered.
   * @default `dlq.<stream>.<consumer>`
   */
  deadLetterSubject?: string | ((msg: M) => string) | undefined;
  /**
   * The nak delay after a failed delivery: delivery `n`'s delay is the strategy's delay before
   * retry `n`. A function `(retry, previousDelay) => ms` is taken as `backoff.custom(fn)`.
   * @default backoff.exponential({ initialDelay: 1_000, maxDelay: 60_000 }) (full jitter: [0, 1 s], [0, 2 s], ... up to [0, 60 s])
   */
  backoff?: Backoff | BackoffFunction | undefined;
  /**
   * What to do with a handler's error: `'retry'` (nak with backoff; dead-letter from the last
   * allowed delivery on), `'drop'` (ack, count it: see the `message-dropped` event) or
   * `'dead-letter'` (at once). A classifier that throws or returns anything else means `'retry'`.
   * @default `'dead-letter'` for a SyntaxError and a TypeError (except one with a `cause`, as
   *   fetch's network failure), else `'retry'`
   */
  classify?: ((error: unknown, msg: M) => FailureClass) | undefined;
  /**
   * The policy guarding the handler's dependency. The handler runs through it as one attempt
   * (its retries are not used: the redelivery is the retry), so its circuit breaker counts
   * the handler's outcomes and its deadline, attempt timeout and bulkhead apply. While its
   * breaker is open, messages are nak'ed until it lets a probe through, without calling the
   * handler. A keyed breaker's key is `<stream>.<consumer>`.
   * @default none
   */
  policy?: Policy | undefined;
  /**
   * The consumer's ack wait in ms: `msg.working()` is sent every half of it while a message
   * is in hand.
   * @default read once per consumer from the server (its `ack_wait`), else 30_000
   */
  ackWait?: number | undefined;
  /** Source of time for the `working()` timer and event times. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Receives `message-retry`, `message-dead-lettered` and `message-dropped` events, synchronously.
   * @default none
   */
  onEvent?: MessageEventListener | undefined;
}

const OPTION_KEYS = [
  'publisher',
  'headers',
  'maxDeliveries',
  'deadLetterSubject',
  'backoff',
  'classify',
  'policy',
  'ackWait',
  'clock',
  'onEvent',
] as const;

/** The consumer backoff when none is given: full jitter, 1 s doubling to 60 s. */
const defaultBackoff = (): Backoff => backoff.exponential({ initialDelay: 1_000, maxDelay: 60_000 });

/** @internal The validated options, as the handler reads them per message. */
export interface ResilientConfig<M extends ConsumedMsgLike> {
  readonly publisher: JetStreamPublisher;
  readonly headers: () => HeadersLike;
  readonly maxDeliveries: number;
  readonly deadLetterSubject: (msg: M) => string;
  readonly backoff: Backoff;
  readonly random: () => number;
  readonly classify: (error: unknown, msg: M) => unknown;
  /** The policy the handler runs through (one attempt), if any. */
  readonly policy: Policy | undefined;
  /** The breaker key of a message. */
  readonly breakerKey: (msg: M) => string;
  /** Ms until the policy's breaker lets a call through, when it is open (Infinity: isolated); else undefined. */
  readonly openFor: (msg: M) => number | undefined;
  /** The consumer's ack wait, known or being asked. */
  readonly ackWait: (msg: M) => number | Promise<number>;
  readonly clock: Clock;
  readonly onEvent: MessageEventListener | undefined;
}

function isBackoff(value: unknown): value is Backoff {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Backoff).delay === 'function' &&
    typeof (value as Backoff).maxDelay === 'number'
  );
}

function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Clock).now === 'function' &&
    typeof (value as Clock).setTimeout === 'function' &&
    typeof (value as Clock).clearTimeout === 'function'
  );
}

const breakerKeyOf = (msg: ConsumedMsgLike): string => `${msg.info.stream}.${msg.info.consumer}`;

/**
 * How long `breaker` still refuses calls, read through its public face: `state` (which also
 * lets an open breaker whose time is up turn half-open) and `toJSON().openUntil`.
 */
function refusedFor(breaker: CircuitBreaker | undefined, clock: Clock): number | undefined {
  if (breaker === undefined) return undefined;
  const state = breaker.state;
  if (state === 'isolated') return Number.POSITIVE_INFINITY;
  if (state !== 'open') return undefined;
  const until = breaker.toJSON().openUntil;
  return until === undefined ? undefined : Math.max(0, until - clock.now());
}

/** @internal Validates `options` (throwing InvalidOptionsError) and resolves the defaults. */
export function resolveOptions<M extends ConsumedMsgLike>(
  options: ResilientHandlerOptions<M>,
): ResilientConfig<M> {
  const o = obj<ResilientHandlerOptions<M>>('resilientHandler', options, OPTION_KEYS);
  if (o === undefined) return invalid('options', 'an object with publisher and headers', options);
  const publisher = o.publisher;
  if (typeof publisher !== 'object' || publisher === null || typeof publisher.publish !== 'function') {
    invalid('publisher', 'a jetStreamPublisher(js, policy)', publisher);
  }
  const headers = o.headers;
  if (typeof headers !== 'function') {
    invalid('headers', "the client's headers function (from 'nats' or '@nats-io/transport-node')", headers);
  }
  const maxDeliveries = num('maxDeliveries', o.maxDeliveries, 5, { min: 1, max: 1_000_000, integer: true });

  const subject = o.deadLetterSubject;
  let deadLetterSubject: (msg: M) => string = defaultDeadLetterSubject;
  if (typeof subject === 'string' && subject.length > 0) deadLetterSubject = () => subject;
  else if (typeof subject === 'function') deadLetterSubject = subject;
  else if (subject !== undefined) {
    invalid('deadLetterSubject', 'a non-empty subject or a function (msg) => subject', subject);
  }

  let strategy: Backoff;
  if (o.backoff === undefined) strategy = defaultBackoff();
  else if (isBackoff(o.backoff)) strategy = o.backoff;
  else if (typeof o.backoff === 'function') strategy = backoff.custom(o.backoff);
  else return invalid('backoff', 'a backoff strategy (backoff.exponential(), ...) or a function', o.backoff);

  const classify = o.classify ?? classifyHandlerError;
  if (typeof classify !== 'function')
    invalid('classify', "a function (error, msg) => 'retry' | 'drop' | 'dead-letter'", classify);

  let policy: Policy | undefined;
  if (o.policy !== undefined) {
    if (!isPolicy(o.policy)) invalid('policy', 'a breakwater policy()', o.policy);
    // One attempt per delivery: the redelivery (with its nak delay) is the retry.
    policy = o.policy.with({ retry: false });
  }

  const ackWaitMs = num('ackWait', o.ackWait, 0, { min: 0, exclusiveMin: true, max: MAX_NAK_DELAY });
  const clock = o.clock ?? systemClock;
  if (!isClock(clock)) invalid('clock', 'a Clock { now, setTimeout, clearTimeout }', clock);
  const onEvent = o.onEvent;
  if (onEvent !== undefined && typeof onEvent !== 'function') invalid('onEvent', 'a function', onEvent);

  const waits = o.ackWait === undefined ? new AckWaits(publisherClient(publisher)) : undefined;
  const config = policy?.config;
  return {
    publisher,
    headers,
    maxDeliveries,
    deadLetterSubject,
    backoff: strategy,
    random: config?.random ?? Math.random,
    classify,
    policy,
    breakerKey: breakerKeyOf,
    openFor:
      config === undefined
        ? () => undefined
        : (msg) => refusedFor(config.breaker ?? config.keyedBreaker?.peek(breakerKeyOf(msg)), config.clock),
    ackWait: waits === undefined ? () => ackWaitMs : (msg) => waits.of(msg.info.stream, msg.info.consumer),
    clock,
    onEvent,
  };
}
