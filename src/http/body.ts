/**
 * Request bodies and retries. A body held in memory (string, Buffer, Uint8Array,
 * ArrayBuffer, Blob, URLSearchParams, FormData, an array) is sent again as it is; a
 * stream or an iterator can be read once, so a request carrying one is repeated only
 * while nothing of it was read (say the connection was refused), never once consumed.
 *
 * @module
 */
import { Readable } from 'node:stream';

/** Sent again as it is. */
export const REPLAYABLE = 0;
/** A Node.js Readable or a web ReadableStream: replayable until read. */
export const STREAM = 1;
/** Any other (async) iterable: replayable until its first item is pulled (see {@link TrackedBody}). */
export const ITERATOR = 2;
export type BodyKind = typeof REPLAYABLE | typeof STREAM | typeof ITERATOR;

/** Classifies a request body (undici's or fetch's). */
export function bodyKind(body: unknown): BodyKind {
  if (body === null || body === undefined || typeof body === 'string') return REPLAYABLE;
  if (typeof body !== 'object') return REPLAYABLE;
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer || Array.isArray(body)) return REPLAYABLE;
  if (body instanceof URLSearchParams) return REPLAYABLE;
  const tag = (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  if (tag === 'FormData' || tag === 'Blob' || tag === 'File') return REPLAYABLE;
  if (typeof (body as { pipe?: unknown }).pipe === 'function') return STREAM;
  if (typeof (body as { getReader?: unknown }).getReader === 'function') return STREAM;
  if (Symbol.asyncIterator in body || Symbol.iterator in body) return ITERATOR;
  return REPLAYABLE;
}

/** Whether a stream body can still be sent in full: nothing read, not ended, not destroyed. */
export function streamUnread(body: unknown): boolean {
  const s = body as {
    locked?: boolean;
    destroyed?: boolean;
    readableEnded?: boolean;
    errored?: unknown;
  };
  if (s.locked === true || s.destroyed === true || s.readableEnded === true) return false;
  if (s.errored !== undefined && s.errored !== null) return false;
  return !Readable.isDisturbed(body as Readable);
}

/**
 * Wraps a one-shot (async) iterable so that a retry can tell whether it was read: the
 * first pull marks it consumed. Until then the same object can be handed to another
 * attempt, which starts it from the beginning.
 */
export class TrackedBody implements AsyncIterable<unknown> {
  readonly #source: AsyncIterable<unknown> | Iterable<unknown>;
  #consumed = false;

  constructor(source: AsyncIterable<unknown> | Iterable<unknown>) {
    this.#source = source;
  }

  /** True once an attempt pulled from it. */
  get consumed(): boolean {
    return this.#consumed;
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    const source = this.#source;
    let inner: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    const open = (): AsyncIterator<unknown> | Iterator<unknown> => {
      inner ??=
        Symbol.asyncIterator in source
          ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
          : (source as Iterable<unknown>)[Symbol.iterator]();
      return inner;
    };
    return {
      next: async (): Promise<IteratorResult<unknown>> => {
        this.#consumed = true;
        return open().next();
      },
      return: async (value?: unknown): Promise<IteratorResult<unknown>> => {
        if (inner?.return !== undefined) return inner.return(value);
        return { done: true, value };
      },
    };
  }
}
