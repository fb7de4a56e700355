/**
 * The adaptive hedge delay over any pattern of traffic: bursts of attempts separated by
 * quiet spells of any length. Once the policy has learned a quantile, a quiet spell that
 * empties the window never sends it back to `initialDelay` (issue 19: it did, and every
 * slow attempt among the next `minSamples` then waited `initialDelay` for its hedge).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RELATIVE_ERROR } from '../../src/hedge/latency-quantile.js';
import { resolveHedge } from '../../src/hedge/options.js';

const WINDOW_MS = 1_000;
/** Outside the latencies drawn below, so an answer of initialDelay cannot pass for a quantile. */
const INITIAL_DELAY = 5_000;
const LOW = 1;
const HIGH = 1_000;

const burst = fc.record({
  /** Quiet time before the burst, up to ten windows. */
  gapMs: fc.oneof(fc.integer({ min: 0, max: 10 * WINDOW_MS }), fc.constantFrom(0, WINDOW_MS, 3 * WINDOW_MS)),
  latencies: fc.array(fc.double({ min: LOW, max: HIGH, noNaN: true }), { maxLength: 30 }),
});

describe('adaptive hedge delay: quiet spells', () => {
  it('never goes back to initialDelay once learned, and stays within the latencies seen', () => {
    fc.assert(
      fc.property(
        fc.array(burst, { maxLength: 25 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(0.5, 0.9, 0.95),
        (bursts, minSamples, quantile) => {
          const hedge = resolveHedge({
            delay: { quantile, initialDelay: INITIAL_DELAY, minSamples, windowMs: WINDOW_MS },
          });
          if (hedge === undefined) throw new Error('expected a hedge');
          let now = 0;
          let learned = false;
          let burstFilledWindow = false;
          for (const { gapMs, latencies } of bursts) {
            now += gapMs;
            // Before, during and after the burst: the delay an attempt would get.
            const before = hedge.delayFor(now);
            if (learned || burstFilledWindow) expect(before).not.toBe(INITIAL_DELAY);
            for (const ms of latencies) {
              hedge.recordAttempt(ms, now);
              const delay = hedge.delayFor(now);
              if (delay !== INITIAL_DELAY) learned = true;
              else expect(learned).toBe(false);
            }
            // A burst of minSamples recorded at one instant fills the window by itself.
            if (latencies.length >= minSamples) burstFilledWindow = true;
            const after = hedge.delayFor(now);
            if (burstFilledWindow) expect(after).not.toBe(INITIAL_DELAY);
            if (after !== INITIAL_DELAY) {
              expect(after).toBeGreaterThanOrEqual(LOW);
              expect(after).toBeLessThanOrEqual(HIGH * (1 + RELATIVE_ERROR));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
