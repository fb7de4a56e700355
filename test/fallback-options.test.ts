import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttemptTimeoutError, CircuitOpenError } from '../src/errors.js';
import { resolveFallback, wantsFallback } from '../src/fallback-options.js';
import { expectInvalid, thrownInvalid } from './support/invalid.js';

describe('resolveFallback', () => {
  it('is undefined without a fallback', () => {
    expect(resolveFallback(undefined, undefined)).toBeUndefined();
  });

  it('keeps the functions as given, frozen', () => {
    const fallback = () => 'cached';
    const shouldFallback = () => true;
    const resolved = resolveFallback(fallback, shouldFallback);
    expect(resolved?.fallback).toBe(fallback);
    expect(resolved?.shouldFallback).toBe(shouldFallback);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolveFallback(fallback, undefined)?.shouldFallback).toBeUndefined();
  });

  it.each([
    ['cached', undefined, 'fallback'],
    [null, undefined, 'fallback'],
    [{ value: 1 }, undefined, 'fallback'],
    [() => 1, true, 'shouldFallback'],
    [() => 1, null, 'shouldFallback'],
    [undefined, () => true, 'shouldFallback'],
  ])('%j, %j → %s', (fallback, shouldFallback, option) => {
    expectInvalid(() => resolveFallback(fallback, shouldFallback), option);
  });

  it('says what is allowed', () => {
    expect(thrownInvalid(() => resolveFallback(42, undefined)).message).toBe(
      'fallback must be a function (error, ctx) => value (to answer a constant, write () => value); got 42',
    );
    expect(thrownInvalid(() => resolveFallback(undefined, () => true)).message).toBe(
      'shouldFallback must be set only together with fallback; got a function',
    );
  });

  it('names the option under a prefix', () => {
    expectInvalid(() => resolveFallback('x', undefined, 'methods.'), 'methods.fallback');
  });
});

describe('wantsFallback', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const failures = [
    new Error('boom'),
    new CircuitOpenError(1_000, undefined),
    new AttemptTimeoutError(50),
    'a string',
    undefined,
  ];

  it('answers every failure by default, and never the caller’s own abort', () => {
    const resolved = resolveFallback(() => 0, undefined);
    if (resolved === undefined) throw new Error('expected a fallback');
    for (const error of failures) {
      expect(wantsFallback(resolved, error, false)).toBe(true);
      expect(wantsFallback(resolved, error, true)).toBe(false);
    }
  });

  it('lets shouldFallback choose, but never for the caller’s abort', () => {
    const shouldFallback = vi.fn((error: unknown) => error instanceof CircuitOpenError);
    const resolved = resolveFallback(() => 0, shouldFallback);
    if (resolved === undefined) throw new Error('expected a fallback');
    expect(wantsFallback(resolved, new CircuitOpenError(1, undefined), false)).toBe(true);
    expect(wantsFallback(resolved, new Error('x'), false)).toBe(false);
    expect(wantsFallback(resolved, new CircuitOpenError(1, undefined), true)).toBe(false);
    expect(shouldFallback).toHaveBeenCalledTimes(2);
  });

  it('does not fall back, and warns, when shouldFallback throws', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const resolved = resolveFallback(
      () => 0,
      () => {
        throw new Error('bug');
      },
    );
    if (resolved === undefined) throw new Error('expected a fallback');
    expect(wantsFallback(resolved, new Error('x'), false)).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('bug'), {
      code: 'BREAKWATER_SHOULD_FALLBACK_ERROR',
    });
  });
});
