/**
 * Header helpers for undici's request options, which accept several shapes (an object,
 * a flat `[name, value, ...]` array, an iterable of pairs), and for raw response headers
 * (a flat array of Buffers). Request headers the caller set are never overwritten: a
 * header is only added when absent.
 *
 * @module
 */
import type { ResponseHeaders } from './status-error.js';

/** undici's request header shapes. */
export type RequestHeaders =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | readonly string[]
  | Iterable<readonly [string, string | readonly string[] | undefined]>
  | null
  | undefined;

/** The value of header `name` (lower case) in undici request headers, if present. */
export function findHeader(headers: RequestHeaders, name: string): string | undefined {
  if (headers === null || headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    const flat = headers as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (String(flat[i]).toLowerCase() === name) return String(flat[i + 1]);
    }
    return undefined;
  }
  if (isIterable(headers)) {
    for (const [key, value] of headers) {
      if (key.toLowerCase() === name && value !== undefined) return String(value);
    }
    return undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  for (const key in record) {
    if (key.toLowerCase() === name) {
      const value = record[key];
      return value === undefined ? undefined : String(value);
    }
  }
  return undefined;
}

/**
 * `headers` with `extra` (lower-case name → value) added, in the same shape where it can
 * be; the caller's object is never modified. Iterables become a flat array.
 */
export function addHeaders(
  headers: RequestHeaders,
  extra: readonly (readonly [string, string])[],
): Record<string, string | readonly string[] | undefined> | string[] {
  if (headers === null || headers === undefined) {
    const out: Record<string, string> = {};
    for (const [name, value] of extra) out[name] = value;
    return out;
  }
  if (Array.isArray(headers) || isIterable(headers)) {
    const flat: string[] = [];
    if (Array.isArray(headers)) {
      for (const item of headers as readonly string[]) flat.push(item);
    } else {
      for (const [name, value] of headers as Iterable<
        readonly [string, string | readonly string[] | undefined]
      >) {
        if (value === undefined) continue;
        if (typeof value === 'string') flat.push(name, value);
        else for (const v of value) flat.push(name, v);
      }
    }
    for (const [name, value] of extra) flat.push(name, value);
    return flat;
  }
  const out: Record<string, string | readonly string[] | undefined> = {
    ...(headers as Readonly<Record<string, string | readonly string[] | undefined>>),
  };
  for (const [name, value] of extra) out[name] = value;
  return out;
}

function isIterable(
  value: object,
): value is Iterable<readonly [string, string | readonly string[] | undefined]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** The value of `name` (lower case) in raw response headers (`[name, value, ...]`). */
export function rawHeader(
  raw: readonly (Buffer | string | readonly (Buffer | string)[])[],
  name: string,
): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i];
    if (key !== undefined && latin1(key).toLowerCase() === name) return latin1(raw[i + 1]);
  }
  return undefined;
}

/** Raw response headers as a record with lower-case names (repeated names become arrays). */
export function parseRawHeaders(
  raw: readonly (Buffer | string | readonly (Buffer | string)[])[],
): ResponseHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i];
    if (key === undefined) continue;
    const name = latin1(key).toLowerCase();
    const value = latin1(raw[i + 1]);
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [seen, value];
  }
  return out;
}

function latin1(value: Buffer | string | readonly (Buffer | string)[] | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  return (value as readonly (Buffer | string)[]).map((v) => latin1(v)).join(', ');
}

/** A header value from a response header record (undici's new handler API). */
export function recordHeader(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}
