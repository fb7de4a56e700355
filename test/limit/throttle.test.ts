/**
 * The adaptive throttle: the SRE book's rejection probability over a time-bucketed window,
 * the draw through the caller's `random`, the window sliding on the caller's clock, and its
 * cheap `ThrottledError`.
 */
import { types } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaptiveThrottle, BreakwaterError, isBreakwaterError, ThrottledError } from '../../src/index.js';
import { isThrottle } from '../../src/limit/throttle.js';
import { seeded } from './support/dependency.js';

const T0 = 1_200_000; // a bucket boundary for the default 10 s buckets

/** Runs `requests` attempts at `now`, the first `accepts` of them accepted (all let through). */
function traffic(
  t: ReturnType<typeof adaptiveThrottle>,
  now: number,
  requests: number,
  accepts: number,
): void {
  for (let i = 0; i < requests; i++) {
    expect(t.allow(() => 1 - Number.EPSILON, now)).toBe(true);
    t.record(i < accepts, now);
  }
}

/** The SRE book's formula. */
const formula = (requests: number, accepts: number, k: number) =>
  Math.max(0, (requests - k * accepts) / (requests + 1));

describe('adaptiveThrottle', () => {
  it('defaults: k 2, a 2-minute window, 20 requests before it may reject', () => {
    const t = adaptiveThrottle();
    expect([t.k, t.windowMs, t.minRequests]).toEqual([2, 120_000, 20]);
    expect(t.snapshot(T0)).toEqual({ requests: 0, accepts: 0, probability: 0 });
  });

  it('the probability is max(0, (requests − k × accepts) / (requests + 1)) over the window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 1, max: 5, noNaN: true }),
        fc.integer({ min: 0, max: 50 }),
        (requests, acceptShare, k, minRequests) => {
          const accepts = Math.floor(acceptShare * requests);
          const t = adaptiveThrottle({ k, minRequests });
          traffic(t, T0, requests, accepts);
          const expected = requests < minRequests ? 0 : formula(requests, accepts, k);
          const snapshot = t.snapshot(T0);
          expect(snapshot.requests).toBe(requests);
          expect(snapshot.accepts).toBe(accepts);
          expect(snapshot.probability).toBeCloseTo(expected, 12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects exactly when the draw falls below the probability, and counts the attempt either way', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (requests, acceptShare, draw) => {
          const accepts = Math.floor(acceptShare * requests);
          const t = adaptiveThrottle();
          traffic(t, T0, requests, accepts);
          const p = formula(requests, accepts, 2);
          expect(t.allow(() => draw, T0)).toBe(!(draw < p));
          expect(t.snapshot().requests).toBe(requests + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never rejects while every attempt is accepted, nor below minRequests', () => {
    const healthy = adaptiveThrottle({ k: 1 });
    traffic(healthy, T0, 1_000, 1_000);
    expect(healthy.snapshot().probability).toBe(0);
    const young = adaptiveThrottle({ minRequests: 50 });
    traffic(young, T0, 49, 0);
    expect(young.allow(() => 0, T0)).toBe(true);
    expect(young.allow(() => 0, T0)).toBe(false); // the 51st sees 50 requests, none accepted
  });

  it('counts leave the window a bucket at a time, on the caller clock', () => {
    const t = adaptiveThrottle({ windowMs: 120_000, buckets: 12 });
    traffic(t, T0, 100, 0); // bucket [T0, T0 + 10 s)
    traffic(t, T0 + 60_000, 50, 50);
    expect(t.snapshot(T0 + 119_999)).toMatchObject({ requests: 150, accepts: 50 });
    expect(t.snapshot(T0 + 120_000)).toMatchObject({ requests: 50, accepts: 50, probability: 0 });
    expect(t.snapshot(T0 + 180_000)).toMatchObject({ requests: 0, accepts: 0 });
  });

  it('a clock that steps back neither loses counts nor throws', () => {
    const t = adaptiveThrottle();
    traffic(t, T0 + 30_000, 40, 0);
    traffic(t, T0, 10, 10); // counted in the newest bucket
    expect(t.snapshot(T0)).toMatchObject({ requests: 50, accepts: 10 });
  });

  it('sheds while the dependency refuses, and lets traffic back gradually once it recovers', () => {
    // 100 attempts/s. Locally rejected attempts count as requests, so after an outage the
    // share let through grows by about e every windowMs / 2 (60 s): recovery from a total
    // outage takes minutes, not seconds (docs/limits.md says so).
    const t = adaptiveThrottle();
    const random = seeded(42);
    let sent = 0;
    let now = T0;
    for (let i = 0; i < 1_000; i++, now += 10) {
      if (t.allow(random, now)) {
        sent++;
        t.record(false, now);
      }
    }
    expect(sent).toBeLessThan(100);
    expect(t.snapshot(now).probability).toBeGreaterThan(0.95);
    const perMinute: number[] = [];
    const probability: number[] = [];
    for (let minute = 0; minute < 15; minute++) {
      let through = 0;
      for (let i = 0; i < 6_000; i++, now += 10) {
        if (t.allow(random, now)) {
          through++;
          t.record(true, now);
        }
      }
      perMinute.push(through);
      probability.push(t.snapshot(now).probability);
    }
    // It lets more through every minute until nothing is rejected...
    const done = probability.indexOf(0);
    expect(done).toBeGreaterThan(1);
    expect(done).toBeLessThan(10);
    for (let m = 1; m <= done; m++) expect(perMinute[m]).toBeGreaterThan(perMinute[m - 1] as number);
    // ...and then stays open.
    expect(probability.slice(done).every((p) => p === 0)).toBe(true);
    expect(perMinute.at(-1)).toBe(6_000);
  });

  it('rejects with a cheap ThrottledError: code, name, message, probability, brand, no stack captured', () => {
    const t = adaptiveThrottle();
    traffic(t, T0, 40, 10);
    expect(t.allow(() => 0, T0)).toBe(false);
    const error = t.rejection();
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(isBreakwaterError(error)).toBe(true);
    const p = formula(40, 10, 2);
    expect(error).toMatchObject({ code: 'BREAKWATER_THROTTLED', name: 'ThrottledError', probability: p });
    expect(error.message).toBe(
      'Throttled: the dependency accepted too few requests recently (rejecting 49% locally)',
    );
    expect(types.isNativeError(error)).toBe(false);
    expect(Object.getOwnPropertyNames(error)).not.toContain('stack');
    expect(error.stack).toBe(`ThrottledError: ${error.message}`);
    expect(String(error)).toBe(`ThrottledError: ${error.message}`);
    error.message = 'changed';
    expect(error.message).toBe('changed');
    expect(t.rejection().message).toContain('Throttled');
  });

  it('isThrottle tells a throttle from other values', () => {
    expect(isThrottle(adaptiveThrottle())).toBe(true);
    expect(isThrottle({ allow: () => true })).toBe(false);
    expect(isThrottle(null)).toBe(false);
  });

  it('new ThrottledError() is an ordinary error with a stack', () => {
    const error = new ThrottledError(0.25);
    expect(types.isNativeError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'BREAKWATER_THROTTLED', name: 'ThrottledError', probability: 0.25 });
    expect(error.stack).toContain('ThrottledError: Throttled');
    expect(isBreakwaterError(error)).toBe(true);
  });
});
