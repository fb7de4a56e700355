/**
 * Retry-After (RFC 9110 §10.2.3): either delta-seconds or an HTTP-date.
 *
 * The value comes from the server, so it is parsed strictly and defensively: anything
 * malformed, negative, fractional or in the past is ignored (the policy's own backoff
 * applies), and a huge value is clamped here and capped by the backoff's `maxDelay` in
 * the core. A wait that cannot fit in the remaining deadline is refused by the core,
 * which then stops at once instead of sleeping into the deadline.
 *
 * @module
 */

/** The largest hint returned, in ms (the largest delay a Node.js timer accepts). */
export const MAX_RETRY_AFTER_MS = 2_147_483_647;

const MONTHS: Readonly<Record<string, number>> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

// The three forms RFC 9110 §5.6.7 says a recipient must accept. Day names are not checked
// against the date: a wrong one says nothing about when to retry.
// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// rfc850-date (obsolete): Sunday, 06-Nov-94 08:49:37 GMT
const RFC850_DATE = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// asctime-date (obsolete): Sun Nov  6 08:49:37 1994
const ASCTIME_DATE = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;
const DELTA_SECONDS = /^\d+$/;

/**
 * Parses a Retry-After header value into a delay in ms from `now`.
 *
 * - delta-seconds (`"120"`) gives that many seconds; `"0"` means "retry now".
 * - An HTTP-date in any of the three forms of RFC 9110 gives the time until that date.
 * - Anything else (negative, fractional, garbage, an impossible date, a date that is not
 *   after `now`) gives `undefined`: no hint, so the policy's backoff applies.
 * - A repeated header (an array) uses its first value.
 *
 * The result is at most {@link MAX_RETRY_AFTER_MS}; the policy caps it again by its
 * backoff's `maxDelay`.
 *
 * @param value - the header value, as undici or `Headers.get` gives it
 * @param now - the current time, ms since the epoch (the policy's clock)
 * @returns the delay in ms, or `undefined` when the value gives no usable hint
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from 'breakwater/http';
 * const now = Date.parse('Sun, 06 Nov 1994 08:49:00 GMT');
 * parseRetryAfter('120', now); // 120_000
 * parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now); // 37_000
 * parseRetryAfter('-1', now); // undefined
 * ```
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  now: number,
): number | undefined {
  const raw = typeof value === 'string' ? value : Array.isArray(value) ? value[0] : undefined;
  if (typeof raw !== 'string') return undefined;
  // Bounded before any regular expression runs: no valid value is longer than this.
  if (raw.length > 64) return DELTA_SECONDS.test(raw.trim()) ? MAX_RETRY_AFTER_MS : undefined;
  const text = raw.trim();
  if (text.length === 0) return undefined;
  if (DELTA_SECONDS.test(text)) {
    return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  }
  const at = parseHttpDate(text);
  if (at === undefined || !(at > now)) return undefined;
  return Math.min(Math.ceil(at - now), MAX_RETRY_AFTER_MS);
}

/**
 * Parses an HTTP-date (IMF-fixdate, rfc850-date or asctime-date) into ms since the epoch,
 * or `undefined` when it is not one or names an impossible time.
 */
export function parseHttpDate(text: string): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utc(m[3], m[2], m[1], m[4], m[5], m[6]);
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    // RFC 9110: a two-digit year more than 50 years in the future means the past century.
    let year = 2000 + Number(m[3]);
    if (year > new Date().getUTCFullYear() + 50) year -= 100;
    return utc(String(year), m[2], m[1], m[4], m[5], m[6]);
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) return utc(m[6], m[1], m[2], m[3], m[4], m[5]);
  return undefined;
}

function utc(
  year: string | undefined,
  monthName: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | undefined {
  const month = MONTHS[(monthName ?? '').toLowerCase()];
  const y = Number(year);
  const d = Number((day ?? '').trim());
  const h = Number(hour);
  const min = Number(minute);
  const s = Number(second);
  if (month === undefined || d < 1 || d > 31 || h > 23 || min > 59 || s > 60) return undefined;
  const at = Date.UTC(y, month, d, h, min, s);
  // Date.UTC rolls 31 Feb over into March: such a date is malformed, not a hint.
  if (new Date(at).getUTCDate() !== d && s !== 60) return undefined;
  return at;
}
