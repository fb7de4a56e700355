/** Errors: codes, names, causes, and the cross-install brand. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AttemptTimeoutError,
  BreakwaterError,
  BulkheadRejectedError,
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  DeadlineExceededError,
  InvalidOptionsError,
  isBreakwaterError,
  policy,
} from '../src/index.js';

describe('error classes', () => {
  const cases: [BreakwaterError, string, string, string][] = [
    [
      new CircuitOpenError(250),
      'CircuitOpenError',
      'BREAKWATER_CIRCUIT_OPEN',
      'Circuit breaker is open: calls are refused for another 250 ms, then a probe is let through; ' +
        "serve a fallback meanwhile, or if the dependency is healthy, check the breaker's isFailure " +
        'and failureRateThreshold',
    ],
    [
      new CircuitOpenError(250, 'db'),
      'CircuitOpenError',
      'BREAKWATER_CIRCUIT_OPEN',
      'Circuit breaker is open for db: calls are refused for another 250 ms, then a probe is let ' +
        "through; serve a fallback meanwhile, or if the dependency is healthy, check the breaker's " +
        'isFailure and failureRateThreshold',
    ],
    [
      new DeadlineExceededError(123),
      'DeadlineExceededError',
      'BREAKWATER_DEADLINE_EXCEEDED',
      'Deadline exceeded: the deadline 1970-01-01T00:00:00.123Z (123 ms since the epoch) passed; ' +
        "give the operation more time (the policy's deadline, or the caller's) or make attempts end " +
        'sooner (attemptTimeout)',
    ],
    [
      new AttemptTimeoutError(50),
      'AttemptTimeoutError',
      'BREAKWATER_ATTEMPT_TIMEOUT',
      'Attempt timed out after 50 ms',
    ],
    [
      new BulkheadRejectedError(4, 2),
      'BulkheadRejectedError',
      'BREAKWATER_BULKHEAD_FULL',
      'Bulkhead full: 4 of 4 calls running and 2 of 2 queue places taken; raise maxConcurrent or ' +
        'maxQueue if the dependency can take more, or shed load before it reaches this bulkhead',
    ],
    [
      new InvalidOptionsError('retry.maxAttempts', 'bad'),
      'InvalidOptionsError',
      'BREAKWATER_INVALID_OPTIONS',
      'bad',
    ],
  ];
  for (const [error, name, code, message] of cases) {
    it(`${name}: name, code, message, class chain, stack`, () => {
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(error.message).toBe(message);
      expect(error).toBeInstanceOf(BreakwaterError);
      expect(error).toBeInstanceOf(Error);
      expect(isBreakwaterError(error)).toBe(true);
      expect(String(error)).toBe(`${name}: ${message}`);
      expect(error.stack).toContain(`${name}: ${message}`);
    });
  }

  it('carry their fields', () => {
    expect(new CircuitOpenError(250, 'db')).toMatchObject({ retryAfterMs: 250, key: 'db' });
    expect(new DeadlineExceededError(123)).toMatchObject({ deadline: 123 });
    expect(new AttemptTimeoutError(50)).toMatchObject({ timeoutMs: 50 });
    expect(new BulkheadRejectedError(4, 2)).toMatchObject({ maxConcurrent: 4, maxQueue: 2 });
    expect(new InvalidOptionsError('retry.maxAttempts', 'bad')).toMatchObject({
      option: 'retry.maxAttempts',
    });
  });

  it('carry a cause when given one, and none otherwise', () => {
    const cause = new Error('underlying');
    expect(new DeadlineExceededError(1, { cause }).cause).toBe(cause);
    expect(new CircuitOpenError(1, undefined, { cause }).cause).toBe(cause);
    expect('cause' in new DeadlineExceededError(1)).toBe(false);
  });

  it('the base class takes any code', () => {
    const error = new BreakwaterError('BREAKWATER_CIRCUIT_OPEN', 'custom');
    expect(error.name).toBe('BreakwaterError');
    expect(isBreakwaterError(error)).toBe(true);
  });
});

describe('hot-path rejections built without the Error constructor', () => {
  it('CircuitOpenError from an open breaker has name, message, code, fields and cause', async () => {
    const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
    const p = policy({ circuitBreaker: breaker, retry: false });
    const first = new Error('down');
    await p.execute(() => Promise.reject(first)).catch(() => {});
    const error = await p.execute(async () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isBreakwaterError(error)).toBe(true);
    const e = error as CircuitOpenError;
    expect([e.name, e.code]).toEqual(['CircuitOpenError', 'BREAKWATER_CIRCUIT_OPEN']);
    expect(e.message).toMatch(
      /^Circuit breaker is open \(policy "default"\): calls are refused for another \d+ ms, then a probe is let through; /,
    );
    expect(e.retryAfterMs).toBeGreaterThan(59_000);
    expect(String(e)).toBe(`CircuitOpenError: ${e.message}`);
    expect(e.stack).toBe(`CircuitOpenError: ${e.message}`);
    expect(inspect(e)).toContain('Circuit breaker is open');
    const keyed = CircuitOpenError.fast(5, 'k', first);
    expect([keyed.key, keyed.cause]).toEqual(['k', first]);
    expect(keyed.message).toMatch(/^Circuit breaker is open for k: calls are refused for another 5 ms/);
  });

  it('BulkheadRejectedError from a full bulkhead has name, message, code and fields', async () => {
    const p = policy({ bulkhead: bulkhead({ maxConcurrent: 1 }) });
    const holder = p.execute(() => new Promise(() => {}));
    const error = await p.execute(async () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    const e = error as BulkheadRejectedError;
    expect([e.name, e.code]).toEqual(['BulkheadRejectedError', 'BREAKWATER_BULKHEAD_FULL']);
    expect(e.message).toMatch(
      /^Bulkhead full \(policy "default"\): 1 of 1 call running and 0 of 0 queue places taken; /,
    );
    expect(e.stack).toContain('BulkheadRejectedError: Bulkhead full');
    expect('cause' in e).toBe(false);
    holder.catch(() => {});
  });

  it('their message and stack can be overwritten like any error', () => {
    const e = CircuitOpenError.fast(1, undefined, undefined);
    e.message = 'changed';
    e.stack = 'custom stack';
    expect([e.message, e.stack]).toEqual(['changed', 'custom stack']);
    // The prototype is untouched.
    expect(CircuitOpenError.fast(1, undefined, undefined).message).toMatch(/^Circuit breaker is open: /);
  });
});

describe('isBreakwaterError across duplicate installs', () => {
  it('recognises an object with the Symbol.for brand and a code (as another copy makes them)', () => {
    const foreign = Object.assign(new Error('from another copy'), {
      [Symbol.for('breakwater.error')]: true,
      code: 'BREAKWATER_DEADLINE_EXCEEDED',
    });
    expect(isBreakwaterError(foreign)).toBe(true);
    expect(foreign instanceof BreakwaterError).toBe(false);
  });

  it('refuses look-alikes without the brand, or without a code', () => {
    expect(isBreakwaterError(Object.assign(new Error('x'), { code: 'BREAKWATER_CIRCUIT_OPEN' }))).toBe(false);
    expect(isBreakwaterError({ [Symbol.for('breakwater.error')]: true })).toBe(false);
    expect(isBreakwaterError({ [Symbol('breakwater.error')]: true, code: 'X' })).toBe(false);
    for (const value of [undefined, null, 'BREAKWATER_CIRCUIT_OPEN', 42, new TypeError('x')]) {
      expect(isBreakwaterError(value)).toBe(false);
    }
  });

  it('works between two separately loaded copies of the module', async () => {
    // A query string makes the loader evaluate errors.ts a second time: new classes,
    // the same brand, as with two installed copies of the package.
    const specifier = '../src/errors.js?second-copy';
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof import('../src/errors.js');
    expect(copy.CircuitOpenError).not.toBe(CircuitOpenError);
    const theirs = new copy.DeadlineExceededError(1);
    const ours = new DeadlineExceededError(1);
    expect(theirs instanceof DeadlineExceededError).toBe(false);
    expect(isBreakwaterError(theirs)).toBe(true);
    expect(copy.isBreakwaterError(ours)).toBe(true);
    expect(copy.isBreakwaterError(CircuitOpenError.fast(1, undefined, undefined))).toBe(true);
  });

  const built = new URL('../dist/index.cjs', import.meta.url);
  it.skipIf(!existsSync(built))(
    'works between the built CommonJS and ESM bundles and the source',
    async () => {
      const cjs = createRequire(import.meta.url)(built.pathname) as typeof import('../src/index.js');
      const esm = (await import(
        new URL('../dist/index.js', import.meta.url).href
      )) as typeof import('../src/index.js');
      const fromCjs = new cjs.CircuitOpenError(1);
      const fromEsm = new esm.BulkheadRejectedError(1, 0);
      expect(fromCjs instanceof esm.CircuitOpenError).toBe(false);
      expect(esm.isBreakwaterError(fromCjs)).toBe(true);
      expect(cjs.isBreakwaterError(fromEsm)).toBe(true);
      expect(isBreakwaterError(fromCjs)).toBe(true);
      expect(cjs.isBreakwaterError(new DeadlineExceededError(1))).toBe(true);
    },
  );
});
