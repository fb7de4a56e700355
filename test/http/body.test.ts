import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bodyKind, ITERATOR, REPLAYABLE, STREAM, streamUnread, TrackedBody } from '../../src/http/body.js';

describe('request bodies', () => {
  it.each([
    ['nothing', undefined],
    ['null', null],
    ['a string', 'text'],
    ['a Buffer', Buffer.from('x')],
    ['a Uint8Array', new Uint8Array([1])],
    ['an ArrayBuffer', new ArrayBuffer(1)],
    ['URLSearchParams', new URLSearchParams({ a: '1' })],
    ['FormData', new FormData()],
    ['a Blob', new Blob(['x'])],
    ['an array of chunks', ['a', 'b']],
  ])('replays %s', (_label, body) => {
    expect(bodyKind(body)).toBe(REPLAYABLE);
  });

  it('treats streams as one-shot, replayable only while unread', async () => {
    const readable = Readable.from(['a']);
    expect(bodyKind(readable)).toBe(STREAM);
    expect(streamUnread(readable)).toBe(true);
    for await (const _ of readable) {
      // consume
    }
    expect(streamUnread(readable)).toBe(false);

    const web = new ReadableStream({ start: (c) => c.close() });
    expect(bodyKind(web)).toBe(STREAM);
    expect(streamUnread(web)).toBe(true);
    web.getReader();
    expect(streamUnread(web)).toBe(false);
  });

  it('tracks whether an iterator body was pulled from', async () => {
    async function* gen() {
      yield 'a';
      yield 'b';
    }
    expect(bodyKind(gen())).toBe(ITERATOR);
    const tracked = new TrackedBody(gen());
    const iterator = tracked[Symbol.asyncIterator]();
    expect(tracked.consumed).toBe(false);
    expect(await iterator.next()).toEqual({ done: false, value: 'a' });
    expect(tracked.consumed).toBe(true);
    const fromSync = new TrackedBody(new Set(['x']));
    const items: unknown[] = [];
    for await (const item of fromSync) items.push(item);
    expect(items).toEqual(['x']);
  });
});
