/**
 * The Idempotency-Key header of the IETF draft (draft-ietf-httpapi-idempotency-key-header):
 * its value is an RFC 8941 Structured Field String, so the key travels quoted, with `"`
 * and `\` escaped, and may hold printable ASCII only.
 *
 * @module
 */
import { InvalidOptionsError } from '../errors.js';

/** The header name the draft defines, in the lower case undici and fetch use. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * Serialises `key` as an RFC 8941 sf-string (§4.1.6): `"` + key with `\` and `"` escaped
 * + `"`.
 *
 * @param key - the idempotency key: printable ASCII (0x20 to 0x7E), at most 8,192 characters
 * @returns the header value, quoted
 * @throws InvalidOptionsError when `key` is empty, too long, or holds a character an
 *   sf-string cannot carry (a control character or anything beyond ASCII)
 *
 * @example
 * ```ts
 * import { formatIdempotencyKey } from 'breakwater/http';
 * formatIdempotencyKey('order-42'); // '"order-42"'
 * formatIdempotencyKey('say "hi"'); // '"say \\"hi\\""'
 * ```
 */
export function formatIdempotencyKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 8_192) {
    throw new InvalidOptionsError(
      'idempotencyKey',
      `idempotencyKey must be a non-empty string of at most 8192 characters; got ${describe(key)}`,
    );
  }
  let out = '"';
  let plainFrom = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new InvalidOptionsError(
        'idempotencyKey',
        `idempotencyKey must hold printable ASCII only (RFC 8941 sf-string); got a character 0x${c.toString(16)} at ${i}`,
      );
    }
    if (c === 0x22 || c === 0x5c) {
      out += `${key.slice(plainFrom, i)}\\`;
      plainFrom = i;
    }
  }
  return `${out}${key.slice(plainFrom)}"`;
}

/** Whether `key` can travel as an sf-string: 1 to 8,192 printable ASCII characters. */
export function isValidIdempotencyKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 8_192) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * Parses an RFC 8941 sf-string (the value of an Idempotency-Key header) back into the key.
 *
 * @returns the key, or `undefined` when `value` is not a valid sf-string
 */
export function parseIdempotencyKey(value: string): string | undefined {
  const text = value.trim();
  if (text.length < 2 || text.charCodeAt(0) !== 0x22 || text.charCodeAt(text.length - 1) !== 0x22) {
    return undefined;
  }
  let out = '';
  for (let i = 1; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
    if (c === 0x22) return undefined; // an unescaped quote ends the string early
    if (c === 0x5c) {
      i++;
      const next = text.charCodeAt(i);
      if (i >= text.length - 1 || (next !== 0x22 && next !== 0x5c)) return undefined;
      out += text[i];
      continue;
    }
    out += text[i];
  }
  return out;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : `${value.length} characters`;
  return typeof value;
}
