/**
 * Property tests of the three algorithms on a simulated dependency (support/dependency.ts):
 * `capacity` handlers, latency flat up to `capacity` in flight and growing with the queue
 * above it, refusals past a queue bound. A client with unlimited demand runs through the
 * real `adaptiveLimit()` object (window, algorithm, admission), on simulated time.
 *
 * What each property claims, and why the models differ:
 * - From below, any queue: the delay-based algorithms ('vegas', 'gradient2') settle within
 *   20% of the capacity. Vegas keeps 3 to 6 × log10(limit) operations queued (Gradient2
 *   about `queueSize`, 4), so the capacities start at 40, where 6 plus a step is under 20%.
 * - 'aimd' reads no latency below its timeout: it finds the concurrency where the dependency
 *   starts refusing, capacity + queue bound. It is tested against dependencies that refuse
 *   past a shallow queue (at most 10% of the capacity), where that is within 20% of the
 *   capacity; with a deep queue it settles at capacity + queue (tested in algorithms.test.ts).
 * - From above: a dependency that loses capacity (from 1.5–3× down to C) part-way, and a
 *   limit that starts above a dependency that refuses past a shallow queue. A limit that
 *   starts above a dependency with a deep queue and never sees it unloaded cannot tell it
 *   from a bigger, slower one (the latency is the same), and is not claimed to converge.
 *
 * "Settles" means: over the last quarter of the run the limit's time-weighted mean lies
 * within 20% of the capacity, and the limit spends at least 90% of that time there (the
 * baseline probe halves it for two windows now and then).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AdaptiveLimitOptions, adaptiveLimit } from '../../src/index.js';
import type { LimitAlgorithmName } from '../../src/limit/algorithm.js';
import { type DependencyModel, limitStats, seeded, simulate, type Trace } from './support/dependency.js';

const START = 1_000_000;
/** Runs per property; LIMIT_RUNS=100 for a deeper (slower) search. */
const RUNS = Number(process.env.LIMIT_RUNS ?? 8);
/** Each run simulates minutes of traffic (about a second of CPU for the longest). */
const TIMEOUT = 30_000 + RUNS * 10_000;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Builds the limit with a seeded Math.random (the probe's jitter), so a failure replays. */
function limitFor(seed: number, options: AdaptiveLimitOptions) {
  vi.spyOn(Math, 'random').mockImplementation(seeded(seed ^ 0x5bd1e995));
  return adaptiveLimit(options);
}

/** Checks the limit settled within 20% of `capacity` over the last quarter of [0, end). */
function expectSettled(trace: Trace, end: number, capacity: number, label: string): void {
  const stats = limitStats(trace, START + 0.75 * end, START + end);
  const low = 0.8 * capacity;
  const high = 1.2 * capacity;
  const within = stats.within(low, high);
  const ok = stats.mean >= low && stats.mean <= high && within >= 0.9;
  if (!ok) {
    expect.fail(
      `${label}: capacity ${capacity}, last quarter mean ${stats.mean.toFixed(1)} ` +
        `[${stats.min}, ${stats.max}], ${(within * 100).toFixed(0)}% of the time within ±20%`,
    );
  }
}

const dependency = (queue: 'deep' | 'shallow') =>
  fc
    .record({
      capacity: fc.integer({ min: 40, max: 100 }),
      serviceMs: fc.integer({ min: 10, max: 40 }),
      jitter: fc.double({ min: 0, max: 0.4, noNaN: true }),
      queueShare:
        queue === 'deep'
          ? fc.double({ min: 1, max: 4, noNaN: true })
          : fc.double({ min: 0, max: 0.1, noNaN: true }),
      seed: fc.integer(),
    })
    .map(({ capacity, serviceMs, jitter, queueShare, seed }) => ({
      model: {
        capacity,
        serviceMs,
        jitter,
        queueBound: Math.floor(queueShare * capacity),
        refusalMs: 1,
      } satisfies DependencyModel,
      seed,
    }));

const DELAY_BASED: LimitAlgorithmName[] = ['vegas', 'gradient2'];
const ALL: LimitAlgorithmName[] = ['vegas', 'gradient2', 'aimd'];

describe('adaptive limits converge on a simulated dependency', () => {
  for (const algorithm of ALL) {
    const queue = algorithm === 'aimd' ? 'shallow' : 'deep';

    it(
      `${algorithm}: from below, to within 20% of the capacity (${queue} queue)`,
      () => {
        fc.assert(
          fc.property(
            dependency(queue),
            fc.double({ min: 0, max: 0.5, noNaN: true }),
            ({ model, seed }, start) => {
              const initialLimit = Math.max(1, Math.floor(start * model.capacity));
              const limit = limitFor(seed, { algorithm, initialLimit, maxLimit: 1_000 });
              const durationMs = 60_000;
              const trace = simulate(limit, model, durationMs, seeded(seed), { start: START });
              expectSettled(trace, durationMs, model.capacity, `${algorithm} from ${initialLimit}`);
            },
          ),
          { numRuns: RUNS },
        );
      },
      TIMEOUT,
    );

    it(
      `${algorithm}: from above, when the dependency loses capacity (${queue} queue)`,
      () => {
        fc.assert(
          fc.property(
            dependency(queue),
            fc.double({ min: 1.5, max: 3, noNaN: true }),
            ({ model, seed }, factor) => {
              const before: DependencyModel = {
                ...model,
                capacity: Math.round(factor * model.capacity),
                queueBound: Math.round(factor * model.queueBound),
              };
              const limit = limitFor(seed, { algorithm, maxLimit: 1_000 });
              const durationMs = 90_000;
              const trace = simulate(limit, before, durationMs, seeded(seed), {
                start: START,
                phases: [{ at: 40_000, model }],
              });
              // It had found the larger capacity before the loss.
              expect(limitStats(trace, START + 30_000, START + 40_000).mean).toBeGreaterThan(
                1.2 * model.capacity,
              );
              expectSettled(
                trace,
                durationMs,
                model.capacity,
                `${algorithm} after ${before.capacity} → ${model.capacity}`,
              );
            },
          ),
          { numRuns: RUNS },
        );
      },
      TIMEOUT,
    );

    it(
      `${algorithm}: from above, starting over a dependency that refuses past a shallow queue`,
      () => {
        fc.assert(
          fc.property(
            dependency('shallow'),
            fc.double({ min: 1.5, max: 4, noNaN: true }),
            ({ model, seed }, factor) => {
              const initialLimit = Math.round(factor * model.capacity);
              const limit = limitFor(seed, { algorithm, initialLimit, maxLimit: 1_000 });
              const durationMs = 90_000;
              const trace = simulate(limit, model, durationMs, seeded(seed), { start: START });
              expectSettled(trace, durationMs, model.capacity, `${algorithm} from ${initialLimit}`);
            },
          ),
          { numRuns: RUNS },
        );
      },
      TIMEOUT,
    );
  }

  for (const algorithm of DELAY_BASED) {
    it(
      `${algorithm}: follows a dependency whose base latency changes, up and down`,
      () => {
        fc.assert(
          fc.property(
            dependency('deep'),
            fc.double({ min: 1.5, max: 3, noNaN: true }),
            ({ model, seed }, factor) => {
              const slower: DependencyModel = { ...model, serviceMs: model.serviceMs * factor };
              const limit = limitFor(seed, { algorithm, maxLimit: 1_000 });
              const durationMs = 300_000;
              const trace = simulate(limit, model, durationMs, seeded(seed), {
                start: START,
                phases: [
                  { at: 60_000, model: slower },
                  { at: 180_000, model },
                ],
              });
              // Same handlers, slower or faster: the right concurrency is the capacity throughout.
              expectSettled(trace, 180_000, model.capacity, `${algorithm} slowed ×${factor.toFixed(2)}`);
              expectSettled(trace, durationMs, model.capacity, `${algorithm} recovered`);
            },
          ),
          { numRuns: RUNS },
        );
      },
      TIMEOUT,
    );
  }
});
