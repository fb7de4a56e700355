/**
 * The dead-letter copy of a message: where it goes, which Nats-Msg-Id it carries, and the
 * headers that say where it came from and why it failed.
 *
 * JetStream's own answer to an exhausted message (the MAX_DELIVERIES advisory) is a pointer
 * to a message that the stream may delete at any time; a copy on a dead-letter subject is
 * something a team can read, alert on and replay. The copy is published through a
 * breakwater publisher with a Nats-Msg-Id made from the original's stream, consumer and
 * sequence, so a copy published twice (a lost ack, a redelivery after a failed attempt)
 * is stored once within the dead-letter stream's duplicate window.
 *
 * @module
 */
import type { DeadLetterReason } from './consumer-events.js';
import type { ConsumedMsgLike, HeadersLike, ListableHeadersLike } from './types.js';

/** The headers of a dead-letter copy. */
export const DeadLetterHeaders = Object.freeze({
  /** The subject the original was published to. */
  subject: 'Breakwater-Original-Subject',
  /** The stream that holds the original. */
  stream: 'Breakwater-Original-Stream',
  /** The original's sequence in that stream. */
  sequence: 'Breakwater-Original-Sequence',
  /** The consumer whose handler failed. */
  consumer: 'Breakwater-Original-Consumer',
  /** The original's Nats-Msg-Id, if it had one (the copy's own is the dead-letter id). */
  msgId: 'Breakwater-Original-Msg-Id',
  /** The delivery on which it was dead-lettered (1 on the first). */
  deliveryCount: 'Breakwater-Delivery-Count',
  /** `poison` or `max-deliveries`. */
  reason: 'Breakwater-Dead-Letter-Reason',
  /** The error's `name` (`SyntaxError`, `TimeoutError`, ...). */
  errorType: 'Breakwater-Error-Type',
  /** The error's `code`, when it has a string or number one (`ECONNREFUSED`, `BREAKWATER_...`). */
  errorCode: 'Breakwater-Error-Code',
  /** The error's message: one line, at most 1,000 characters. */
  errorMessage: 'Breakwater-Error-Message',
});

/** The longest error message a copy carries, in characters (headers are not for stack traces). */
export const MAX_ERROR_MESSAGE = 1_000;

const NATS_HEADER = /^nats-/i;
const BREAKWATER_HEADER = /^breakwater-/i;

/** The default dead-letter subject: `dlq.<stream>.<consumer>`. */
export function defaultDeadLetterSubject(msg: ConsumedMsgLike): string {
  return `dlq.${msg.info.stream}.${msg.info.consumer}`;
}

/**
 * The copy's Nats-Msg-Id: the same for every attempt to dead-letter this message from this
 * consumer, and different for another consumer of the same stream (whose own copy is kept).
 */
export function deadLetterMsgId(msg: ConsumedMsgLike): string {
  return `dlq:${msg.info.stream}:${msg.info.consumer}:${msg.seq}`;
}

/** A header value on one line (NATS refuses CR and LF in a value), at most `max` characters. */
export function headerValue(text: string, max = MAX_ERROR_MESSAGE): string {
  const line = text.replace(/[\r\n]+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0) return name;
    const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof ctor === 'string' && ctor.length > 0) return ctor;
  }
  return typeof error;
}

function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  try {
    return String(error);
  } catch {
    return '';
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

function isListable(headers: unknown): headers is ListableHeadersLike {
  return (
    typeof headers === 'object' &&
    headers !== null &&
    typeof (headers as ListableHeadersLike).keys === 'function' &&
    typeof (headers as ListableHeadersLike).values === 'function'
  );
}

/**
 * Fills `into` (a fresh headers object from the client's `headers()`) for the copy of `msg`:
 * the original's own headers first (except the server's `Nats-*` ones, which would change
 * how the dead-letter stream stores the copy, and earlier `Breakwater-*` ones), then the
 * dead-letter headers.
 */
export function fillDeadLetterHeaders(
  into: HeadersLike,
  msg: ConsumedMsgLike,
  deliveryCount: number,
  reason: DeadLetterReason,
  error: unknown,
): HeadersLike {
  const original = msg.headers;
  if (isListable(original)) {
    const append = (into as { append?: (key: string, value: string) => void }).append;
    for (const key of original.keys()) {
      if (NATS_HEADER.test(key) || BREAKWATER_HEADER.test(key)) continue;
      const values = original.values(key);
      values.forEach((value, i) => {
        if (i === 0 || typeof append !== 'function') into.set(key, value);
        else append.call(into, key, value);
      });
    }
  }
  into.set(DeadLetterHeaders.subject, msg.subject);
  into.set(DeadLetterHeaders.stream, msg.info.stream);
  into.set(DeadLetterHeaders.sequence, String(msg.seq));
  into.set(DeadLetterHeaders.consumer, msg.info.consumer);
  const msgId = original?.get('Nats-Msg-Id');
  if (typeof msgId === 'string' && msgId.length > 0) into.set(DeadLetterHeaders.msgId, headerValue(msgId));
  into.set(DeadLetterHeaders.deliveryCount, String(deliveryCount));
  into.set(DeadLetterHeaders.reason, reason);
  into.set(DeadLetterHeaders.errorType, headerValue(errorType(error), 200));
  const code = errorCode(error);
  if (code !== undefined && code.length > 0) into.set(DeadLetterHeaders.errorCode, headerValue(code, 200));
  into.set(DeadLetterHeaders.errorMessage, headerValue(errorMessage(error)));
  return into;
}
