/**
 * Properties of a consumer's redeliveries, over generated inputs: every nak delay lies in
 * [0, maxDelay] and is a whole number of ms; a failure is nak'ed exactly while deliveries
 * are left and dead-lettered (one copy, then term) from the last allowed one on; an open
 * breaker's delay never sends a message back before the breaker lets a probe through.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Backoff, backoff, policy } from '../../src/index.js';
import { resilientHandler } from '../../src/nats/index.js';
import {
  circuitDelay,
  disposition,
  type FailureClass,
  MAX_NAK_DELAY,
  retryDelay,
} from '../../src/nats/redelivery.js';
import { ManualClock } from '../support/clock.js';
import { FakeHeaders, fakeMsg, fakePublisher, parseError } from './consumer-fakes.js';

/** Backoff strategies of every kind, with sane and extreme settings. */
const strategies: fc.Arbitrary<Backoff> = fc.oneof(
  fc
    .record({
      a: fc.integer({ min: 0, max: 100_000 }),
      b: fc.integer({ min: 0, max: MAX_NAK_DELAY }),
      multiplier: fc.double({ min: 1, max: 1_000, noNaN: true }),
      jitter: fc.constantFrom('full', 'equal', 'decorrelated', 'none' as const),
    })
    .map(({ a, b, multiplier, jitter }) =>
      backoff.exponential({ initialDelay: Math.min(a, b), maxDelay: Math.max(a, b), multiplier, jitter }),
    ),
  fc
    .tuple(fc.double({ min: 0, max: 100_000, noNaN: true }), fc.double({ min: 0, max: 1_000, noNaN: true }))
    .map(([delay, extra]) => backoff.constant({ delay, maxDelay: delay + extra })),
  fc
    .tuple(fc.double(), fc.double({ min: 0, max: 100_000, noNaN: true }))
    .map(([value, maxDelay]) => backoff.custom(() => value, { maxDelay })),
);

const deliveryCounts = fc.oneof(
  fc.integer({ min: 1, max: 64 }),
  fc.constantFrom(1_000, 1e9, Number.MAX_SAFE_INTEGER),
);

const draws = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('redelivery arithmetic', () => {
  it('every nak delay is a whole number of ms in [0, maxDelay]', () => {
    fc.assert(
      fc.property(strategies, deliveryCounts, draws, (strategy, count, draw) => {
        const delay = retryDelay(strategy, count, () => draw);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(strategy.maxDelay);
      }),
    );
  });

  it('without jitter, the delay never shrinks as deliveries grow', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 100 }),
        (initial, extra, count) => {
          const strategy = backoff.exponential({
            initialDelay: initial,
            maxDelay: initial + extra,
            jitter: 'none',
          });
          const random = () => 0.5;
          expect(retryDelay(strategy, count + 1, random)).toBeGreaterThanOrEqual(
            retryDelay(strategy, count, random),
          );
        },
      ),
    );
  });

  it("a 'retry' failure is nak'ed exactly while deliveries are left; drop and dead-letter do not depend on the count", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FailureClass>('retry', 'drop', 'dead-letter'),
        deliveryCounts,
        fc.integer({ min: 1, max: 1_000_000 }),
        (verdict, count, max) => {
          const decided = disposition(verdict, count, max);
          if (verdict === 'retry') expect(decided).toBe(count < max ? 'nak' : 'dead-letter');
          else expect(decided).toBe(verdict);
        },
      ),
    );
  });

  it("an open breaker's delay is at least its remaining open time, and at least 1 ms", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.constantFrom(0, Number.POSITIVE_INFINITY)),
        strategies,
        (retryAfter, strategy) => {
          const delay = circuitDelay(retryAfter, strategy);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(1);
          expect(delay).toBeLessThanOrEqual(MAX_NAK_DELAY);
          if (retryAfter > 0 && Number.isFinite(retryAfter)) {
            expect(delay).toBeGreaterThanOrEqual(retryAfter);
            expect(delay).toBe(Math.min(MAX_NAK_DELAY, Math.ceil(retryAfter))); // not a ms more than needed
          }
        },
      ),
    );
  });
});

describe('resilientHandler: nak or dead-letter, by delivery count', () => {
  it('nak (within [0, maxDelay]) while deliveries are left, else one copy and then term; poison at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.boolean(),
        fc.array(draws, { minLength: 1, maxLength: 4 }),
        async (count, maxDeliveries, poison, randoms) => {
          const { publisher, calls } = fakePublisher();
          let i = 0;
          const random = () => randoms[i++ % randoms.length] ?? 0;
          const strategy = backoff.exponential({ initialDelay: 10, maxDelay: 500 });
          const handle = resilientHandler(
            () => {
              throw poison ? parseError() : new Error('dependency down');
            },
            {
              publisher,
              headers: () => new FakeHeaders(),
              maxDeliveries,
              backoff: strategy,
              policy: policy({ random }),
              ackWait: 30_000,
              clock: new ManualClock(),
            },
          );
          const msg = fakeMsg({ deliveryCount: count });
          const outcome = await handle(msg);
          if (!poison && count < maxDeliveries) {
            expect(outcome.status).toBe('retry');
            const delay = outcome.status === 'retry' ? outcome.delayMs : -1;
            expect(delay).toBeGreaterThanOrEqual(0);
            expect(delay).toBeLessThanOrEqual(strategy.maxDelay);
            expect(msg.settled()).toEqual([{ nak: delay === 0 ? undefined : delay }]);
            expect(calls).toHaveLength(0);
          } else {
            expect(outcome).toMatchObject({
              status: 'dead-lettered',
              reason: poison ? 'poison' : 'max-deliveries',
            });
            expect(calls).toHaveLength(1);
            expect(msg.settled()).toEqual(['term']);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
