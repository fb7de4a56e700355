import { describe, expect, it } from 'vitest';
import { addHeaders, findHeader, parseRawHeaders, rawHeader } from '../../src/http/headers.js';

describe('request headers in undici’s shapes', () => {
  it('finds a header case-insensitively in an object, a flat array and an iterable', () => {
    expect(findHeader({ 'Idempotency-Key': '"a"' }, 'idempotency-key')).toBe('"a"');
    expect(findHeader(['accept', '*/*', 'IDEMPOTENCY-KEY', '"b"'], 'idempotency-key')).toBe('"b"');
    expect(findHeader(new Map([['Idempotency-Key', '"c"']]), 'idempotency-key')).toBe('"c"');
    expect(findHeader({ accept: '*/*' }, 'idempotency-key')).toBeUndefined();
    expect(findHeader(null, 'idempotency-key')).toBeUndefined();
  });

  it('adds headers without touching the caller’s object', () => {
    const own = { accept: 'application/json' };
    expect(addHeaders(own, [['idempotency-key', '"k"']])).toEqual({
      accept: 'application/json',
      'idempotency-key': '"k"',
    });
    expect(own).toEqual({ accept: 'application/json' });
    const flat = ['accept', '*/*'];
    expect(addHeaders(flat, [['x-a', '1']])).toEqual(['accept', '*/*', 'x-a', '1']);
    expect(flat).toEqual(['accept', '*/*']);
    expect(addHeaders(new Map([['accept', ['a', 'b']]]), [['x-a', '1']])).toEqual([
      'accept',
      'a',
      'accept',
      'b',
      'x-a',
      '1',
    ]);
    expect(addHeaders(undefined, [['x-a', '1']])).toEqual({ 'x-a': '1' });
  });
});

describe('raw response headers', () => {
  const raw = [
    Buffer.from('Retry-After'),
    Buffer.from('5'),
    Buffer.from('set-cookie'),
    Buffer.from('a=1'),
    Buffer.from('Set-Cookie'),
    Buffer.from('b=2'),
  ];

  it('reads one header and builds a record with repeated names as arrays', () => {
    expect(rawHeader(raw, 'retry-after')).toBe('5');
    expect(rawHeader(raw, 'x-missing')).toBeUndefined();
    expect(parseRawHeaders(raw)).toEqual({ 'retry-after': '5', 'set-cookie': ['a=1', 'b=2'] });
  });
});
