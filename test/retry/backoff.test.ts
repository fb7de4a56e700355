import { describe, expect, it } from 'vitest';
import { constant, custom, exponential, isBackoff } from '../../src/retry/backoff.js';
import { expectInvalid, thrownInvalid } from '../support/invalid.js';

/** A random source that returns `values` in turn. */
const seq =
  (...values: number[]) =>
  (): number => {
    const v = values.shift();
    if (v === undefined) throw new Error('random source exhausted');
    return v;
  };

describe('backoff.exponential', () => {
  it('defaults: 100 ms doubling to 10 s with full jitter', () => {
    const b = exponential();
    expect(b.maxDelay).toBe(10_000);
    // Full jitter: random × d, with d = 100 × 2^(n−1).
    expect(b.delay(1, 0, () => 0.5)).toBe(50);
    expect(b.delay(3, 0, () => 0.5)).toBe(200);
    expect(b.delay(30, 0, () => 0.5)).toBe(5_000); // capped at maxDelay, then jittered
  });

  it("jitter 'none' grows by the multiplier and is capped by maxDelay", () => {
    const b = exponential({ initialDelay: 10, maxDelay: 1_000, multiplier: 3, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => b.delay(n, 0))).toEqual([10, 30, 90, 270, 810, 1_000, 1_000]);
  });

  it("jitter 'none' ignores the random source", () => {
    const b = exponential({ initialDelay: 10, jitter: 'none' });
    expect(b.delay(2, 0, () => 0.99)).toBe(20);
  });

  it("jitter 'full' is uniform in [0, d)", () => {
    const b = exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'full' });
    expect(b.delay(2, 0, () => 0)).toBe(0);
    expect(b.delay(2, 0, () => 0.25)).toBe(50);
    expect(b.delay(2, 0, () => 0.999)).toBeCloseTo(199.8, 9);
    expect(b.delay(10, 0, () => 0.5)).toBe(500); // d capped at 1 000
  });

  it("jitter 'equal' is d/2 plus uniform in [0, d/2)", () => {
    const b = exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'equal' });
    expect(b.delay(1, 0, () => 0)).toBe(50);
    expect(b.delay(1, 0, () => 0.5)).toBe(75);
    expect(b.delay(3, 0, () => 0.999)).toBeCloseTo(399.8, 9);
    expect(b.delay(20, 0, () => 0)).toBe(500);
  });

  it("jitter 'decorrelated' is uniform in [initialDelay, 3 × previous], capped", () => {
    const b = exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'decorrelated' });
    expect(b.delay(5, 200, () => 0)).toBe(100);
    expect(b.delay(5, 200, () => 0.5)).toBe(350); // 100 + 0.5 × (600 − 100)
    expect(b.delay(5, 900, () => 0.999)).toBeLessThanOrEqual(1_000);
    expect(b.delay(5, 900, () => 0.999)).toBeCloseTo(999.1, 9); // upper bound capped at 1 000
  });

  it("'decorrelated' already spreads the first retry over [initialDelay, 3 × initialDelay]", () => {
    // AWS's algorithm starts from sleep = base: the first retry must be jittered too, or every
    // client that failed at the same moment retries at the same moment.
    const b = exponential({ initialDelay: 100, maxDelay: 10_000, jitter: 'decorrelated' });
    expect(b.delay(1, 0, () => 0)).toBe(100);
    expect(b.delay(1, 0, () => 0.5)).toBe(200);
    expect(b.delay(1, 0, () => 0.999)).toBeCloseTo(299.8, 9);
  });

  it("'decorrelated' chains: each delay bounds the next", () => {
    const b = exponential({ initialDelay: 10, maxDelay: 10_000, jitter: 'decorrelated' });
    const random = seq(0.999_999, 0.999_999, 0.999_999, 0);
    let previous = 0;
    const delays: number[] = [];
    for (let n = 1; n <= 4; n++) {
      previous = b.delay(n, previous, random);
      delays.push(Math.round(previous));
    }
    expect(delays).toEqual([30, 90, 270, 10]);
  });

  it('an initialDelay of 0 gives 0 for every retry', () => {
    const b = exponential({ initialDelay: 0, maxDelay: 100, jitter: 'none' });
    expect([1, 2, 1_000, Number.MAX_SAFE_INTEGER].map((n) => b.delay(n, 0))).toEqual([0, 0, 0, 0]);
  });

  it('saturates at maxDelay for huge retry numbers instead of overflowing', () => {
    const b = exponential({ initialDelay: 1, maxDelay: 5_000, multiplier: 1_000, jitter: 'none' });
    for (const n of [200, 10_000, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
      expect(b.delay(n, 0)).toBe(5_000);
    }
    // multiplier 1: 1^∞ is NaN in JavaScript, and must not leak out.
    const flat = exponential({ initialDelay: 7, maxDelay: 50, multiplier: 1, jitter: 'none' });
    expect(flat.delay(Number.POSITIVE_INFINITY, 0)).toBe(7);
    expect(flat.delay(Number.MAX_SAFE_INTEGER, 0)).toBe(7);
  });

  it('maxDelay defaults to at least initialDelay', () => {
    expect(exponential({ initialDelay: 20_000 }).maxDelay).toBe(20_000);
    expect(exponential({ initialDelay: 50 }).maxDelay).toBe(10_000);
  });

  it('is frozen and holds no per-call state', () => {
    const b = exponential({ initialDelay: 10, jitter: 'none' });
    expect(Object.isFrozen(b)).toBe(true);
    expect(b.delay(3, 0)).toBe(40);
    expect(b.delay(1, 0)).toBe(10);
    expect(b.delay(3, 0)).toBe(40);
  });
});

describe('backoff.constant', () => {
  it('returns the same delay for every retry, whatever the previous delay', () => {
    const b = constant(250);
    expect(b.maxDelay).toBe(250);
    expect([1, 2, 99].map((n) => b.delay(n, n * 10))).toEqual([250, 250, 250]);
  });

  it('accepts an object with a larger maxDelay for server hints', () => {
    const b = constant({ delay: 100, maxDelay: 5_000 });
    expect(b.delay(1, 0)).toBe(100);
    expect(b.maxDelay).toBe(5_000);
  });

  it('allows a zero delay', () => {
    expect(constant(0).delay(1, 0)).toBe(0);
  });
});

describe('backoff.custom', () => {
  it('passes the retry number and the previous delay to the function', () => {
    const calls: Array<[number, number]> = [];
    const b = custom(
      (retry, previous) => {
        calls.push([retry, previous]);
        return retry * 100;
      },
      { maxDelay: 1_000 },
    );
    expect(b.delay(3, 42)).toBe(300);
    expect(calls).toEqual([[3, 42]]);
  });

  it('clamps results to [0, maxDelay]', () => {
    const b = custom(
      (retry) => [-5, 500, 5_000, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY][retry] ?? 0,
      {
        maxDelay: 1_000,
      },
    );
    expect([0, 1, 2, 3, 4].map((n) => b.delay(n, 0))).toEqual([0, 500, 1_000, 1_000, 0]);
  });

  it('waits maxDelay when the function returns NaN or a non-number', () => {
    const nan = custom(() => Number.NaN, { maxDelay: 700 });
    expect(nan.delay(1, 0)).toBe(700);
    const garbage = custom(() => 'soon' as unknown as number, { maxDelay: 700 });
    expect(garbage.delay(1, 0)).toBe(700);
  });

  it('defaults maxDelay to 30 s', () => {
    expect(custom(() => 1e9).delay(1, 0)).toBe(30_000);
  });
});

describe('isBackoff', () => {
  it('recognises strategies and rejects look-alikes', () => {
    expect(isBackoff(exponential())).toBe(true);
    expect(isBackoff(constant(1))).toBe(true);
    expect(isBackoff(custom(() => 1))).toBe(true);
    expect(isBackoff({ delay: () => 1 })).toBe(false);
    expect(isBackoff(() => 1)).toBe(false);
    expect(isBackoff(null)).toBe(false);
  });
});

describe('backoff options are validated at construction', () => {
  const bad = (options: unknown) => () => exponential(options as never);

  it.each([
    ['negative', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a string', '100'],
    ['above the setTimeout limit', 2 ** 31],
  ])('exponential initialDelay: %s', (_, value) => {
    expectInvalid(bad({ initialDelay: value }), 'backoff.initialDelay');
  });

  it.each([
    ['negative', -1],
    ['NaN', Number.NaN],
    ['a string', '1s'],
    ['above the setTimeout limit', 2 ** 31],
  ])('exponential maxDelay: %s', (_, value) => {
    expectInvalid(bad({ maxDelay: value }), 'backoff.maxDelay');
  });

  it('exponential maxDelay below initialDelay (min above max) names maxDelay and the bound', () => {
    expectInvalid(bad({ initialDelay: 500, maxDelay: 499 }), 'backoff.maxDelay');
    expect(bad({ initialDelay: 500, maxDelay: 499 })).toThrow(/at least backoff.initialDelay \(500\)/);
    expect(exponential({ initialDelay: 500, maxDelay: 500 }).maxDelay).toBe(500);
  });

  it.each([
    ['below 1 (a shrinking backoff)', 0.5],
    ['zero', 0],
    ['negative', -2],
    ['NaN', Number.NaN],
    ['above 1000', 1_001],
    ['a string', '2'],
  ])('exponential multiplier: %s', (_, value) => {
    expectInvalid(bad({ multiplier: value }), 'backoff.multiplier');
  });

  it.each([['random'], ['FULL'], [''], [1], [null]])('exponential jitter: %j', (value) => {
    expectInvalid(bad({ jitter: value }), 'backoff.jitter');
  });

  it('an unknown jitter lists the allowed values', () => {
    expect(bad({ jitter: 'gaussian' })).toThrow(/"full", "equal", "decorrelated", "none"/);
  });

  it('exponential rejects unknown keys and non-objects', () => {
    expectInvalid(bad({ initialDelay: 10, maxDelayMs: 100 }), 'backoff.exponential.maxDelayMs');
    expectInvalid(bad(null), 'backoff.exponential');
    expectInvalid(bad(100), 'backoff.exponential');
    expectInvalid(bad([]), 'backoff.exponential');
  });

  it('constant: bad delay, maxDelay below delay, unknown keys, wrong type', () => {
    expectInvalid(() => constant(-1), 'backoff.delay');
    expectInvalid(() => constant(Number.NaN), 'backoff.delay');
    expectInvalid(() => constant({} as never), 'backoff.delay');
    expectInvalid(() => constant({ delay: '5' } as never), 'backoff.delay');
    expectInvalid(() => constant({ delay: 100, maxDelay: 99 }), 'backoff.maxDelay');
    expectInvalid(() => constant({ delay: 100, max: 99 } as never), 'backoff.constant.max');
    expectInvalid(() => constant(undefined as never), 'backoff.constant');
    expectInvalid(() => constant('100' as never), 'backoff.constant');
  });

  it('custom: not a function, bad maxDelay, unknown keys', () => {
    expectInvalid(() => custom(100 as never), 'backoff.custom');
    expectInvalid(() => custom(undefined as never), 'backoff.custom');
    expectInvalid(() => custom(() => 1, { maxDelay: -1 }), 'backoff.maxDelay');
    expectInvalid(() => custom(() => 1, { maxDelay: Number.NaN }), 'backoff.maxDelay');
    expectInvalid(() => custom(() => 1, { cap: 5 } as never), 'backoff.custom.cap');
  });

  it('the message says what is allowed and what was given', () => {
    expect(bad({ initialDelay: -3 })).toThrow(
      'backoff.initialDelay must be a number from 0 to 2147483647; got -3',
    );
  });
});

describe('a backoff given the wrong shape names every accepted form', () => {
  it('backoff.constant("200ms"): a number of ms or { delay, maxDelay }, and no units', () => {
    const error = thrownInvalid(() => constant('200ms' as never));
    expect(error.option).toBe('backoff.constant');
    expect(error.message).toBe(
      'backoff.constant must be a delay in ms (a number from 0 to 2147483647, e.g. backoff.constant(200)) ' +
        'or { delay: ms, maxDelay?: ms } (e.g. backoff.constant({ delay: 200, maxDelay: 5_000 })); ' +
        'durations are plain numbers of milliseconds; strings such as "200ms" are not parsed; got "200ms"',
    );
  });

  it('backoff.constant with no delay or another type lists both forms', () => {
    expect(() => constant({} as never)).toThrow(
      /backoff\.delay must be given: backoff\.constant takes a delay in ms .* or \{ delay: ms, maxDelay\?: ms \}/,
    );
    expect(() => constant(null as never)).toThrow(
      /^backoff\.constant must be a delay in ms .* or \{ delay: ms, maxDelay\?: ms \}.*; got null$/,
    );
    expect(() => constant({ delay: '1s' } as never)).toThrow(
      'backoff.delay must be a number of ms from 0 to 2147483647 (durations are plain numbers of milliseconds; strings such as "200ms" are not parsed); got "1s"',
    );
  });

  it('backoff.exponential(100) and string delays say what it takes', () => {
    expect(() => exponential(100 as never)).toThrow(
      "backoff.exponential must be nothing (the defaults) or { initialDelay?: ms, maxDelay?: ms, multiplier?: number, jitter?: 'full' | 'equal' | 'decorrelated' | 'none' }",
    );
    expect(() => exponential({ maxDelay: '10s' } as never)).toThrow(
      /^backoff\.maxDelay must be a number of ms .*"200ms" are not parsed\); got "10s"$/,
    );
  });

  it('backoff.custom(100) shows the function it wants', () => {
    expect(() => custom(100 as never)).toThrow(
      'backoff.custom must be a function (retry, previousDelay) => ms (e.g. backoff.custom((retry) => retry * 100)); got 100',
    );
  });
});
