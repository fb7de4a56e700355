/**
 * Helpers of `resilientFetch` that need none of a call's state.
 *
 * @internal
 * @module
 */
import { DRAIN_LIMIT } from './attempt.js';
import type { ResponseHeaders } from './status-error.js';

/** A Request, from this realm's fetch or another (undici's own Request class). */
export function isRequest(input: string | URL | Request): input is Request {
  return (
    typeof input === 'object' &&
    !(input instanceof URL) &&
    typeof input.url === 'string' &&
    typeof input.clone === 'function'
  );
}

/** The origin of a fetch input (the keyed breaker's key), if it parses. */
export function origin(input: string | URL | Request): string | undefined {
  try {
    if (typeof input === 'string') return new URL(input).origin;
    if (input instanceof URL) return input.origin;
    return new URL((input as Request).url).origin;
  } catch {
    return undefined; // fetch itself will reject the input
  }
}

export function headerRecord(headers: Headers): ResponseHeaders {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/**
 * Reads and drops a failed attempt's body so its connection returns to the pool; a body
 * longer than DRAIN_LIMIT is cancelled instead (which closes the connection).
 */
export function drain(response: Response): void {
  const body = response.body;
  if (body === null || body.locked) return;
  const reader = body.getReader();
  let read = 0;
  const next = (): Promise<void> =>
    reader.read().then(({ done, value }) => {
      if (done) return;
      read += value.byteLength;
      if (read > DRAIN_LIMIT) return reader.cancel();
      return next();
    });
  next().catch(noop);
}

export function noop(): void {}
