/**
 * Whatever it hears, an adaptive limit stays an integer within [minLimit, maxLimit], its
 * slot count stays exact, and it reports every move it makes: adversarial samples (0 ms,
 * negative, NaN and huge durations, drops, any in-flight count, a clock that steps back)
 * from random options.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AdaptiveLimitOptions, adaptiveLimit, type LimitChange } from '../../src/index.js';
import { seeded } from './support/dependency.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const options = fc
  .record({
    algorithm: fc.constantFrom('vegas', 'gradient2', 'aimd'),
    a: fc.integer({ min: 1, max: 400 }),
    b: fc.integer({ min: 1, max: 400 }),
    start: fc.double({ min: 0, max: 1, noNaN: true }),
    minMs: fc.integer({ min: 1, max: 200 }),
    minSamples: fc.integer({ min: 1, max: 20 }),
    seed: fc.integer(),
  })
  .map(({ algorithm, a, b, start, minMs, minSamples, seed }) => {
    const minLimit = Math.min(a, b);
    const maxLimit = Math.max(a, b);
    return {
      seed,
      options: {
        algorithm,
        minLimit,
        maxLimit,
        initialLimit: minLimit + Math.floor(start * (maxLimit - minLimit)),
        window: { minMs, minSamples },
      } as AdaptiveLimitOptions,
    };
  });

const sample = fc.record({
  durationMs: fc.oneof(
    fc.double({ min: 0, max: 200, noNaN: true }),
    fc.constantFrom(0, -5, Number.NaN, Number.POSITIVE_INFINITY, 1e12),
  ),
  dropped: fc.boolean(),
  inFlight: fc.integer({ min: 0, max: 800 }),
  step: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constantFrom(-10_000, 5_000)),
  acquire: fc.boolean(),
});

describe('adaptive limits stay within bounds', () => {
  it('an integer in [minLimit, maxLimit] after every sample; every move reported', () => {
    fc.assert(
      fc.property(
        options,
        fc.array(sample, { minLength: 1, maxLength: 600 }),
        ({ seed, options: o }, samples) => {
          vi.spyOn(Math, 'random').mockImplementation(seeded(seed));
          const limit = adaptiveLimit(o);
          const changes: LimitChange[] = [];
          limit.onLimitChange((c) => changes.push(c));
          let now = 1_000_000;
          let held = 0;
          let last = limit.limit;
          for (const s of samples) {
            now += s.step;
            if (s.acquire && limit.tryAcquire()) held++;
            limit.sample({ durationMs: s.durationMs, dropped: s.dropped, inFlight: s.inFlight, now });
            if (!s.acquire && held > 0) {
              limit.release();
              held--;
            }
            const value = limit.limit;
            if (!Number.isInteger(value) || value < limit.minLimit || value > limit.maxLimit) {
              expect.fail(`limit ${value} outside [${limit.minLimit}, ${limit.maxLimit}]`);
            }
            if (value !== last) {
              const change = changes.at(-1);
              expect(change).toMatchObject({ previous: last, limit: value });
              last = value;
            }
            expect(limit.active).toBe(held);
            expect(limit.maxConcurrent).toBe(value);
          }
          expect(changes.every((c) => c.previous !== c.limit)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
