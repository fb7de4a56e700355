/**
 * Every optional setting of the factories takes `undefined` for "the default", as the
 * policy's and execute's options do: an app with `exactOptionalPropertyTypes` can pass a
 * setting of its own config (`number | undefined`) straight through. Type-level (checked by
 * `tsc -p tsconfig.check.json`) and at run time (undefined gives the default).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  backoff,
  bulkhead,
  type CircuitBreakerOptions,
  circuitBreaker,
  keyedCircuitBreaker,
  type RetryBudget,
  retryBudget,
} from '../../src/index.js';

/** What an app's own config typically looks like: every setting may be missing. */
interface AppConfig {
  maxConcurrent?: number | undefined;
  maxQueue?: number | undefined;
  delayMs?: number | undefined;
  ratio?: number | undefined;
  threshold?: number | undefined;
  probes?: number | undefined;
  maxKeys?: number | undefined;
}

const unset: AppConfig = {};

describe('factory options take undefined for the default', () => {
  it('bulkhead', () => {
    const b = bulkhead({ maxConcurrent: unset.maxConcurrent, maxQueue: unset.maxQueue });
    expect([b.maxConcurrent, b.maxQueue]).toEqual([100, 0]);
  });

  it('backoff', () => {
    const exp = backoff.exponential({
      initialDelay: unset.delayMs,
      maxDelay: unset.delayMs,
      multiplier: undefined,
      jitter: undefined,
    });
    expect(exp.maxDelay).toBe(10_000);
    expect(backoff.constant({ delay: 200, maxDelay: unset.delayMs }).maxDelay).toBe(200);
    expect(backoff.custom(() => 1, { maxDelay: unset.delayMs }).maxDelay).toBe(30_000);
  });

  it('retryBudget', () => {
    const budget = retryBudget({
      ratio: unset.ratio,
      minPerSecond: undefined,
      windowMs: undefined,
      clock: undefined,
    });
    expectTypeOf(budget).toEqualTypeOf<RetryBudget>();
    expect(budget).toBeDefined();
  });

  it('circuitBreaker and keyedCircuitBreaker', () => {
    const options: CircuitBreakerOptions = {
      window: undefined,
      failureRateThreshold: unset.threshold,
      minimumCalls: undefined,
      consecutiveFailures: undefined,
      slowCall: undefined,
      openDuration: undefined,
      halfOpen: { maxProbes: unset.probes, successThreshold: undefined },
      isFailure: undefined,
      initialState: undefined,
      clock: undefined,
    };
    const metrics = circuitBreaker(options).metrics();
    expect([metrics.state, metrics.window, metrics.minimumCalls]).toEqual(['closed', 'count', 20]);
    const timeWindow = circuitBreaker({ window: { type: 'time', durationMs: 10_000, buckets: undefined } });
    expect(timeWindow.metrics().window).toBe('time');
    const keyed = keyedCircuitBreaker({ ...options, maxKeys: unset.maxKeys, idleMs: undefined });
    expect(keyed.metrics('a')).toBeUndefined();
  });
});
