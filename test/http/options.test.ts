import { describe, expect, it } from 'vitest';
import { httpInterceptor, resilientFetch } from '../../src/http/index.js';
import { resolveHttpOptions, resolveRequestOptions } from '../../src/http/options.js';
import { policy } from '../../src/index.js';
import { thrownInvalid as thrown } from '../support/invalid.js';

describe('options are checked at construction', () => {
  const p = policy();

  it.each([
    [{ statusCodes: [200] }, 'statusCodes', 'integers from 400 to 599'],
    [{ statusCodes: [503.5] }, 'statusCodes', 'integers from 400 to 599'],
    [{ statusCodes: 503 }, 'statusCodes', 'an array'],
    [{ methods: ['GET', 'NOT A TOKEN'] }, 'methods', 'method names'],
    [{ errorCodes: [''] }, 'errorCodes', 'non-empty strings'],
    [{ idempotencyHeader: 'bad header' }, 'idempotencyHeader', 'a header name'],
    [{ deadlineHeader: 42 }, 'deadlineHeader', 'a header name'],
    [{ retries: 3 }, 'retries', 'unknown option'],
  ])('%j names %s and what is allowed', (options, option, allowed) => {
    const error = thrown(() => httpInterceptor(p, options as never));
    expect(error.option).toBe(option);
    expect(error.message).toContain(allowed);
    expect(thrown(() => resilientFetch(p, options as never)).option).toBe(option);
  });

  it('names the culprit inside a list', () => {
    expect(thrown(() => httpInterceptor(p, { statusCodes: [503, 99] })).message).toBe(
      'statusCodes must be an array of integers from 400 to 599; got 99 at index 1',
    );
  });

  it('refuses something that is not a policy, and a fetch that is not a function', () => {
    expect(thrown(() => httpInterceptor({} as never)).option).toBe('httpInterceptor(policy)');
    expect(thrown(() => resilientFetch(undefined as never)).option).toBe('resilientFetch(policy)');
    expect(thrown(() => resilientFetch(p, { fetch: 'fetch' as never })).option).toBe('fetch');
  });

  it('refuses a policy with a fallback: the adapters deliver responses, not values', () => {
    const withFallback = policy({ fallback: () => new Response('cached') });
    const http = thrown(() => httpInterceptor(withFallback));
    expect(http.option).toBe('httpInterceptor(policy)');
    expect(http.message).toMatch(/must be a policy without fallback/);
    expect(thrown(() => resilientFetch(withFallback)).option).toBe('resilientFetch(policy)');
    // The same policy without its fallback is fine.
    expect(() => resilientFetch(withFallback.with({ fallback: undefined }))).not.toThrow();
  });

  it('accepts every option at its documented form', () => {
    expect(() =>
      httpInterceptor(p, {
        statusCodes: [429, 503, 500],
        methods: ['GET', 'post'],
        errorCodes: ['ECONNRESET'],
        idempotencyHeader: 'X-Idempotency-Key',
        deadlineHeader: 'x-request-timeout-ms',
      }),
    ).not.toThrow();
  });
});

describe('per-request options', () => {
  const base = resolveHttpOptions({ statusCodes: [503] }, '');

  it('override the shared ones, keeping the rest', () => {
    const merged = resolveRequestOptions(base, { methods: ['POST'], key: 'payments' }, 'breakwater');
    expect(merged.key).toBe('payments');
    expect(merged.options.methods.has('POST')).toBe(true);
    expect(merged.options.methods.has('GET')).toBe(false);
    expect(merged.options.statusKinds[503]).toBe(2);
    expect(merged.options.statusKinds[429]).toBe(0);
  });

  it('reuse the shared ones untouched when only request fields are given', () => {
    expect(resolveRequestOptions(base, { idempotencyKey: 'k' }, 'breakwater').options).toBe(base);
  });

  it.each([
    [{ idempotencyKey: '' }, 'breakwater.idempotencyKey'],
    [{ idempotencyKey: 'café' }, 'breakwater.idempotencyKey'],
    [{ deadline: 'soon' }, 'breakwater.deadline'],
    [{ key: 42 }, 'breakwater.key'],
    [{ idempotent: 'yes' }, 'breakwater.idempotent'],
    [{ statusCodes: [600] }, 'breakwater.statusCodes'],
    [{ nope: 1 }, 'breakwater.nope'],
  ])('%j throws naming %s', (options, option) => {
    expect(thrown(() => resolveRequestOptions(base, options as never, 'breakwater')).option).toBe(option);
  });
});
