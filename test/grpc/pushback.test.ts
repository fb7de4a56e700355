import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { MAX_PUSHBACK_MS, parsePushback } from '../../src/grpc/index.js';

function trailers(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add('grpc-retry-pushback-ms', value);
  return metadata;
}

describe('parsePushback', () => {
  it('is undefined without the trailer', () => {
    expect(parsePushback(new Metadata())).toBeUndefined();
    expect(parsePushback(undefined)).toBeUndefined();
    expect(parsePushback([])).toBeUndefined();
  });

  it.each([
    ['0', 0],
    ['250', 250],
    ['007', 7],
    [' 40 ', 40],
    ['2147483647', 2_147_483_647],
    ['0000000000000000000012', 12],
  ])('reads %j as %i ms', (value, ms) => {
    expect(parsePushback(trailers(value))).toBe(ms);
  });

  it.each(['2147483648', '99999999999', '9'.repeat(400)])('clamps the huge value %s', (value) => {
    expect(parsePushback(trailers(value))).toBe(MAX_PUSHBACK_MS);
  });

  it.each(['-1', '-0', '1.5', '1e3', '0x10', '+5', '12abc', 'abc', '', ' ', 'NaN', 'Infinity'])(
    'says "stop" for the negative or unparseable %j',
    (value) => {
      expect(parsePushback(trailers(value))).toBe('stop');
    },
  );

  it('says "stop" for non-ASCII digits (which Metadata itself refuses to carry)', () => {
    expect(parsePushback(['١٢'])).toBe('stop');
  });

  it('says "stop" for a value that is not a string', () => {
    expect(parsePushback([Buffer.from('100')])).toBe('stop');
  });

  it('uses the first of several values', () => {
    expect(parsePushback(trailers('100', '-1'))).toBe(100);
    expect(parsePushback(trailers('x', '100'))).toBe('stop');
  });
});
