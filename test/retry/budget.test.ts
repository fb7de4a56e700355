import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { isRetryBudget, retryBudget } from '../../src/retry/budget.js';
import { expectInvalid } from '../support/invalid.js';

/** A synchronous injected clock: the budget only reads `now()`. */
class StepClock implements Clock {
  constructor(public t = 0) {}
  now(): number {
    return this.t;
  }
  setTimeout(): never {
    throw new Error('the budget sets no timers');
  }
  clearTimeout(): void {}
}

/**
 * Grants retries until the budget refuses; returns how many it granted. `_t` names the
 * time for the reader: the budget reads its own clock, which the caller has set to it.
 */
function drain(budget: ReturnType<typeof retryBudget>, _t: number, limit = 100_000): number {
  let granted = 0;
  while (granted < limit && budget.tryRetry()) granted++;
  return granted;
}

describe('retryBudget, ratio mode', () => {
  it('defaults: 10 % of requests plus 10 retries per second over 10 s', () => {
    const clock = new StepClock(0);
    const budget = retryBudget({ clock });
    expect(budget.kind).toBe('ratio');
    // No traffic: the floor alone, 10/s × 10 s.
    expect(budget.available()).toBe(100);
    for (let i = 0; i < 1_000; i++) budget.onRequest();
    clock.t = 1;
    expect(budget.available()).toBe(200); // 10 % of 1 000 + 100
    expect(drain(budget, 1)).toBe(200);
    expect(budget.available()).toBe(0);
  });

  it('retries leave the window after windowMs and the floor comes back', () => {
    const clock = new StepClock(0);
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 10_000, clock });
    expect(drain(budget, 0)).toBe(10);
    clock.t = 9_999;
    expect(budget.tryRetry()).toBe(false);
    // Retries are kept one bucket (1 s) longer than the window, so they surely count while
    // younger than windowMs; at 11 s the bucket of t = 0 is gone.
    clock.t = 11_000;
    expect(drain(budget, 11_000)).toBe(10);
  });

  it('requests older than the window stop funding retries', () => {
    const clock = new StepClock(0);
    const budget = retryBudget({ ratio: 1, minPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 64; i++) budget.onRequest();
    clock.t = 500;
    expect(budget.available()).toBe(64);
    clock.t = 1_000; // the bucket of t = 0 has left the window
    expect(budget.available()).toBe(0);
    expect(budget.tryRetry()).toBe(false);
  });

  it('a ratio of 0 and a floor of 0 refuse every retry', () => {
    const clock = new StepClock(0);
    const budget = retryBudget({ ratio: 0, minPerSecond: 0, clock });
    for (let i = 0; i < 1_000; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(false);
  });

  it('success and failure do not move the ratio budget', () => {
    const clock = new StepClock(0);
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1_000, clock });
    for (let i = 0; i < 10; i++) budget.onFailure();
    budget.onSuccess();
    expect(drain(budget, 0)).toBe(1);
  });

  it('is recognised by isRetryBudget', () => {
    expect(isRetryBudget(retryBudget())).toBe(true);
    expect(isRetryBudget(retryBudget({ maxTokens: 10, tokenRatio: 0.1 }))).toBe(true);
    expect(isRetryBudget({ tryRetry: () => true })).toBe(false);
  });

  it('under steady traffic it allows close to ratio × requests + floor (not uselessly conservative)', () => {
    // 1 000 requests/s for 60 s, and a demand of two retries per request (far above the
    // budget). Once the window is full, the ideal is 10 % × 10 000 + 10/s × 10 s = 1 100
    // retries per 10 s. Requests are booked in batches and the buckets make the window err
    // on the safe side, so a little less is granted; it must still be at least 80 %.
    for (const rate of [1_000, 100]) {
      const clock = new StepClock(0);
      const budget = retryBudget({ clock });
      let lastTen = 0;
      const step = 1_000 / rate;
      for (let i = 0; i < 60 * rate; i++) {
        const t = i * step;
        clock.t = t;
        budget.onRequest();
        for (let k = 0; k < 2; k++) if (budget.tryRetry() && t >= 50_000) lastTen++;
      }
      const ideal = 0.1 * rate * 10 + 100;
      expect(lastTen, `rate ${rate}/s`).toBeGreaterThanOrEqual(0.8 * ideal);
      expect(lastTen, `rate ${rate}/s`).toBeLessThanOrEqual(ideal);
    }
  });

  it('low traffic is counted too: the ratio is not lost when requests trickle in', () => {
    // 2 requests/s with no floor: 20 requests in any 10 s window fund 10 retries. Requests
    // booked in batches of 32 spanning 16 s would all fall out of the window unseen.
    const clock = new StepClock(0);
    const budget = retryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 10_000, clock });
    for (let i = 0; i < 100; i++) budget.onRequest(); // a burst first (batched), then a trickle
    for (let i = 1; i < 60; i++) {
      clock.t = i * 500;
      budget.onRequest();
    }
    clock.t = 30_000;
    const granted = drain(budget, 30_000);
    expect(granted).toBeGreaterThanOrEqual(8); // at least 80 % of ratio × requests
    expect(granted).toBeLessThanOrEqual(10);
  });

  it('under heavy traffic most requests do not read the clock', () => {
    let reads = 0;
    const clock = new StepClock(0);
    const counting: Clock = {
      now: () => {
        reads++;
        return clock.t;
      },
      setTimeout: () => 0,
      clearTimeout: () => {},
    };
    const budget = retryBudget({ clock: counting });
    reads = 0;
    for (let i = 0; i < 32_000; i++) {
      if (i % 1_000 === 0) clock.t += 1; // 1 000 requests per ms
      budget.onRequest();
    }
    expect(reads).toBeLessThan(32_000 / 16);
  });
});

/** One step of a schedule: time passes, then `count` requests or one retry request. */
type Step = { dt: number; kind: 'request' | 'retry'; count: number };

/** Steps scaled to the window, so that gaps land near bucket and window edges. */
function steps(windowMs: number, requestWeight: number): fc.Arbitrary<Step[]> {
  const bucket = windowMs / 10;
  const dt = fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: Math.ceil(bucket / 2) }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: Math.ceil(windowMs * 1.2) }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(bucket, windowMs), fc.integer({ min: -2, max: 2 }))
        .map(([edge, d]) => Math.max(0, Math.round(edge) + d)),
    },
  );
  const step = fc.record({
    dt,
    kind: fc.oneof(
      { weight: requestWeight, arbitrary: fc.constant<Step['kind']>('request') },
      { weight: 2, arbitrary: fc.constant<Step['kind']>('retry') },
    ),
    // Bursts of requests cross the batch size of 32 in which requests are folded into the
    // window; bursts of retries drain the budget.
    count: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 70 })),
  });
  return fc.array(step, { minLength: 1, maxLength: 300 });
}

/** Index of the first element ≥ x in an ascending array. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

describe('retryBudget, ratio mode: property', () => {
  it('at every granted retry, retries in the trailing window ≤ ratio × requests in it + floor', () => {
    // "Over any window the budget allows no more retries than ratio × requests + floor ×
    // window" is checked for windows [t − windowMs, t] that END AT A GRANTED RETRY. For an
    // arbitrary window it cannot hold: requests just before the window legitimately fund a
    // retry inside it, and the window may then cut those requests off while keeping the retry.
    const options = fc.record({
      ratio: fc.oneof(fc.constantFrom(0, 0.1, 0.5, 1, 2), fc.double({ min: 0, max: 3, noNaN: true })),
      minPerSecond: fc.oneof(fc.constantFrom(0, 0, 0.1, 1, 10), fc.double({ min: 0, max: 20, noNaN: true })),
      windowMs: fc.oneof(fc.constantFrom(10, 1_000, 10_000), fc.integer({ min: 10, max: 20_000 })),
    });
    // Retry-heavy schedules, and request-heavy ones where long trickles of requests come
    // between two retry steps (and so between two folds).
    const scenario = fc
      .tuple(options, fc.constantFrom(1, 16, 60))
      .chain(([o, requestWeight]) =>
        fc.tuple(fc.constant(o), fc.integer({ min: 0, max: 1e12 }), steps(o.windowMs, requestWeight)),
      );
    fc.assert(
      fc.property(scenario, ([{ ratio, minPerSecond, windowMs }, start, schedule]) => {
        const clock = new StepClock(start);
        const budget = retryBudget({ ratio, minPerSecond, windowMs, clock });
        const floor = (minPerSecond * windowMs) / 1_000;
        // Times only grow, so both lists stay sorted.
        const requests: number[] = [];
        const granted: number[] = [];
        for (const s of schedule) {
          clock.t += s.dt;
          const t = clock.t;
          if (s.kind === 'request') {
            for (let i = 0; i < s.count; i++) {
              requests.push(t);
              budget.onRequest();
            }
            continue;
          }
          // A retry step asks `count` times: bursts of retries drain the budget to its edge.
          for (let i = 0; i < s.count; i++) {
            if (!budget.tryRetry()) break;
            granted.push(t);
            const retries = granted.length - lowerBound(granted, t - windowMs);
            const funded = ratio * (requests.length - lowerBound(requests, t - windowMs)) + floor;
            if (retries > funded)
              expect.fail(`at t=${t}: ${retries} retries in the window, funded ${funded}`);
          }
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('it grants at least the floor when nothing else was granted in the window', () => {
    // The other direction, loosely: with no requests at all, a budget with a floor of f
    // retries per window grants ⌊f⌋ retries in a burst after a quiet window.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 10, max: 20_000 }),
        fc.integer({ min: 0, max: 1e9 }),
        (minPerSecond, windowMs, start) => {
          const clock = new StepClock(start);
          const budget = retryBudget({ ratio: 0.1, minPerSecond, windowMs, clock });
          const floor = (minPerSecond * windowMs) / 1_000;
          expect(drain(budget, start)).toBe(Math.floor(floor));
          clock.t = start + 2 * windowMs;
          expect(drain(budget, clock.t)).toBe(Math.floor(floor));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('retryBudget options are validated at construction', () => {
  it.each([
    ['ratio', -0.1],
    ['ratio', Number.NaN],
    ['ratio', '0.1'],
    ['ratio', 1_001],
    ['minPerSecond', -1],
    ['minPerSecond', Number.POSITIVE_INFINITY],
    ['minPerSecond', null],
    ['windowMs', 9],
    ['windowMs', 0],
    ['windowMs', Number.NaN],
    ['windowMs', 86_400_001],
    ['windowMs', '10s'],
  ])('ratio mode: %s = %j', (key, value) => {
    expectInvalid(() => retryBudget({ [key]: value } as never), `retryBudget.${key}`);
  });

  it('ratio mode: unknown keys, a non-object, a clock that is not a clock', () => {
    expectInvalid(() => retryBudget({ ratio: 0.1, window: 10 } as never), 'retryBudget.window');
    expectInvalid(() => retryBudget(null as never), 'retryBudget');
    expectInvalid(() => retryBudget(0.1 as never), 'retryBudget');
    expectInvalid(() => retryBudget({ clock: {} } as never), 'retryBudget.clock');
    expectInvalid(() => retryBudget({ clock: Date.now } as never), 'retryBudget.clock');
  });

  it('messages name the option and the allowed range', () => {
    expect(() => retryBudget({ windowMs: 5 })).toThrow(
      'retryBudget.windowMs must be a number from 10 to 86400000; got 5',
    );
    expect(() => retryBudget({ ratio: -1 })).toThrow(/retryBudget\.ratio must be a number from 0 to 1000/);
  });
});
