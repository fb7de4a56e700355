import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIdempotencyKey, parseIdempotencyKey } from '../../src/http/index.js';
import { isBreakwaterError } from '../../src/index.js';

describe('Idempotency-Key as an RFC 8941 sf-string', () => {
  it.each([
    ['8e3f7c1a-2b9d-4e5f-a6b7-c8d9e0f1a2b3', '"8e3f7c1a-2b9d-4e5f-a6b7-c8d9e0f1a2b3"'],
    ['order 42', '"order 42"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['"', '"\\""'],
    ["~!#$%&'()*+,-./:;<=>?@[]^_`{|}", '"~!#$%&\'()*+,-./:;<=>?@[]^_`{|}"'],
  ])('serialises %j as %s', (key, header) => {
    expect(formatIdempotencyKey(key)).toBe(header);
    expect(parseIdempotencyKey(header)).toBe(key);
  });

  it.each([
    ['an empty key', ''],
    ['a tab', 'a\tb'],
    ['a newline', 'a\nb'],
    ['DEL', 'a\u007fb'],
    ['a non-ASCII letter', 'café'],
    ['an emoji', 'key-🔑'],
    ['8193 characters', 'k'.repeat(8_193)],
  ])('refuses %s with InvalidOptionsError naming idempotencyKey', (_label, key) => {
    let error: unknown;
    try {
      formatIdempotencyKey(key);
    } catch (e) {
      error = e;
    }
    expect(isBreakwaterError(error) && error.code).toBe('BREAKWATER_INVALID_OPTIONS');
    expect((error as { option?: string }).option).toBe('idempotencyKey');
  });

  it.each([
    ['no quotes', 'abc'],
    ['an opening quote only', '"abc'],
    ['an unescaped quote inside', '"a"b"'],
    ['a bad escape', '"a\\nb"'],
    ['a trailing backslash', '"abc\\"'],
    ['a control character', '"a\u0001b"'],
  ])('does not parse %s', (_label, header) => {
    expect(parseIdempotencyKey(header)).toBeUndefined();
  });

  it('round-trips every printable ASCII key', () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
    });
    fc.assert(
      fc.property(printable, (key) => {
        const header = formatIdempotencyKey(key);
        expect(header.startsWith('"') && header.endsWith('"')).toBe(true);
        expect(parseIdempotencyKey(header)).toBe(key);
      }),
    );
  });
});
