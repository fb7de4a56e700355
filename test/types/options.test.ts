/** Type-level tests of options, states and errors. Checked by `tsc -p tsconfig.check.json`. */
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AttemptTimeoutError,
  type BreakwaterError,
  type BreakwaterErrorCode,
  type BulkheadRejectedError,
  backoff,
  bulkhead,
  type CircuitOpenError,
  type CircuitState,
  circuitBreaker,
  DeadlineExceededError,
  type InvalidOptionsError,
  isBreakwaterError,
  type Jitter,
  type PolicyOptions,
  policy,
  type RetryDecision,
} from '../../src/index.js';

/** Builds nothing: only the types of the arguments are checked. */
function check(_options: PolicyOptions): void {}

describe('options', () => {
  it('accept the documented shapes', () => {
    check({
      name: 'orders',
      deadline: 2_000,
      attemptTimeout: 500,
      retry: {
        maxAttempts: 4,
        backoff: backoff.exponential({ initialDelay: 50, maxDelay: 2_000, multiplier: 2, jitter: 'full' }),
        retryOn: (_error, ctx) => (ctx.attempt < 3 ? { retry: true, after: 100 } : false),
      },
      circuitBreaker: circuitBreaker({ window: { type: 'time', durationMs: 10_000, buckets: 10 } }),
      bulkhead: bulkhead({ maxConcurrent: 100, maxQueue: 0 }),
      idempotency: true,
      onEvent: () => {},
    });
    check({ retry: false, idempotency: { generate: () => 'k' } });
    check({ retry: { backoff: (retry, previous) => retry * 100 + previous } });
    expectTypeOf<Jitter>().toEqualTypeOf<'full' | 'equal' | 'decorrelated' | 'none'>();
    expectTypeOf<RetryDecision>().toEqualTypeOf<
      boolean | { readonly retry: boolean; readonly after?: number }
    >();
  });

  it('reject wrong types', () => {
    // @ts-expect-error deadline is a number of ms
    check({ deadline: '2s' });
    // @ts-expect-error maxAttempts is a number
    check({ retry: { maxAttempts: '3' } });
    // @ts-expect-error a backoff is a strategy or a function, not a number
    check({ retry: { backoff: 100 } });
    // @ts-expect-error retryOn returns a boolean or a verdict
    check({ retry: { retryOn: () => 'yes' } });
    // @ts-expect-error budget is a retryBudget() or false
    check({ retry: { budget: true } });
    // @ts-expect-error unknown option
    check({ retries: 3 });
    // @ts-expect-error idempotency is a boolean or { generate }
    check({ idempotency: 'uuid' });
    // Factories validate at run time too: only type-check these calls, never run them.
    const typeOnly = (): void => {
      // @ts-expect-error jitter is one of four names
      backoff.exponential({ jitter: 'random' });
      // @ts-expect-error a count window has a size
      circuitBreaker({ window: { type: 'count', durationMs: 1_000 } });
      // @ts-expect-error maxQueue is a number
      bulkhead({ maxQueue: '10' });
    };
    expectTypeOf(typeOnly).toBeFunction();
  });
});

describe('states and errors', () => {
  it('CircuitState is a closed union', () => {
    expectTypeOf<CircuitState>().toEqualTypeOf<'closed' | 'open' | 'half-open' | 'isolated'>();
    expectTypeOf(circuitBreaker().state).toEqualTypeOf<CircuitState>();
  });

  it('error classes extend BreakwaterError and carry their fields', () => {
    expectTypeOf<CircuitOpenError>().toExtend<BreakwaterError>();
    expectTypeOf<BreakwaterError>().toExtend<Error>();
    expectTypeOf<CircuitOpenError['retryAfterMs']>().toBeNumber();
    expectTypeOf<CircuitOpenError['key']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<DeadlineExceededError['deadline']>().toBeNumber();
    expectTypeOf<AttemptTimeoutError['timeoutMs']>().toBeNumber();
    expectTypeOf<BulkheadRejectedError['maxConcurrent']>().toBeNumber();
    expectTypeOf<InvalidOptionsError['option']>().toBeString();
    expectTypeOf<BreakwaterError['code']>().toEqualTypeOf<BreakwaterErrorCode>();
    expectTypeOf<BreakwaterErrorCode>().toEqualTypeOf<
      | 'BREAKWATER_CIRCUIT_OPEN'
      | 'BREAKWATER_DEADLINE_EXCEEDED'
      | 'BREAKWATER_ATTEMPT_TIMEOUT'
      | 'BREAKWATER_BULKHEAD_FULL'
      | 'BREAKWATER_INVALID_OPTIONS'
      | 'BREAKWATER_NO_STREAM'
      | 'BREAKWATER_THROTTLED'
    >();
  });

  it('isBreakwaterError narrows unknown', async () => {
    const error: unknown = await policy({ retry: false })
      .execute(() => Promise.reject(new DeadlineExceededError(0)))
      .catch((e: unknown) => e);
    if (isBreakwaterError(error)) expectTypeOf(error.code).toEqualTypeOf<BreakwaterErrorCode>();
    // @ts-expect-error unknown has no code before narrowing
    void error.code;
  });
});
