/** Type-level tests of retryBudget's two option modes. Checked by `tsc -p tsconfig.check.json`. */
import { describe, expectTypeOf, it } from 'vitest';
import { backoff, type RetryBudget, type RetryBudgetOptions, retryBudget } from '../../src/index.js';

describe('retryBudget options', () => {
  it('accept either mode on its own', () => {
    expectTypeOf(retryBudget).toBeCallableWith();
    expectTypeOf(retryBudget).toBeCallableWith({ ratio: 0.1, minPerSecond: 10, windowMs: 10_000 });
    expectTypeOf(retryBudget).toBeCallableWith({ maxTokens: 10, tokenRatio: 0.1 });
    expectTypeOf(retryBudget({})).toEqualTypeOf<RetryBudget>();
    const fromVariable: RetryBudgetOptions = { ratio: 0.2 };
    expectTypeOf(retryBudget).toBeCallableWith(fromVariable);
  });

  it('refuse the two modes mixed, and a token mode missing half of its settings', () => {
    // Only type-checked: these would throw InvalidOptionsError at run time.
    const typeOnly = (): void => {
      // @ts-expect-error ratio mode and token mode do not mix
      retryBudget({ ratio: 0.1, maxTokens: 10 });
      // @ts-expect-error ratio mode and token mode do not mix
      retryBudget({ maxTokens: 10, tokenRatio: 0.1, windowMs: 1_000 });
      // @ts-expect-error token mode needs tokenRatio too
      retryBudget({ maxTokens: 10 });
      // @ts-expect-error a delay is a number of ms, not a string with a unit
      backoff.constant('200ms');
    };
    expectTypeOf(typeOnly).toBeFunction();
  });
});
