/** Option validation of adaptiveLimit() and adaptiveThrottle(): every mistake named at construction. */
import { describe, expect, it } from 'vitest';
import { type AdaptiveLimitOptions, adaptiveLimit, adaptiveThrottle } from '../../src/index.js';
import { expectInvalid, thrownInvalid } from '../support/invalid.js';

const limit = (options: unknown) => () => adaptiveLimit(options as AdaptiveLimitOptions);
const throttle = (options: unknown) => () => adaptiveThrottle(options as never);

describe('adaptiveLimit options', () => {
  it('accepts every option of each algorithm', () => {
    const common = {
      initialLimit: 10,
      minLimit: 2,
      maxLimit: 50,
      maxQueue: 5,
      window: { minMs: 50, maxMs: 500, minSamples: 20 },
    };
    expect(
      adaptiveLimit({
        algorithm: 'vegas',
        alpha: 2,
        beta: 4,
        smoothing: 0.5,
        probeMultiplier: 10,
        ...common,
      }),
    ).toMatchObject({ algorithm: 'vegas', limit: 10, minLimit: 2, maxLimit: 50, maxQueue: 5 });
    expect(
      adaptiveLimit({
        algorithm: 'gradient2',
        smoothing: 0.1,
        queueSize: 2,
        longWindow: 100,
        probeMultiplier: 5,
        ...common,
      }),
    ).toMatchObject({ algorithm: 'gradient2' });
    expect(
      adaptiveLimit({ algorithm: 'aimd', backoffRatio: 0.5, timeoutMs: 1_000, ...common }),
    ).toMatchObject({
      algorithm: 'aimd',
    });
    expect(adaptiveLimit({ algorithm: 'aimd', timeoutMs: Number.POSITIVE_INFINITY }).algorithm).toBe('aimd');
  });

  it('rejects what is not an object, and unknown keys', () => {
    expectInvalid(limit(null), 'adaptiveLimit');
    expectInvalid(limit(5), 'adaptiveLimit');
    expectInvalid(limit({ limit: 5 }), 'adaptiveLimit.limit');
    expectInvalid(limit({ window: { size: 5 } }), 'adaptiveLimit.window.size');
    expectInvalid(limit({ window: 100 }), 'adaptiveLimit.window');
  });

  it('rejects an option of another algorithm, listing the allowed ones', () => {
    const error = thrownInvalid(limit({ algorithm: 'aimd', alpha: 3 }));
    expect(error.option).toBe('adaptiveLimit.alpha');
    expect(error.message).toContain(
      'allowed: algorithm, initialLimit, minLimit, maxLimit, maxQueue, window, backoffRatio, timeoutMs',
    );
    expectInvalid(limit({ backoffRatio: 0.9 }), 'adaptiveLimit.backoffRatio'); // vegas by default
    expectInvalid(limit({ algorithm: 'gradient2', beta: 6 }), 'adaptiveLimit.beta');
    expectInvalid(limit({ algorithm: 'vegas', queueSize: 4 }), 'adaptiveLimit.queueSize');
  });

  it('names the algorithm when it is not one of the three', () => {
    const error = thrownInvalid(limit({ algorithm: 'bbr' }));
    expect(error.option).toBe('adaptiveLimit.algorithm');
    expect(error.message).toBe(
      'adaptiveLimit.algorithm must be one of "vegas", "gradient2", "aimd"; got "bbr"',
    );
  });

  it('names the option and its range for the limits and the queue', () => {
    const cases: [unknown, string, string][] = [
      [{ minLimit: 0 }, 'adaptiveLimit.minLimit', 'an integer from 1 to 1000000000'],
      [{ minLimit: 1.5 }, 'adaptiveLimit.minLimit', 'an integer from 1 to 1000000000'],
      [{ minLimit: 5, maxLimit: 4 }, 'adaptiveLimit.maxLimit', 'an integer from 5 to 1000000000'],
      [{ maxLimit: Number.NaN }, 'adaptiveLimit.maxLimit', 'an integer from 1 to 1000000000'],
      [{ initialLimit: 0 }, 'adaptiveLimit.initialLimit', 'an integer from 1 to 1000'],
      [{ algorithm: 'aimd', initialLimit: 201 }, 'adaptiveLimit.initialLimit', 'an integer from 1 to 200'],
      [{ minLimit: 3, maxLimit: 9, initialLimit: 2 }, 'adaptiveLimit.initialLimit', 'an integer from 3 to 9'],
      [{ maxQueue: -1 }, 'adaptiveLimit.maxQueue', 'an integer from 0 to 1000000000'],
      [{ maxQueue: '5' }, 'adaptiveLimit.maxQueue', 'an integer from 0 to 1000000000'],
    ];
    for (const [options, option, range] of cases) {
      const error = thrownInvalid(limit(options));
      expect(error.option, JSON.stringify(options)).toBe(option);
      expect(error.message).toContain(`${option} must be ${range}`);
    }
  });

  it('names the option and its range for the window', () => {
    const cases: [unknown, string, string][] = [
      [{ minMs: 0 }, 'adaptiveLimit.window.minMs', 'a number from 1 to 3600000'],
      [{ minMs: 200, maxMs: 100 }, 'adaptiveLimit.window.maxMs', 'a number from 200 to 3600000'],
      [{ minSamples: 0 }, 'adaptiveLimit.window.minSamples', 'an integer from 1 to 1000000'],
    ];
    for (const [window, option, range] of cases) {
      const error = thrownInvalid(limit({ window }));
      expect(error.option).toBe(option);
      expect(error.message).toContain(`${option} must be ${range}`);
    }
  });

  it("names the option and its range for each algorithm's parameters", () => {
    const cases: [unknown, string, string][] = [
      [{ alpha: 0 }, 'adaptiveLimit.alpha', 'a number above 0 and at most 1000'],
      [{ alpha: 4, beta: 3 }, 'adaptiveLimit.beta', 'a number from 4 to 1000'],
      [{ smoothing: 0 }, 'adaptiveLimit.smoothing', 'a number above 0 and at most 1'],
      [{ smoothing: 1.5 }, 'adaptiveLimit.smoothing', 'a number above 0 and at most 1'],
      [{ probeMultiplier: 0 }, 'adaptiveLimit.probeMultiplier', 'an integer from 1 to 1000000'],
      [{ algorithm: 'gradient2', queueSize: -1 }, 'adaptiveLimit.queueSize', 'a number from 0 to 1000000'],
      [
        { algorithm: 'gradient2', longWindow: 0.5 },
        'adaptiveLimit.longWindow',
        'an integer from 1 to 1000000',
      ],
      [{ algorithm: 'gradient2', smoothing: 0 }, 'adaptiveLimit.smoothing', 'a number above 0 and at most 1'],
      [{ algorithm: 'aimd', backoffRatio: 0.4 }, 'adaptiveLimit.backoffRatio', 'a number from 0.5 to 1'],
      [{ algorithm: 'aimd', backoffRatio: 1 }, 'adaptiveLimit.backoffRatio', 'a number from 0.5 to below 1'],
      [{ algorithm: 'aimd', timeoutMs: 0 }, 'adaptiveLimit.timeoutMs', 'a number above 0'],
    ];
    for (const [options, option, range] of cases) {
      const error = thrownInvalid(limit(options));
      expect(error.option, JSON.stringify(options)).toBe(option);
      expect(error.message).toContain(`${option} must be ${range}`);
    }
  });

  it('a beta left out follows a larger alpha', () => {
    expect(() => adaptiveLimit({ alpha: 8 })).not.toThrow();
  });

  it('onLimitChange wants a function', () => {
    expectInvalid(() => adaptiveLimit().onLimitChange(5 as never), 'onLimitChange(listener)');
  });
});

describe('adaptiveThrottle options', () => {
  it('accepts every option', () => {
    expect(adaptiveThrottle({ k: 1.5, windowMs: 30_000, buckets: 6, minRequests: 0 })).toMatchObject({
      k: 1.5,
      windowMs: 30_000,
      minRequests: 0,
    });
  });

  it('rejects what is not an object, and unknown keys', () => {
    expectInvalid(throttle('fast'), 'adaptiveThrottle');
    expectInvalid(throttle({ K: 2 }), 'adaptiveThrottle.K');
  });

  it('names the option and its range', () => {
    const cases: [unknown, string, string][] = [
      [{ k: 0.5 }, 'adaptiveThrottle.k', 'a number from 1 to 1000'],
      [{ windowMs: 0 }, 'adaptiveThrottle.windowMs', 'a number from 1 to 86400000'],
      [{ buckets: 0 }, 'adaptiveThrottle.buckets', 'an integer from 1 to 1000'],
      [{ minRequests: -1 }, 'adaptiveThrottle.minRequests', 'an integer from 0 to 1000000000'],
    ];
    for (const [options, option, range] of cases) {
      const error = thrownInvalid(throttle(options));
      expect(error.option).toBe(option);
      expect(error.message).toContain(`${option} must be ${range}`);
    }
  });
});
