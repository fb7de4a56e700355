/**
 * Hedging in the core: a slow attempt is overtaken by a hedge, the first success wins and
 * every other attempt is aborted; failures send the next hedge at once; the deadline, the
 * budget and the breaker bound them. Property tests on a seeded simulated dependency.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AttemptContext,
  circuitBreaker,
  InvalidOptionsError,
  type Policy,
  policy,
  retryBudget,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';
import {
  BudgetSpy,
  checkHedgeInvariants,
  runSimulation,
  SimDependency,
  SimError,
} from '../support/hedge-sim.js';

/** An attempt the test ends by hand. */
interface Pending {
  readonly ctx: AttemptContext;
  resolve(value: string): void;
  reject(error: unknown): void;
}

function manual(): { fn: (ctx: AttemptContext) => Promise<string>; attempts: Pending[] } {
  const attempts: Pending[] = [];
  return {
    attempts,
    fn: (ctx) =>
      new Promise<string>((resolve, reject) => {
        attempts.push({ ctx, resolve, reject });
      }),
  };
}

const transient = (): Error => Object.assign(new Error('reset'), { code: 'ECONNRESET' });

/** `n` operations in turn, each answered `ms` after it starts (what an adaptive delay learns). */
async function answerEach(p: Policy, clock: ManualClock, n: number, ms: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const call = p.execute(
      () =>
        new Promise<string>((resolve) => {
          clock.setTimeout(() => resolve('fast'), ms);
        }),
    );
    await clock.advance(ms);
    await call;
  }
}

/** A new operation is hedged between 9 and 11 ms after it starts, and the hedge's answer wins. */
async function expectHedgedAfter10ms(p: Policy, clock: ManualClock): Promise<void> {
  const { fn, attempts } = manual();
  const call = clock.watch(p.execute(fn));
  await clock.advance(9);
  expect(attempts).toHaveLength(1);
  await clock.advance(2);
  expect(attempts).toHaveLength(2);
  attempts[1]?.resolve('hedge');
  await clock.advance(0);
  expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'hedge' });
}

describe('hedging', () => {
  it('sends a hedge after the delay; the first success wins and the loser is aborted', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({ clock, onEvent: log.listener, hedge: { maxAttempts: 3, delay: 20 } });
    const { fn, attempts } = manual();
    const call = clock.watch(p.execute(fn));
    expect(attempts).toHaveLength(1);
    await clock.advance(19);
    expect(attempts).toHaveLength(1);
    await clock.advance(1);
    expect(attempts.map((a) => a.ctx.attempt)).toEqual([1, 2]);
    attempts[1]?.resolve('second');
    await clock.advance(0);
    expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'second' });
    expect(attempts[0]?.ctx.signal.aborted).toBe(true);
    expect(attempts).toHaveLength(2); // no third attempt once it settled
    expect(clock.pending).toBe(0);
    expect(log.of('hedge-started')).toMatchObject([{ attempt: 2, afterMs: 20 }]);
    expect(log.of('attempt-end').map((e) => e.outcome)).toEqual(['success', 'aborted']);
  });

  it('a retryable failure sends the next hedge at once; a fatal one ends everything', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, hedge: { maxAttempts: 3, delay: 1_000 } });
    const { fn, attempts } = manual();
    const call = clock.watch(p.execute(fn));
    attempts[0]?.reject(transient());
    await clock.advance(0);
    expect(attempts).toHaveLength(2);
    const fatal = new TypeError('bad request');
    attempts[1]?.reject(fatal);
    await clock.advance(0);
    expect(call.settled).toMatchObject({ status: 'rejected', reason: fatal });
    expect(clock.pending).toBe(0);
  });

  it('when every attempt fails, rejects with the first attempt’s error', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, hedge: { maxAttempts: 2, delay: 10 } });
    const { fn, attempts } = manual();
    const call = clock.watch(p.execute(fn));
    await clock.advance(10);
    const first = transient();
    attempts[0]?.reject(first);
    attempts[1]?.reject(transient());
    await clock.advance(0);
    expect(call.settled).toMatchObject({ status: 'rejected', reason: first });
  });

  it('an open breaker stops hedges as it stops retries', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1 });
    const p = policy({ clock, circuitBreaker: breaker, hedge: { maxAttempts: 3, delay: 10 } });
    const { fn, attempts } = manual();
    const call = clock.watch(p.execute(fn));
    attempts[0]?.reject(transient());
    await clock.advance(0);
    expect(breaker.state).toBe('open');
    expect(attempts).toHaveLength(1);
    expect(call.settled?.status).toBe('rejected');
  });

  it('an adaptive delay follows the recent latencies once it has enough of them', async () => {
    const clock = new ManualClock();
    // No listener, deadline or timeout: nothing else makes the operation read the clock.
    const p = policy({
      clock,
      hedge: { maxAttempts: 2, delay: { quantile: 0.95, initialDelay: 100, minSamples: 50 } },
    });
    // 60 operations answered in 10 ms: the estimator learns that p95 is about 10 ms.
    await answerEach(p, clock, 60, 10);
    // Hedged near the learned p95 (10 ms, at most 1/32 above), not at the initial 100 ms.
    await expectHedgedAfter10ms(p, clock);
  });

  it('after a quiet spell longer than the window, hedges at the learned delay, not initialDelay', async () => {
    // Issue 19: a policy whose traffic paused for longer than windowMs went back to the
    // initial 100 ms, so the slow attempts among the next minSamples waited 100 ms for
    // their hedge (the gRPC adaptive p99.9 of 106 ms in the hedging benchmark).
    const clock = new ManualClock();
    const p = policy({
      clock,
      hedge: {
        maxAttempts: 2,
        delay: { quantile: 0.95, initialDelay: 100, minSamples: 50, windowMs: 1_000 },
      },
    });
    await answerEach(p, clock, 60, 10);
    // Quiet for five windows: every sample has left the window.
    await clock.advance(5_000);
    await expectHedgedAfter10ms(p, clock);
  });

  it('an adaptive delay learns from first attempts only: fast-failing hedges do not pull it down', async () => {
    // The delay is compared with how long the first attempt has run, so only first attempts
    // teach it. Were hedges learned too, each hedge failing in 1 ms here would balance a
    // first attempt's 60 ms, and the median would stay at the 20 ms learned first.
    const clock = new ManualClock();
    const p = policy({
      clock,
      retry: { budget: false },
      hedge: { maxAttempts: 2, delay: { quantile: 0.5, initialDelay: 100, minSamples: 10 } },
    });
    const run = async (firstMs: number): Promise<void> => {
      const call = p.execute(
        (ctx) =>
          new Promise<string>((resolve, reject) => {
            if (ctx.attempt === 1) clock.setTimeout(() => resolve('first'), firstMs);
            else clock.setTimeout(() => reject(transient()), 1);
          }),
      );
      await clock.advance(firstMs + 1);
      await expect(call).resolves.toBe('first');
    };
    for (let i = 0; i < 10; i++) await run(20);
    const hedge = p.config.hedge;
    const learned = hedge?.delayFor(clock.now()) ?? 0;
    expect(learned).toBeGreaterThanOrEqual(20);
    expect(learned).toBeLessThanOrEqual(21);
    for (let i = 0; i < 30; i++) await run(60);
    // First attempts: 10 of 20 ms and 30 of 60 ms; their median is 60 ms (at most 1/32 off).
    expect(hedge?.delayFor(clock.now())).toBeGreaterThanOrEqual(58);
  });

  it('refuses hedge with retry: false, and validates its options', () => {
    expect(() => policy({ retry: false, hedge: { maxAttempts: 2, delay: 5 } })).toThrow(InvalidOptionsError);
    expect(() => policy({ hedge: { maxAttempts: 11, delay: 5 } })).toThrow(/hedge\.maxAttempts/);
  });

  it('hedge.maxAttempts replaces retry.maxAttempts', () => {
    expect(
      policy({ retry: { maxAttempts: 5 }, hedge: { maxAttempts: 2, delay: 5 } }).config.maxAttempts,
    ).toBe(2);
  });

  it('holds its invariants for any seeded dependency, delay and deadline', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 0, max: 30 }),
        fc.option(fc.integer({ min: 5, max: 200 }), { nil: undefined }),
        async (seed, maxAttempts, delay, deadlineMs) => {
          const clock = new ManualClock();
          const budget = new BudgetSpy(retryBudget({ clock, ratio: 0.2, minPerSecond: 1 }));
          const retryOn = (error: unknown) => error instanceof SimError && error.kind === 'retryable';
          const p = policy({ clock, hedge: { maxAttempts, delay }, retry: { budget, retryOn } });
          const dependency = new SimDependency({
            clock,
            seed,
            medianMs: 10,
            slowShare: 0.2,
            retryableShare: 0.2,
            fatalShare: 0.05,
          });
          const runs = await runSimulation({
            clock,
            dependency,
            operations: 30,
            gapMs: 3,
            seed,
            ...(deadlineMs === undefined ? {} : { deadlineMs }),
            execute: (run, { deadline }) => p.execute(run, { deadline }),
          });
          expect(checkHedgeInvariants(dependency, runs, { maxAttempts, budget })).toEqual([]);
          expect(dependency.inFlight).toBe(0);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
