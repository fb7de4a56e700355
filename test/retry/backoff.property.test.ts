import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Backoff, constant, custom, exponential, type Jitter } from '../../src/retry/backoff.js';

const LIMIT = 2_147_483_647; // setTimeout's limit, the largest delay an option may hold

/** Valid exponential options: initialDelay ≤ maxDelay, both within the limit. */
const exponentialOptions = fc
  .record({
    a: fc.oneof(fc.double({ min: 0, max: LIMIT, noNaN: true }), fc.integer({ min: 0, max: 1_000 })),
    b: fc.oneof(fc.double({ min: 0, max: LIMIT, noNaN: true }), fc.integer({ min: 0, max: 100_000 })),
    multiplier: fc.oneof(fc.double({ min: 1, max: 1_000, noNaN: true }), fc.constantFrom(1, 1.5, 2, 1_000)),
    jitter: fc.constantFrom<Jitter>('full', 'equal', 'decorrelated', 'none'),
  })
  .map(({ a, b, multiplier, jitter }) => ({
    initialDelay: Math.min(a, b),
    maxDelay: Math.max(a, b),
    multiplier,
    jitter,
  }));

/** Retry numbers, small and huge (overflow of multiplier^(n−1) must saturate). */
const retryNumber = fc.oneof(
  fc.integer({ min: 1, max: 64 }),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(1_024, 1e6, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.POSITIVE_INFINITY),
);

/** Previous delays: anything the caller might pass, sane or not. */
const previousDelay = fc.oneof(
  fc.double({ min: 0, max: LIMIT, noNaN: true }),
  fc.double(), // includes NaN, ±Infinity, negatives
);

/** Uniform draws in [0, 1), with 0 and the largest double below 1 among them. */
const unitDraw = fc.oneof(
  fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  fc.constantFrom(0, 1 - Number.EPSILON / 2, Number.MIN_VALUE),
);

/** A random source replaying `draws` in a loop. */
function replay(draws: readonly number[]): () => number {
  let i = 0;
  return () => draws[i++ % draws.length] ?? 0;
}

/** mulberry32: a tiny seeded generator, so statistical checks are deterministic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The un-jittered delay d = min(maxDelay, initialDelay × multiplier^(n−1)) for finite n ≥ 1. */
function cap(o: { initialDelay: number; maxDelay: number; multiplier: number }, n: number): number {
  // 0 × ∞ (initialDelay 0 with a huge power) is 0: nothing to grow.
  const grown = o.initialDelay === 0 ? 0 : o.initialDelay * o.multiplier ** (n - 1);
  return Math.min(o.maxDelay, grown);
}

const inRange = (b: Backoff, d: number) => Number.isFinite(d) && d >= 0 && d <= b.maxDelay;

describe('backoff properties', () => {
  it('every exponential delay lies in [0, maxDelay], for any valid options, retry and random source', () => {
    fc.assert(
      fc.property(
        exponentialOptions,
        retryNumber,
        previousDelay,
        fc.array(unitDraw, { minLength: 1, maxLength: 4 }),
        (options, n, previous, draws) => {
          const b = exponential(options);
          const d = b.delay(n, previous, replay(draws));
          expect(inRange(b, d), `delay ${d}`).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('a chain of delays, each fed back as the previous one, stays in [0, maxDelay]', () => {
    fc.assert(
      fc.property(
        exponentialOptions,
        fc.array(unitDraw, { minLength: 1, maxLength: 40 }),
        (options, draws) => {
          const b = exponential(options);
          const random = replay(draws);
          let previous = 0;
          for (let n = 1; n <= draws.length; n++) {
            previous = b.delay(n, previous, random);
            expect(inRange(b, previous), `retry ${n}: ${previous}`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("'none' is exactly d, 'full' lies in [0, d], 'equal' in [d/2, d]", () => {
    fc.assert(
      fc.property(exponentialOptions, fc.integer({ min: 1, max: 2_000 }), unitDraw, (options, n, r) => {
        const d = cap(options, n);
        const none = exponential({ ...options, jitter: 'none' }).delay(n, 0, () => r);
        const full = exponential({ ...options, jitter: 'full' }).delay(n, 0, () => r);
        const equal = exponential({ ...options, jitter: 'equal' }).delay(n, 0, () => r);
        expect(none).toBe(d);
        expect(full).toBeGreaterThanOrEqual(0);
        expect(full).toBeLessThanOrEqual(d);
        expect(equal).toBeGreaterThanOrEqual(d / 2);
        expect(equal).toBeLessThanOrEqual(d);
      }),
      { numRuns: 500 },
    );
  });

  it("'decorrelated' is never below initialDelay nor above maxDelay or 3 × max(previous, initialDelay)", () => {
    fc.assert(
      fc.property(exponentialOptions, retryNumber, previousDelay, unitDraw, (options, n, previous, r) => {
        const b = exponential({ ...options, jitter: 'decorrelated' });
        const d = b.delay(n, previous, () => r);
        expect(d).toBeGreaterThanOrEqual(options.initialDelay);
        expect(d).toBeLessThanOrEqual(options.maxDelay);
        const base = Number.isNaN(previous) ? options.initialDelay : Math.max(previous, options.initialDelay);
        expect(d).toBeLessThanOrEqual(Math.max(options.initialDelay, 3 * base));
      }),
      { numRuns: 500 },
    );
  });

  it("full jitter's mean is half its cap, equal jitter's three quarters (deterministic seeded sample)", () => {
    // 20 000 uniform draws: the standard error of the mean is cap / √(12 × 20 000) ≈ 0.2 % of
    // the cap, so a 2 % tolerance is ten standard errors; the seeded source makes it exact anyway.
    fc.assert(
      fc.property(
        // Delays of at least 1 ms: in subnormal numbers a relative tolerance means nothing.
        exponentialOptions.filter((o) => o.initialDelay >= 1),
        fc.integer({ min: 1, max: 60 }),
        fc.integer(),
        (options, n, seed) => {
          const full = exponential({ ...options, jitter: 'full' });
          const equal = exponential({ ...options, jitter: 'equal' });
          const d = cap(options, n);
          const random = seeded(seed);
          let sumFull = 0;
          let sumEqual = 0;
          const samples = 20_000;
          for (let i = 0; i < samples; i++) {
            sumFull += full.delay(n, 0, random);
            sumEqual += equal.delay(n, 0, random);
          }
          expect(Math.abs(sumFull / samples - d / 2)).toBeLessThanOrEqual(0.02 * d);
          expect(Math.abs(sumEqual / samples - (3 * d) / 4)).toBeLessThanOrEqual(0.02 * d);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("full jitter's mean with Math.random is about half the cap (generous tolerance)", () => {
    // 100 000 draws: a 5 % tolerance is about 55 standard errors, which cannot flake.
    const b = exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'full' });
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += b.delay(4, 0);
    expect(sum / 100_000).toBeGreaterThan(400 * 0.95);
    expect(sum / 100_000).toBeLessThan(400 * 1.05);
  });

  it('constant delays lie in [0, maxDelay]', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: LIMIT, noNaN: true }),
        fc.double({ min: 0, max: LIMIT, noNaN: true }),
        retryNumber,
        previousDelay,
        (a, b, n, previous) => {
          const strategy = constant({ delay: Math.min(a, b), maxDelay: Math.max(a, b) });
          const d = strategy.delay(n, previous);
          expect(d).toBe(Math.min(a, b));
          expect(inRange(strategy, d)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('custom delays are clamped to [0, maxDelay]; NaN waits maxDelay', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.constantFrom(Number.NaN, -0, Number.MAX_VALUE)),
        fc.double({ min: 0, max: LIMIT, noNaN: true }),
        (value, maxDelay) => {
          const strategy = custom(() => value, { maxDelay });
          const d = strategy.delay(1, 0);
          expect(inRange(strategy, d)).toBe(true);
          const expected = Number.isNaN(value) ? maxDelay : Math.min(Math.max(value, 0), maxDelay);
          expect(d).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});
