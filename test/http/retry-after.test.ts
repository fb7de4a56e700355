import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, parseHttpDate, parseRetryAfter } from '../../src/http/index.js';

const NOW = Date.parse('1994-11-06T08:49:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['1', 1_000],
    ['120', 120_000],
    ['  30  ', 30_000],
    ['007', 7_000],
  ])('reads delta-seconds %j as %d ms', (value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });

  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['rfc850-date', 'Sunday, 06-Nov-94 08:49:37 GMT'],
    ['asctime-date', 'Sun Nov  6 08:49:37 1994'],
  ])('reads an %s as the time until it', (_form, value) => {
    expect(parseRetryAfter(value, NOW)).toBe(37_000);
  });

  it('rounds a date a fraction of a second away up to whole ms', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW + 0.5)).toBe(37_000);
  });

  it.each([
    ['a negative number', '-1'],
    ['a fraction', '1.5'],
    ['an exponent', '1e3'],
    ['a signed number', '+5'],
    ['garbage', 'soon'],
    ['an empty value', ''],
    ['blanks', '   '],
    ['a date with a wrong month', 'Sun, 06 Foo 1994 08:49:37 GMT'],
    ['a date that does not exist', 'Thu, 31 Feb 2030 08:49:37 GMT'],
    ['a date with an hour of 25', 'Sun, 06 Nov 1994 25:49:37 GMT'],
    ['a date in another zone', 'Sun, 06 Nov 1994 08:49:37 PST'],
    ['an ISO date', '1994-11-06T08:49:37Z'],
    ['a date in the past', 'Sun, 06 Nov 1994 08:48:00 GMT'],
    ['a date equal to now', 'Sun, 06 Nov 1994 08:49:00 GMT'],
    ['a very long string', `${'x'.repeat(10_000)}`],
  ])('ignores %s', (_label, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('clamps a huge value to the largest timer delay (the policy caps it again)', () => {
    expect(parseRetryAfter('99999999999', NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Fri, 01 Jan 9999 00:00:00 GMT', NOW)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('uses the first of repeated headers, and ignores absent ones', () => {
    expect(parseRetryAfter(['5', '10'], NOW)).toBe(5_000);
    expect(parseRetryAfter([], NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
});

describe('parseHttpDate', () => {
  it('maps a two-digit rfc850 year more than 50 years ahead to the past century', () => {
    const year = new Date().getUTCFullYear();
    const far = (year + 60) % 100;
    const parsed = parseHttpDate(`Monday, 01-Jan-${String(far).padStart(2, '0')} 00:00:00 GMT`);
    expect(new Date(parsed as number).getUTCFullYear()).toBe(year + 60 - 100);
  });

  it('accepts a leap second', () => {
    expect(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT')).toBe(Date.UTC(2017, 0, 1, 0, 0, 0));
  });
});
