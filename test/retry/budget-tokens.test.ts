import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryBudget } from '../../src/retry/budget.js';
import { expectInvalid } from '../support/invalid.js';

/**
 * gRPC's retryThrottling (gRFC A6), written the way gRPC core keeps it: in integer
 * milli-tokens, so a tokenRatio with up to 3 decimals is exact. The count starts at
 * maxTokens; a failed attempt takes 1 token (not below 0), a successful one gives back
 * tokenRatio (not above maxTokens); retries are allowed while tokens > maxTokens / 2.
 */
class GrpcThrottle {
  readonly #max: number;
  readonly #ratio: number;
  #milli: number;

  constructor(maxTokens: number, tokenRatio: number) {
    this.#max = Math.round(maxTokens * 1_000);
    this.#ratio = Math.round(tokenRatio * 1_000);
    this.#milli = this.#max;
  }

  success(): void {
    this.#milli = Math.min(this.#milli + this.#ratio, this.#max);
  }

  failure(): void {
    this.#milli = Math.max(this.#milli - 1_000, 0);
  }

  canRetry(): boolean {
    return this.#milli * 2 > this.#max;
  }

  get tokens(): number {
    return this.#milli / 1_000;
  }
}

type Event = 'success' | 'failure' | 'retry?';

describe('retryBudget, token mode (gRPC retryThrottling)', () => {
  it('starts full; each failure takes a token; retries stop at half', () => {
    const budget = retryBudget({ maxTokens: 10, tokenRatio: 0.1 });
    expect(budget.kind).toBe('tokens');
    const verdicts: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      budget.onFailure();
      verdicts.push(budget.tryRetry());
    }
    // 9, 8, 7, 6 tokens: above 5; then 5 and 4: not above 5.
    expect(verdicts).toEqual([true, true, true, true, false, false]);
  });

  it('successes refill by tokenRatio, exactly: ten successes of 0.1 are one token', () => {
    const budget = retryBudget({ maxTokens: 10, tokenRatio: 0.1 });
    for (let i = 0; i < 6; i++) budget.onFailure(); // 4 tokens
    for (let i = 0; i < 10; i++) budget.onSuccess(); // exactly 5, which is not above 5
    expect(budget.tryRetry()).toBe(false);
    budget.onSuccess(); // 5.1
    expect(budget.tryRetry()).toBe(true);
  });

  it('tokens never exceed maxTokens nor fall below 0', () => {
    const budget = retryBudget({ maxTokens: 4, tokenRatio: 1 });
    for (let i = 0; i < 50; i++) budget.onSuccess();
    budget.onFailure();
    budget.onFailure(); // 2 tokens: at half, refused
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 50; i++) budget.onFailure(); // 0, not negative
    budget.onSuccess();
    budget.onSuccess();
    expect(budget.tryRetry()).toBe(false); // 2
    budget.onSuccess();
    expect(budget.tryRetry()).toBe(true); // 3
  });

  it('asking does not spend: tryRetry only reads the tokens, onRequest does nothing', () => {
    const budget = retryBudget({ maxTokens: 2, tokenRatio: 0.5 });
    for (let i = 0; i < 100; i++) {
      budget.onRequest();
      expect(budget.tryRetry()).toBe(true);
    }
  });

  it('reproduces the gRPC algorithm exactly for arbitrary settings and event sequences', () => {
    const settings = fc.record({
      // gRPC: maxTokens in (0, 1000]; tokenRatio > 0 with up to 3 decimals.
      maxTokens: fc.oneof(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 20_000 }).map((m) => m / 1_000),
      ),
      tokenRatio: fc.oneof(
        fc.constantFrom(0.1, 0.2, 0.3, 0.7, 0.001, 1),
        fc.integer({ min: 1, max: 1_000 }).map((m) => m / 1_000),
      ),
    });
    // Runs of one event: long runs of successes are what walk the count back up to exactly
    // maxTokens / 2, where rounding errors would flip the verdict.
    const run = fc.tuple(
      fc.constantFrom<Event>('success', 'failure', 'retry?'),
      fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 1_200 })),
    );
    const events = fc
      .array(run, { maxLength: 40 })
      .map((runs) => runs.flatMap(([event, n]) => Array.from({ length: n }, () => event)));
    fc.assert(
      fc.property(settings, events, ({ maxTokens, tokenRatio }, sequence) => {
        const budget = retryBudget({ maxTokens, tokenRatio });
        const reference = new GrpcThrottle(maxTokens, tokenRatio);
        sequence.forEach((event, i) => {
          if (event === 'success') {
            budget.onSuccess();
            reference.success();
          } else if (event === 'failure') {
            budget.onFailure();
            reference.failure();
          }
          const allowed = reference.canRetry();
          // Plain comparisons first: `expect` per event would dominate the run time.
          if (budget.tryRetry() !== allowed || budget.available() > 0 !== allowed) {
            expect.fail(`after event ${i} (${event}), ${reference.tokens} tokens: gRPC says ${allowed}`);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('available() says whether a retry is allowed', () => {
    const budget = retryBudget({ maxTokens: 2, tokenRatio: 1 });
    expect(budget.available()).toBeGreaterThan(0);
    budget.onFailure();
    expect(budget.available()).toBe(0);
  });
});

describe('retryBudget token options are validated at construction', () => {
  it.each([
    ['maxTokens', 0],
    ['maxTokens', -1],
    ['maxTokens', 1_000.5],
    ['maxTokens', Number.NaN],
    ['maxTokens', '10'],
    ['maxTokens', 0.0001], // finer than gRPC's milli-tokens
    ['tokenRatio', 0],
    ['tokenRatio', -0.1],
    ['tokenRatio', 1.5],
    ['tokenRatio', Number.NaN],
    ['tokenRatio', null],
    ['tokenRatio', 0.0005], // gRPC supports 3 decimals
  ])('%s = %j', (key, value) => {
    const options = { maxTokens: 10, tokenRatio: 0.1, [key]: value };
    expectInvalid(() => retryBudget(options as never), `retryBudget.${key}`);
  });

  it('both settings are required', () => {
    expectInvalid(() => retryBudget({ maxTokens: 10 } as never), 'retryBudget.tokenRatio');
    expectInvalid(() => retryBudget({ tokenRatio: 0.1 } as never), 'retryBudget.maxTokens');
  });

  it('ratio-mode options cannot be mixed in', () => {
    expectInvalid(
      () => retryBudget({ maxTokens: 10, tokenRatio: 0.1, ratio: 0.2 } as never),
      'retryBudget.ratio',
    );
    expectInvalid(
      () => retryBudget({ maxTokens: 10, tokenRatio: 0.1, windowMs: 1 } as never),
      'retryBudget.windowMs',
    );
  });

  it('messages name the option and the allowed range', () => {
    expect(() => retryBudget({ maxTokens: 2_000, tokenRatio: 0.1 })).toThrow(
      /retryBudget\.maxTokens must be .*1000/,
    );
    expect(() => retryBudget({ maxTokens: 10, tokenRatio: 2 })).toThrow(
      /retryBudget\.tokenRatio must be .*1/,
    );
  });
});
