import { describe, expect, it } from 'vitest';
import { classifyHttpFailure, networkErrorCode, repeatability } from '../../src/http/classify.js';
import { HttpStatusError, isHttpStatusError } from '../../src/http/index.js';
import { resolveHttpOptions } from '../../src/http/options.js';
import { AttemptTimeoutError, CircuitOpenError, DeadlineExceededError } from '../../src/index.js';

const defaults = resolveHttpOptions(undefined, '');

function withCode(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('networkErrorCode', () => {
  it('reads the code of the error, of its cause chain, or of an AggregateError’s first error', () => {
    expect(networkErrorCode(withCode('ECONNRESET'))).toBe('ECONNRESET');
    expect(networkErrorCode(new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }))).toBe(
      'ECONNREFUSED',
    );
    expect(networkErrorCode(new AggregateError([withCode('ECONNREFUSED'), withCode('ENETUNREACH')]))).toBe(
      'ECONNREFUSED',
    );
    expect(networkErrorCode(new Error('plain'))).toBeUndefined();
    expect(networkErrorCode('a string')).toBeUndefined();
  });

  it('stops after a few levels of cause, so a cyclic chain cannot loop', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b: Error & { cause?: unknown } = new Error('b', { cause: a });
    a.cause = b;
    expect(networkErrorCode(a)).toBeUndefined();
  });
});

describe('classifyHttpFailure (the default retryOn)', () => {
  it.each([409, 429, 502, 503, 504])('retries status %d', (status) => {
    expect(classifyHttpFailure(new HttpStatusError(status, {}, undefined), defaults)).toBe(true);
  });

  it.each([400, 401, 404, 422, 500, 501, 505])('does not retry status %d', (status) => {
    expect(classifyHttpFailure(new HttpStatusError(status, {}, undefined), defaults)).toBe(false);
  });

  it('passes the Retry-After delay on as the server hint', () => {
    expect(classifyHttpFailure(new HttpStatusError(503, {}, 2_000), defaults)).toEqual({
      retry: true,
      after: 2_000,
    });
  });

  it.each([
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT',
  ])('retries network error %s, also wrapped by fetch', (code) => {
    expect(classifyHttpFailure(withCode(code), defaults)).toBe(true);
    expect(classifyHttpFailure(new TypeError('fetch failed', { cause: withCode(code) }), defaults)).toBe(
      true,
    );
  });

  it('retries an attempt timeout, not the other rejections of breakwater', () => {
    expect(classifyHttpFailure(new AttemptTimeoutError(100), defaults)).toBe(true);
    expect(classifyHttpFailure(new DeadlineExceededError(0), defaults)).toBe(false);
    expect(classifyHttpFailure(new CircuitOpenError(100), defaults)).toBe(false);
  });

  it('does not retry programmer errors, aborts or unknown codes', () => {
    expect(classifyHttpFailure(new TypeError('bad header'), defaults)).toBe(false);
    expect(classifyHttpFailure(new DOMException('aborted', 'AbortError'), defaults)).toBe(false);
    expect(classifyHttpFailure(withCode('UND_ERR_INVALID_ARG'), defaults)).toBe(false);
    expect(classifyHttpFailure(withCode('ENOTFOUND'), defaults)).toBe(false);
  });

  it('follows statusCodes and errorCodes when they are set', () => {
    const own = resolveHttpOptions({ statusCodes: [500], errorCodes: ['ENOTFOUND'] }, '');
    expect(classifyHttpFailure(new HttpStatusError(500, {}, undefined), own)).toBe(true);
    expect(classifyHttpFailure(new HttpStatusError(503, {}, undefined), own)).toBe(false);
    expect(classifyHttpFailure(withCode('ENOTFOUND'), own)).toBe(true);
    expect(classifyHttpFailure(withCode('ECONNRESET'), own)).toBe(false);
  });
});

describe('repeatability', () => {
  const none = () => false;
  const noKey = () => undefined;
  const key = () => 'k-1';

  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'get'])(
    'repeats %s without a key',
    (method) => {
      expect(repeatability(method, defaults, undefined, undefined, none, noKey)).toEqual({
        repeatable: true,
        keyHeader: undefined,
      });
    },
  );

  it.each(['POST', 'PATCH'])('repeats %s only with a key, which it sends quoted', (method) => {
    expect(repeatability(method, defaults, undefined, undefined, none, noKey).repeatable).toBe(false);
    expect(repeatability(method, defaults, undefined, undefined, none, key)).toEqual({
      repeatable: true,
      keyHeader: '"k-1"',
    });
  });

  it('repeats a request whose caller set the header, adding nothing', () => {
    expect(repeatability('POST', defaults, undefined, undefined, () => true, key)).toEqual({
      repeatable: true,
      keyHeader: undefined,
    });
  });

  it('sends a key a GET was given explicitly, never a generated one', () => {
    expect(repeatability('GET', defaults, undefined, 'mine', none, () => 'mine').keyHeader).toBe('"mine"');
    let generated = 0;
    repeatability('GET', defaults, undefined, undefined, none, () => `gen-${++generated}`);
    expect(generated).toBe(0);
  });

  it('obeys idempotent: true and idempotent: false', () => {
    expect(repeatability('POST', defaults, true, undefined, none, noKey).repeatable).toBe(true);
    expect(repeatability('GET', defaults, false, undefined, () => true, key).repeatable).toBe(false);
  });
});

describe('HttpStatusError', () => {
  it('is recognised by its brand, and is not a BreakwaterError', () => {
    const error = new HttpStatusError(503, { 'retry-after': '1' }, 1_000);
    expect(isHttpStatusError(error)).toBe(true);
    expect(isHttpStatusError({ statusCode: 503 })).toBe(false);
    expect(error.name).toBe('HttpStatusError');
    expect(error.message).toBe('HTTP 503');
    expect((error as unknown as { code?: unknown }).code).toBeUndefined();
  });
});
