/**
 * Each algorithm's formula, window by window, on hand-made window summaries: the numbers in
 * these tests are worked out from the formulas in the TSDoc of vegas.ts, gradient2.ts and
 * aimd.ts.
 */
import { describe, expect, it } from 'vitest';
import { adaptiveLimit } from '../../src/index.js';
import { Aimd, aimdParams } from '../../src/limit/aimd.js';
import { log10Step } from '../../src/limit/algorithm.js';
import { Gradient2, gradient2Params } from '../../src/limit/gradient2.js';
import { Vegas, vegasParams } from '../../src/limit/vegas.js';
import type { WindowSample } from '../../src/limit/window.js';
import { limitStats, seeded, simulate } from './support/dependency.js';

const bounds = (initial: number, min = 1, max = 1_000) => ({ initial, min, max });

function win(rtt: number, inFlight: number, drops = 0, samples = 10): WindowSample {
  return { rtt, minRtt: rtt, maxInFlight: inFlight, samples, drops, now: 0 };
}

describe('log10Step', () => {
  it('is max(1, floor(log10(limit)))', () => {
    expect([1, 9, 10, 99, 100, 999, 1_000, 20_000].map(log10Step)).toEqual([1, 1, 1, 1, 2, 2, 3, 4]);
  });
});

describe('vegas', () => {
  /** A Vegas limit at `limit` whose no-load latency is 10 ms. */
  function vegas(limit: number, options = {}) {
    const v = new Vegas(bounds(limit), vegasParams(options, 'v'), () => 0);
    v.update(win(10, limit)); // the first window sets the no-load latency
    expect([v.estimate, v.noLoadRtt]).toEqual([limit, 10]);
    return v;
  }

  it('nothing queued (queue ≤ step): grows by beta × step', () => {
    expect(vegas(50).update(win(10, 50))).toBe(56);
    expect(vegas(150).update(win(10, 150))).toBe(162); // step 2
  });

  it('a little queued (queue < alpha × step): grows by step', () => {
    // queue = ceil(50 × (1 − 10 / 10.31)) = ceil(1.50) = 2
    expect(vegas(50).update(win(10.31, 50))).toBe(51);
  });

  it('the sweet spot (alpha × step ≤ queue ≤ beta × step): holds', () => {
    // queue = ceil(50 × (1 − 10 / 10.99)) = ceil(4.50) = 5
    expect(vegas(50).update(win(10.99, 50))).toBe(50);
  });

  it('queueing (queue > beta × step): shrinks by step', () => {
    expect(vegas(50).update(win(20, 50))).toBe(49); // queue 25
    expect(vegas(150).update(win(20, 150))).toBe(148);
  });

  it('a window with a drop shrinks by step', () => {
    expect(vegas(50).update(win(10, 50, 1))).toBe(49);
  });

  it('does not grow while fewer than limit / 2 operations are in flight', () => {
    expect(vegas(50).update(win(10, 24))).toBe(50);
    expect(vegas(50).update(win(10, 25))).toBe(56);
  });

  it('smoothing moves part of the way', () => {
    expect(vegas(50, { smoothing: 0.5 }).update(win(10, 50))).toBe(53);
  });

  it('alpha and beta scale the thresholds and the growth', () => {
    // queue 5: with alpha 6 it grows by a step instead of holding; with beta 4 it shrinks.
    expect(vegas(50, { alpha: 6, beta: 8 }).update(win(10.99, 50))).toBe(51);
    expect(vegas(50, { alpha: 2, beta: 4 }).update(win(10.99, 50))).toBe(49);
    expect(vegas(50, { alpha: 2, beta: 4 }).update(win(10, 50))).toBe(54);
  });

  it('a faster window lowers the no-load latency and moves nothing', () => {
    const v = vegas(50);
    expect(v.update(win(9.5, 50))).toBe(50);
    expect(v.noLoadRtt).toBe(9.5);
  });

  it('a window without latency (all dropped, or 0 ms) keeps the no-load latency', () => {
    const v = vegas(50);
    v.update(win(0, 50, 10));
    expect([v.estimate, v.noLoadRtt]).toEqual([49, 10]);
    v.update(win(0, 50));
    expect([v.estimate, v.noLoadRtt]).toEqual([49, 10]);
  });

  it('probes: halves the limit for two windows, takes the second as the no-load latency, restores', () => {
    const v = new Vegas(bounds(40), vegasParams({ probeMultiplier: 5 }, 'v'), () => 0);
    v.update(win(10, 40));
    // In the sweet spot (queue = ceil(40 × (1 − 10/11.5)) = 6), the first probe is due after
    // `probeMultiplier` windows (the first baseline was measured under unknown load).
    for (let i = 0; i < 4; i++) expect(v.update(win(11.5, 40))).toBe(40);
    expect(v.update(win(11.5, 40))).toBe(20);
    expect(v.update(win(11, 20))).toBe(20); // draining
    expect(v.update(win(12, 20))).toBe(40); // measured: restored
    expect(v.noLoadRtt).toBe(12);
    // Then every probeMultiplier × limit × [0.5, 1) windows: 5 × 40 × 0.5 = 100 here.
    let windows = 0;
    while (v.update(win(12.9, 40)) === 40) windows++;
    expect(windows).toBe(99);
    expect(v.estimate).toBe(20);
  });

  it('asks for an early probe when a window runs 10% faster than the no-load latency', () => {
    const v = new Vegas(bounds(40), vegasParams({ probeMultiplier: 5 }, 'v'), () => 0);
    v.update(win(10, 40));
    for (let i = 0; i < 5; i++) v.update(win(11.5, 40)); // the first probe...
    v.update(win(11, 20));
    v.update(win(12, 20)); // ...ends with 12 ms as the baseline
    v.update(win(10.5, 40)); // 12.5% faster: stale
    let windows = 0;
    while (v.update(win(11.9, 40)) === 40) windows++;
    expect(windows).toBe(4); // due after probeMultiplier windows, not 100
  });
});

describe('gradient2', () => {
  /** A Gradient2 limit at `limit` whose long-term latency is 10 ms (learned app-limited). */
  function gradient2(limit: number, options = {}) {
    const g = new Gradient2(
      bounds(limit),
      gradient2Params({ probeMultiplier: 1_000, ...options }, 'g'),
      () => 0,
    );
    for (let i = 0; i < 10; i++) g.update(win(i % 2 === 0 ? 8 : 12, 1)); // warm-up: a plain mean
    expect([g.estimate, g.longRtt]).toEqual([limit, 10]);
    return g;
  }

  it('latency steady: gradient 1, grows by queueSize × smoothing', () => {
    expect(gradient2(50).update(win(10, 50))).toBeCloseTo(50.8, 10);
  });

  it('latency doubled: gradient 0.5, new = 0.8 × limit + 0.2 × (0.5 × limit + 4)', () => {
    expect(gradient2(50).update(win(20, 50))).toBeCloseTo(45.8, 10);
  });

  it('the gradient is clamped to [0.5, 1]', () => {
    expect(gradient2(50).update(win(100, 50))).toBeCloseTo(45.8, 10);
    expect(gradient2(50).update(win(6, 50))).toBeCloseTo(50.8, 10);
  });

  it('drops: the gradient is at most 1 − the share dropped; all dropped counts as 0.5', () => {
    expect(gradient2(50).update(win(10, 50, 3))).toBeCloseTo(0.8 * 50 + 0.2 * (0.7 * 50 + 4), 10);
    expect(gradient2(50).update(win(0, 50, 10))).toBeCloseTo(45.8, 10);
  });

  it('does not move while fewer than limit / 2 operations are in flight, unless something dropped', () => {
    expect(gradient2(50).update(win(20, 24))).toBe(50);
    expect(gradient2(50).update(win(10, 24, 5))).toBeCloseTo(0.8 * 50 + 0.2 * (0.5 * 50 + 4), 10);
  });

  it('the long-term latency follows an exponential average, rising only while the limit is not reached', () => {
    const saturated = gradient2(50);
    saturated.update(win(20, 50));
    expect(saturated.longRtt).toBe(10); // its own queueing is no new baseline
    const free = gradient2(50);
    free.update(win(20, 30));
    expect(free.longRtt).toBeCloseTo(10 + 10 * (2 / 601), 10);
  });

  it('falls faster than it rises, and by 10% at once when it is over twice the latency', () => {
    const g = gradient2(50);
    g.update(win(9.5, 50));
    expect(g.longRtt).toBeCloseTo(10 - 0.5 * (20 / 601), 10);
    const h = gradient2(50);
    h.update(win(4, 50));
    expect(h.longRtt).toBeCloseTo(0.9 * (10 - 6 * (20 / 601)), 10);
  });
});

describe('aimd', () => {
  const aimd = (limit: number, options = {}, min = 1) =>
    new Aimd(bounds(limit, min, 200), aimdParams(options, 'a'));

  it('+1 per good window at full use; none while app-limited', () => {
    expect(aimd(50).update(win(10, 25))).toBe(51);
    expect(aimd(50).update(win(10, 24))).toBe(50);
  });

  it('a drop cuts to floor(limit × backoffRatio), by at least 1, never below min', () => {
    expect(aimd(50).update(win(10, 50, 1))).toBe(45);
    expect(aimd(5).update(win(10, 5, 1))).toBe(4);
    expect(aimd(2).update(win(10, 2, 1))).toBe(1);
    expect(aimd(1).update(win(10, 1, 1))).toBe(1);
    expect(aimd(10, {}, 8).update(win(10, 10, 1))).toBe(9);
    expect(aimd(10, {}, 9).update(win(10, 10, 1))).toBe(9);
    expect(aimd(50, { backoffRatio: 0.5 }).update(win(10, 50, 1))).toBe(25);
  });

  it('a window slower than timeoutMs counts as a drop', () => {
    expect(aimd(50, { timeoutMs: 100 }).update(win(100, 50))).toBe(51);
    expect(aimd(50, { timeoutMs: 100 }).update(win(100.5, 50))).toBe(45);
  });

  it('reads no latency below the timeout: with a deep queue it settles at capacity + queue', () => {
    const limit = adaptiveLimit({ algorithm: 'aimd' });
    const model = { capacity: 40, serviceMs: 20, jitter: 0.2, queueBound: 40, refusalMs: 1 };
    const trace = simulate(limit, model, 60_000, seeded(1), { start: 1_000_000 });
    const { mean } = limitStats(trace, 1_045_000, 1_060_000);
    expect(mean).toBeGreaterThan(0.85 * 80);
    expect(mean).toBeLessThan(1.05 * 80);
  });
});
