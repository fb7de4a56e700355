import { describe, expect, it } from 'vitest';
import { RELATIVE_ERROR } from '../../src/hedge/latency-quantile.js';
import { defaultMinSamples, resolveHedge } from '../../src/hedge/options.js';
import { expectInvalid, thrownInvalid } from '../support/invalid.js';

describe('resolveHedge: values', () => {
  it('means no hedging for undefined and false', () => {
    expect(resolveHedge(undefined)).toBeUndefined();
    expect(resolveHedge(false)).toBeUndefined();
  });

  it('defaults to two attempts and an adaptive delay at p95', () => {
    const hedge = resolveHedge({});
    expect(hedge?.maxAttempts).toBe(2);
    expect(hedge?.delay).toEqual({
      kind: 'adaptive',
      quantile: 0.95,
      initialDelay: 100,
      minSamples: 200,
      windowMs: 10_000,
    });
  });

  it('keeps a fixed delay, 0 included, and every maxAttempts from 2 to 10', () => {
    for (const ms of [0, 0.5, 10, 2_147_483_647]) {
      const hedge = resolveHedge({ maxAttempts: 3, delay: ms });
      expect(hedge?.delay).toEqual({ kind: 'fixed', ms });
      expect(hedge?.delayFor(123)).toBe(ms);
    }
    for (let n = 2; n <= 10; n++) expect(resolveHedge({ maxAttempts: n, delay: 5 })?.maxAttempts).toBe(n);
  });

  it('fills in the adaptive defaults around the quantile given', () => {
    expect(resolveHedge({ delay: { quantile: 0.99 } })?.delay).toEqual({
      kind: 'adaptive',
      quantile: 0.99,
      initialDelay: 100,
      minSamples: 1_000,
      windowMs: 10_000,
    });
    expect(
      resolveHedge({ delay: { quantile: 0.9, initialDelay: 20, minSamples: 5, windowMs: 1_000 } })?.delay,
    ).toEqual({ kind: 'adaptive', quantile: 0.9, initialDelay: 20, minSamples: 5, windowMs: 1_000 });
  });

  it('asks for about 10 samples above the quantile, and at least 20', () => {
    expect(defaultMinSamples(0.5)).toBe(20);
    expect(defaultMinSamples(0.9)).toBe(100);
    expect(defaultMinSamples(0.95)).toBe(200);
    expect(defaultMinSamples(0.99)).toBe(1_000);
  });

  it('is frozen', () => {
    const hedge = resolveHedge({ delay: { quantile: 0.5 } });
    expect(Object.isFrozen(hedge)).toBe(true);
    expect(Object.isFrozen(hedge?.delay)).toBe(true);
  });
});

describe('resolveHedge: errors name the option and the allowed range', () => {
  it.each([
    [null, 'hedge'],
    [true, 'hedge'],
    [3, 'hedge'],
    [[], 'hedge'],
    [{ maxAttempts: 1 }, 'hedge.maxAttempts'],
    [{ maxAttempts: 11 }, 'hedge.maxAttempts'],
    [{ maxAttempts: 2.5 }, 'hedge.maxAttempts'],
    [{ maxAttempts: '3' }, 'hedge.maxAttempts'],
    [{ maxAttempts: Number.NaN }, 'hedge.maxAttempts'],
    [{ delay: -1 }, 'hedge.delay'],
    [{ delay: 2_147_483_648 }, 'hedge.delay'],
    [{ delay: Number.POSITIVE_INFINITY }, 'hedge.delay'],
    [{ delay: Number.NaN }, 'hedge.delay'],
    [{ delay: null }, 'hedge.delay'],
    [{ delay: 'p95' }, 'hedge.delay'],
    [{ delay: {} }, 'hedge.delay.quantile'],
    [{ delay: { quantile: 0 } }, 'hedge.delay.quantile'],
    [{ delay: { quantile: 1 } }, 'hedge.delay.quantile'],
    [{ delay: { quantile: 95 } }, 'hedge.delay.quantile'],
    [{ delay: { quantile: '0.95' } }, 'hedge.delay.quantile'],
    [{ delay: { quantile: 0.95, initialDelay: -1 } }, 'hedge.delay.initialDelay'],
    [{ delay: { quantile: 0.95, initialDelay: 2 ** 31 } }, 'hedge.delay.initialDelay'],
    [{ delay: { quantile: 0.95, minSamples: 0 } }, 'hedge.delay.minSamples'],
    [{ delay: { quantile: 0.95, minSamples: 1.5 } }, 'hedge.delay.minSamples'],
    [{ delay: { quantile: 0.95, minSamples: 1_000_001 } }, 'hedge.delay.minSamples'],
    [{ delay: { quantile: 0.95, windowMs: 99 } }, 'hedge.delay.windowMs'],
    [{ delay: { quantile: 0.95, windowMs: 86_400_001 } }, 'hedge.delay.windowMs'],
    [{ maxAttempts: 2, delay: 5, hedgingDelay: '0.1s' }, 'hedge.hedgingDelay'],
    [{ delay: { quantile: 0.95, percentile: 95 } }, 'hedge.delay.percentile'],
  ])('%j → %s', (value, option) => {
    expectInvalid(() => resolveHedge(value), option);
  });

  it('says what is allowed', () => {
    expect(thrownInvalid(() => resolveHedge({ maxAttempts: 1 })).message).toBe(
      'hedge.maxAttempts must be an integer from 2 to 10; got 1',
    );
    expect(thrownInvalid(() => resolveHedge({ delay: { quantile: 1 } })).message).toBe(
      'hedge.delay.quantile must be a number above 0 and below 1; got 1',
    );
    expect(thrownInvalid(() => resolveHedge({ delay: -1 })).message).toBe(
      'hedge.delay must be a number from 0 to 2147483647; got -1',
    );
  });

  it('points a percentile string to the quantile form', () => {
    expect(thrownInvalid(() => resolveHedge({ delay: 'p95' })).message).toContain(
      '(write { quantile: 0.95 })',
    );
    expect(thrownInvalid(() => resolveHedge({ delay: 'P99.9' })).message).toContain(
      '(write { quantile: 0.999 })',
    );
    expect(thrownInvalid(() => resolveHedge({ delay: 'soon' })).message).not.toContain('write');
  });

  it('names the option under another prefix', () => {
    expectInvalid(() => resolveHedge({ maxAttempts: 0 }, 'methods.hedge'), 'methods.hedge.maxAttempts');
  });
});

describe('resolveHedge: the adaptive delay', () => {
  it('waits initialDelay until minSamples attempts, then the quantile of recent ones', () => {
    const hedge = resolveHedge({ delay: { quantile: 0.9, initialDelay: 40, minSamples: 10 } });
    if (hedge === undefined) throw new Error('expected a hedge');
    for (let i = 1; i <= 9; i++) {
      hedge.recordAttempt(i, 0);
      expect(hedge.delayFor(0)).toBe(40);
    }
    hedge.recordAttempt(10, 0);
    const delay = hedge.delayFor(0);
    // p90 of 1..10 (nearest rank) is 9.
    expect(delay).toBeGreaterThanOrEqual(9);
    expect(delay).toBeLessThanOrEqual(9 * (1 + RELATIVE_ERROR));
  });

  it('keeps the last quantile through a quiet spell longer than the window, not initialDelay', () => {
    const hedge = resolveHedge({
      delay: { quantile: 0.5, initialDelay: 75, minSamples: 3, windowMs: 1_000 },
    });
    if (hedge === undefined) throw new Error('expected a hedge');
    for (let i = 0; i < 3; i++) hedge.recordAttempt(4, 0);
    const learned = hedge.delayFor(0);
    expect(learned).toBeGreaterThanOrEqual(4);
    expect(learned).toBeLessThan(5);
    // The window is empty again, and then holds fewer than minSamples: the last quantile stands.
    expect(hedge.delayFor(1_000)).toBe(learned);
    hedge.recordAttempt(40, 1_000);
    hedge.recordAttempt(40, 1_000);
    expect(hedge.delayFor(1_000)).toBe(learned);
    // minSamples in the window again: the quantile of the new latencies.
    hedge.recordAttempt(40, 1_000);
    expect(hedge.delayFor(1_000)).toBeGreaterThanOrEqual(40);
    expect(hedge.delayFor(1_000)).toBeLessThanOrEqual(40 * (1 + RELATIVE_ERROR));
  });

  it('waits initialDelay after a quiet spell when it never had minSamples', () => {
    const hedge = resolveHedge({
      delay: { quantile: 0.5, initialDelay: 75, minSamples: 3, windowMs: 1_000 },
    });
    if (hedge === undefined) throw new Error('expected a hedge');
    hedge.recordAttempt(4, 0);
    hedge.recordAttempt(4, 0);
    expect(hedge.delayFor(0)).toBe(75);
    expect(hedge.delayFor(5_000)).toBe(75);
  });

  it('records an abandoned attempt only when it ran at least as long as the delay', () => {
    const hedge = resolveHedge({ delay: { quantile: 0.5, initialDelay: 50, minSamples: 1 } });
    if (hedge === undefined) throw new Error('expected a hedge');
    // Before any sample the delay is 50: a loser cut at 20 ms might have been fast.
    hedge.recordAbandoned(20, 0);
    expect(hedge.delayFor(0)).toBe(50);
    hedge.recordAbandoned(60, 0);
    expect(hedge.delayFor(0)).toBeGreaterThanOrEqual(60);
    expect(hedge.delayFor(0)).toBeLessThanOrEqual(60 * (1 + RELATIVE_ERROR));
  });

  it('gives every resolved policy an estimator of its own', () => {
    const a = resolveHedge({ delay: { quantile: 0.5, minSamples: 1 } });
    const b = resolveHedge({ delay: { quantile: 0.5, minSamples: 1 } });
    a?.recordAttempt(7, 0);
    expect(a?.delayFor(0)).toBeLessThan(8);
    expect(b?.delayFor(0)).toBe(100);
  });

  it('ignores samples under a fixed delay', () => {
    const hedge = resolveHedge({ delay: 25 });
    hedge?.recordAttempt(1_000, 0);
    hedge?.recordAbandoned(1_000, 0);
    expect(hedge?.delayFor(0)).toBe(25);
  });
});
