import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ABSOLUTE_ERROR_MS,
  LatencyQuantile,
  MAX_LATENCY_MS,
  RELATIVE_ERROR,
  RELATIVE_ERROR_FLOOR_MS,
  rankOf,
} from '../../src/hedge/latency-quantile.js';

/** The exact nearest-rank quantile of `values`, clamped as the estimator clamps them. */
function exact(values: readonly number[], q: number): number {
  const sorted = values
    .filter((v) => !Number.isNaN(v))
    .map((v) => Math.min(Math.max(v, 0), MAX_LATENCY_MS))
    .sort((a, b) => a - b);
  return sorted[rankOf(q, sorted.length) - 1] as number;
}

/** The documented bound: never below x, and at most x/32 (or 2⁻¹¹ ms below 2⁻⁶ ms) above it. */
function expectWithinError(estimate: number | undefined, x: number): void {
  expect(estimate).toBeDefined();
  const e = estimate as number;
  expect(e).toBeGreaterThanOrEqual(x);
  expect(e).toBeLessThanOrEqual(MAX_LATENCY_MS);
  if (x >= RELATIVE_ERROR_FLOOR_MS) expect(e).toBeLessThanOrEqual(x * (1 + RELATIVE_ERROR));
  else expect(e - x).toBeLessThanOrEqual(ABSOLUTE_ERROR_MS);
}

/** Latencies as they come: loopback (tens of µs), services (ms), stragglers (s), and the edges. */
const latency = fc.oneof(
  fc.double({ min: 0, max: 0.05, noNaN: true }),
  fc.double({ min: 0, max: 50, noNaN: true }),
  // log-uniform over the whole range
  fc.double({ min: -12, max: 31, noNaN: true }).map((e) => 2 ** e),
  fc.integer({ min: 0, max: 10_000 }),
  fc.constantFrom(
    0,
    RELATIVE_ERROR_FLOOR_MS,
    RELATIVE_ERROR_FLOOR_MS - Number.EPSILON,
    1,
    2,
    1024,
    MAX_LATENCY_MS,
    MAX_LATENCY_MS + 1,
    Number.POSITIVE_INFINITY,
    -5,
    Number.MIN_VALUE,
  ),
);

const quantile = fc.oneof(
  fc.double({ min: 0, max: 1, minExcluded: true, noNaN: true }),
  fc.constantFrom(0.5, 0.9, 0.95, 0.99, 0.999, 1, Number.MIN_VALUE),
);

describe('LatencyQuantile', () => {
  it('estimates any quantile within the documented error of the exact one', () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 400 }), quantile, (values, q) => {
        const estimator = new LatencyQuantile();
        for (const v of values) estimator.record(v, 1_000);
        expectWithinError(estimator.quantile(q, 1_000), exact(values, q));
      }),
      { numRuns: 500 },
    );
  });

  it('estimates a heavy-tailed workload (2% at 50x the median) within the error at p50 ... p99.9', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
          {
            minLength: 1_000,
            maxLength: 3_000,
          },
        ),
        fc.double({ min: 0.05, max: 20, noNaN: true }),
        (draws, median) => {
          const values = draws.map(([slow, jitter]) =>
            slow < 0.02 ? 50 * median * (1 + jitter) : median * (0.75 + jitter / 2),
          );
          const estimator = new LatencyQuantile();
          for (const v of values) estimator.record(v, 5_000);
          for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
            expectWithinError(estimator.quantile(q, 5_000), exact(values, q));
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('ignores NaN', () => {
    const estimator = new LatencyQuantile();
    estimator.record(Number.NaN, 0);
    expect(estimator.count(0)).toBe(0);
    expect(estimator.quantile(0.5, 0)).toBeUndefined();
    estimator.record(3, 0);
    expect(estimator.count(0)).toBe(1);
  });

  it('answers undefined until the window holds minSamples samples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), (minSamples) => {
        const estimator = new LatencyQuantile({ minSamples });
        for (let i = 1; i < minSamples; i++) {
          estimator.record(i, 0);
          expect(estimator.quantile(0.95, 0)).toBeUndefined();
        }
        estimator.record(minSamples, 0);
        expect(estimator.quantile(0.95, 0)).toBeDefined();
      }),
      { numRuns: 50 },
    );
  });

  it('keeps a fixed amount of memory, however many samples it sees', () => {
    fc.assert(
      fc.property(
        fc.array(latency, { minLength: 1, maxLength: 2_000 }),
        fc.integer({ min: 1, max: 50 }),
        (values, step) => {
          const estimator = new LatencyQuantile({ windowMs: 1_000 });
          expect(estimator.bytes).toBe(0);
          let now = 0;
          for (const v of values) {
            estimator.record(v, now);
            now += step;
            expect(estimator.bytes).toBe(LatencyQuantile.BYTES);
          }
        },
      ),
      { numRuns: 100 },
    );
    // The figure the docs quote: about 25 KB.
    expect(LatencyQuantile.BYTES).toBeLessThan(26_000);
  });

  it('ages samples out: each counts while its slot is younger than 4 slots of windowMs / 4', () => {
    // Samples at non-decreasing times; after each one, count and quantile match the samples
    // whose slot is among the newest 4 (so each counts for 3/4 to all of windowMs).
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 100_000 }),
        fc.array(
          fc.tuple(
            latency,
            // Gaps in 32nds of the window (so ages land on and around every slot edge), and
            // arbitrary ones up to twice the window.
            fc.oneof(
              fc.integer({ min: 0, max: 48 }).map((k) => k / 32),
              fc.double({ min: 0, max: 2, noNaN: true }),
            ),
            quantile,
          ),
          { minLength: 1, maxLength: 200 },
        ),
        (windowMs, steps) => {
          const estimator = new LatencyQuantile({ windowMs });
          const slotMs = windowMs / 4;
          const seen: { value: number; at: number }[] = [];
          let now = 1_700_000_000_000;
          for (const [value, gap, q] of steps) {
            now += gap * windowMs;
            estimator.record(value, now);
            seen.push({ value, at: now });
            const epoch = Math.floor(now / slotMs);
            const live = seen.filter((s) => epoch - Math.floor(s.at / slotMs) < 4);
            expect(estimator.count(now)).toBe(live.filter((s) => !Number.isNaN(s.value)).length);
            for (const s of seen) {
              const age = now - s.at;
              if (age < 0.75 * windowMs - 1e-6 * windowMs) expect(live).toContain(s);
              if (age >= windowMs) expect(live).not.toContain(s);
            }
            expectWithinError(
              estimator.quantile(q, now),
              exact(
                live.map((s) => s.value),
                q,
              ),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('forgets everything after a quiet spell longer than the window', () => {
    const estimator = new LatencyQuantile({ windowMs: 1_000, minSamples: 3 });
    for (let i = 0; i < 100; i++) estimator.record(500, 10_000);
    expect(estimator.quantile(0.5, 10_000)).toBeGreaterThanOrEqual(500);
    expect(estimator.count(11_000)).toBe(0);
    expect(estimator.quantile(0.5, 11_000)).toBeUndefined();
    for (let i = 0; i < 3; i++) estimator.record(2, 11_000);
    expectWithinError(estimator.quantile(0.5, 11_000), 2);
  });

  it('books samples to the newest slot when the clock steps back', () => {
    const estimator = new LatencyQuantile({ windowMs: 1_000 });
    estimator.record(10, 5_000);
    estimator.record(20, 4_000); // earlier than the last sample
    expect(estimator.count(5_000)).toBe(2);
    // Both leave with the newest slot, the one of t = 5000.
    expect(estimator.count(5_999)).toBe(2);
    expect(estimator.count(6_000)).toBe(0);
  });

  it('survives times that are not finite', () => {
    const estimator = new LatencyQuantile({ windowMs: 1_000 });
    estimator.record(10, Number.NaN);
    estimator.record(10, Number.POSITIVE_INFINITY);
    expect(estimator.count(Number.NaN)).toBe(2);
    estimator.record(30, 100);
    expect(estimator.count(100)).toBe(3);
    expectWithinError(estimator.quantile(1, 100), 30);
  });

  it('re-reads the same quantile without rescanning, and sees a new sample at once', () => {
    const estimator = new LatencyQuantile();
    for (let i = 1; i <= 100; i++) estimator.record(i, 0);
    const first = estimator.quantile(0.95, 0);
    expect(estimator.quantile(0.95, 0)).toBe(first);
    for (let i = 0; i < 100; i++) estimator.record(1_000, 0);
    expectWithinError(estimator.quantile(0.95, 0), 1_000);
    expectWithinError(estimator.quantile(0.25, 0), 50);
  });

  it('uses the nearest rank, with products like 0.55 x 100 kept exact', () => {
    expect(rankOf(0.95, 200)).toBe(190);
    expect(rankOf(0.55, 100)).toBe(55);
    expect(rankOf(0.5, 1)).toBe(1);
    expect(rankOf(Number.MIN_VALUE, 10)).toBe(1);
    expect(rankOf(1, 10)).toBe(10);
    expect(rankOf(0.999, 1_000)).toBe(999);
  });
});
