/**
 * The server's retry pushback: the `grpc-retry-pushback-ms` trailer of gRFC A6. A server
 * that is shedding load sends it with a failure to say how long to wait before retrying,
 * or, with a negative value, not to retry at all.
 *
 * @module
 */
import type { Metadata } from '@grpc/grpc-js';

/** The trailer a server sends to ask for a delay (or for no retry). */
export const PUSHBACK_KEY = 'grpc-retry-pushback-ms';

/**
 * The largest delay a pushback can ask for, in ms (the largest timer Node can arm). A
 * larger value is clamped to it; the policy's `backoff.maxDelay` caps it further.
 */
export const MAX_PUSHBACK_MS = 2_147_483_647;

/**
 * What a pushback trailer says:
 * - a number: wait this many ms (≥ 0) before the next attempt;
 * - `'stop'`: do not retry (a negative or unparseable value, as gRFC A6 specifies);
 * - `undefined`: the server sent no pushback.
 */
export type Pushback = number | 'stop' | undefined;

/**
 * Reads `grpc-retry-pushback-ms` from a status's trailers (or from a list of values).
 *
 * The value must be a non-negative decimal integer. Anything else (a negative number, a
 * fraction, an exponent, garbage, an empty value) means "do not retry", as gRFC A6 says;
 * a huge value is clamped to {@link MAX_PUSHBACK_MS}. When several values are present,
 * the first one counts.
 *
 * @example
 * ```ts
 * import { Metadata } from '@grpc/grpc-js';
 * import { parsePushback } from 'breakwater/grpc';
 * const trailers = new Metadata();
 * trailers.set('grpc-retry-pushback-ms', '250');
 * const wait = parsePushback(trailers); // 250
 * ```
 */
export function parsePushback(source: Metadata | readonly unknown[] | undefined): Pushback {
  if (source === undefined) return undefined;
  const values = Array.isArray(source) ? source : (source as Metadata).get(PUSHBACK_KEY);
  if (values.length === 0) return undefined;
  const raw = values[0];
  if (typeof raw !== 'string') return 'stop';
  // HTTP/2 header values may carry optional whitespace around them; nothing else is allowed.
  // A plain regex (not parseInt, which reads "12abc" as 12 and never throws) so that
  // garbage cannot pass for a delay.
  const trimmed = raw.trim();
  if (!/^[0-9]+$/.test(trimmed)) return 'stop';
  const text = trimmed.replace(/^0+(?=[0-9])/, '');
  // Past 10 digits the value is beyond any timer; avoid Number() of a 1 000-digit string.
  if (text.length > 10) return MAX_PUSHBACK_MS;
  const ms = Number(text);
  return Math.min(ms, MAX_PUSHBACK_MS);
}
