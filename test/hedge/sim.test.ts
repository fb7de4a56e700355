/**
 * The hedging simulation harness itself (test/support/hedge-sim.ts): its dependency is
 * seeded and honours aborts, its driver runs today's retrying policy to completion with
 * every invariant holding, and each invariant check catches the violation it names, shown
 * on hand-driven races.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoff, policy, retryBudget } from '../../src/index.js';
import { ManualClock, type Settled } from '../support/clock.js';
import {
  type AttemptPlan,
  BudgetSpy,
  checkHedgeInvariants,
  runSimulation,
  SimDependency,
  SimError,
  type SimRun,
} from '../support/hedge-sim.js';

/** A run record for a hand-driven operation, settled as `promise` settles. */
function handRun(clock: ManualClock, operation: number, promise: Promise<string>, deadline?: number): SimRun {
  const watch = clock.watch(promise);
  const startedAt = clock.now();
  return {
    operation,
    startedAt,
    deadline,
    get settled(): Settled<string> | undefined {
      return watch.settled;
    },
  };
}

/** A dependency whose attempt n follows plans[n - 1]. */
function scripted(clock: ManualClock, ...plans: AttemptPlan[]): SimDependency {
  return new SimDependency({
    clock,
    seed: 1,
    plan: (_operation, attempt) => plans[attempt - 1] ?? { latencyMs: 1, outcome: 'success' },
  });
}

describe('SimDependency', () => {
  it('draws the same plans from the same seed', async () => {
    const plans = async (seed: number) => {
      const clock = new ManualClock();
      const dependency = new SimDependency({ clock, seed, retryableShare: 0.2, fatalShare: 0.1 });
      for (let i = 0; i < 50; i++) {
        dependency
          .operation()
          .fn({ attempt: 1, signal: new AbortController().signal })
          .catch(() => {});
      }
      await clock.runAll();
      return dependency.attempts.map((a) => a.plan);
    };
    expect(await plans(7)).toEqual(await plans(7));
    expect(await plans(7)).not.toEqual(await plans(8));
  });

  it('makes a seeded share of attempts slow', () => {
    const clock = new ManualClock();
    const dependency = new SimDependency({ clock, seed: 3, medianMs: 10, slowShare: 0.1, slowFactor: 50 });
    const controllers = Array.from({ length: 2_000 }, () => new AbortController());
    for (const { signal } of controllers)
      dependency
        .operation()
        .fn({ attempt: 1, signal })
        .catch(() => {});
    const slow = dependency.attempts.filter((a) => a.plan.latencyMs === 500).length;
    expect(slow / 2_000).toBeGreaterThan(0.08);
    expect(slow / 2_000).toBeLessThan(0.12);
    for (const a of dependency.attempts) {
      if (a.plan.latencyMs !== 500) expect(a.plan.latencyMs).toBeGreaterThanOrEqual(5);
      if (a.plan.latencyMs !== 500) expect(a.plan.latencyMs).toBeLessThan(15);
    }
    for (const controller of controllers) controller.abort();
    expect(dependency.inFlight).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('rejects with the signal’s reason on abort, releases its timer, and records when', async () => {
    const clock = new ManualClock();
    const dependency = scripted(clock, { latencyMs: 100, outcome: 'success' });
    const controller = new AbortController();
    const op = dependency.operation();
    const watch = clock.watch(op.fn({ attempt: 1, signal: controller.signal }));
    await clock.advance(30);
    const reason = new Error('lost the race');
    controller.abort(reason);
    await clock.advance(0);
    expect(watch.settled).toMatchObject({ status: 'rejected', reason });
    expect(dependency.attempts[0]).toMatchObject({ end: 'aborted', endedAt: clock.now() });
    expect(clock.pending).toBe(0);
    // An attempt that starts with an aborted signal ends at once.
    const late = clock.watch(op.fn({ attempt: 2, signal: controller.signal }));
    await clock.advance(0);
    expect(late.settled).toMatchObject({ status: 'rejected', reason });
  });

  it('fails with SimError, retryable or fatal, as planned', async () => {
    const clock = new ManualClock();
    const dependency = scripted(
      clock,
      { latencyMs: 5, outcome: 'retryable' },
      { latencyMs: 5, outcome: 'fatal' },
    );
    const op = dependency.operation();
    const signal = new AbortController().signal;
    const a = clock.watch(op.fn({ attempt: 1, signal }));
    const b = clock.watch(op.fn({ attempt: 2, signal }));
    await clock.runAll();
    expect(a.settled?.status === 'rejected' && (a.settled.reason as SimError).kind).toBe('retryable');
    expect(b.settled?.status === 'rejected' && (b.settled.reason as SimError).kind).toBe('fatal');
  });
});

describe('runSimulation with today’s retrying policy', () => {
  it('holds every invariant that applies to retries (last error, budget, deadline, maxAttempts)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.option(fc.integer({ min: 5, max: 300 }), { nil: undefined }),
        async (seed, maxAttempts, deadlineMs) => {
          const clock = new ManualClock();
          const budget = new BudgetSpy(retryBudget({ ratio: 0.2, minPerSecond: 1, clock }));
          const p = policy({
            clock,
            random: () => 0.5,
            retry: {
              maxAttempts,
              backoff: backoff.constant(3),
              budget,
              retryOn: (error) => error instanceof SimError && error.kind === 'retryable',
            },
          });
          const dependency = new SimDependency({
            clock,
            seed,
            medianMs: 10,
            slowShare: 0.05,
            retryableShare: 0.3,
            fatalShare: 0.05,
          });
          const runs = await runSimulation({
            clock,
            dependency,
            operations: 40,
            gapMs: 4,
            seed,
            ...(deadlineMs === undefined ? {} : { deadlineMs }),
            execute: (fn, { deadline }) => p.execute(fn, { deadline }),
          });
          expect(runs).toHaveLength(40);
          expect(checkHedgeInvariants(dependency, runs, { maxAttempts, budget, failure: 'last' })).toEqual(
            [],
          );
          expect(dependency.inFlight).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('checkHedgeInvariants catches', () => {
  /** Original slow (100 ms), hedge fast (10 ms) sent at 5 ms: the hedge wins at 15 ms. */
  async function race(options: {
    abortLoser: 'at-once' | 'later' | 'never';
    settleWith: 'winner' | 'loser';
  }) {
    const clock = new ManualClock(0);
    const dependency = scripted(
      clock,
      { latencyMs: 100, outcome: 'success' },
      { latencyMs: 10, outcome: 'success' },
    );
    const op = dependency.operation();
    const first = new AbortController();
    const original = op.fn({ attempt: 1, signal: first.signal });
    original.catch(() => {});
    await clock.advance(5);
    const hedge = op.fn({ attempt: 2, signal: new AbortController().signal });
    if (options.abortLoser === 'at-once') hedge.then(() => first.abort(new Error('lost')));
    if (options.abortLoser === 'later')
      hedge.then(() => clock.setTimeout(() => first.abort(new Error('lost')), 1));
    const run = handRun(clock, op.id, options.settleWith === 'winner' ? hedge : original);
    await clock.runAll();
    return { dependency, run };
  }

  it('nothing in a correct race', async () => {
    const { dependency, run } = await race({ abortLoser: 'at-once', settleWith: 'winner' });
    expect(checkHedgeInvariants(dependency, [run], { maxAttempts: 2 })).toEqual([]);
  });

  it('a loser left running', async () => {
    const { dependency, run } = await race({ abortLoser: 'never', settleWith: 'winner' });
    expect(checkHedgeInvariants(dependency, [run], { maxAttempts: 2 })).toEqual([
      `operation ${run.operation} attempt 1 was still in flight after the operation settled, its signal not aborted`,
    ]);
  });

  it('a loser aborted late', async () => {
    const { dependency, run } = await race({ abortLoser: 'later', settleWith: 'winner' });
    expect(checkHedgeInvariants(dependency, [run], { maxAttempts: 2 })).toEqual([
      `operation ${run.operation} attempt 1 was aborted at 16, not when the operation settled (15)`,
    ]);
  });

  it('a result that is not the first success', async () => {
    const { dependency, run } = await race({ abortLoser: 'never', settleWith: 'loser' });
    expect(checkHedgeInvariants(dependency, [run], { maxAttempts: 2 })).toEqual([
      `operation ${run.operation} resolved with "operation ${run.operation}, attempt 1", not the first success "operation ${run.operation}, attempt 2"`,
    ]);
  });

  it('too many attempts, an attempt after the deadline, and hedges the budget never granted', async () => {
    const clock = new ManualClock(0);
    const dependency = scripted(
      clock,
      { latencyMs: 100, outcome: 'success' },
      { latencyMs: 10, outcome: 'success' },
    );
    const op = dependency.operation();
    const first = new AbortController();
    op.fn({ attempt: 1, signal: first.signal }).catch(() => {});
    await clock.advance(5);
    const hedge = op.fn({ attempt: 2, signal: new AbortController().signal });
    hedge.then(() => first.abort());
    const run = { ...handRun(clock, op.id, hedge), startedAt: 0, deadline: 5 };
    const watch = clock.watch(hedge);
    await clock.runAll();
    const budget = new BudgetSpy(retryBudget({ ratio: 0, minPerSecond: 0, clock }));
    const problems = checkHedgeInvariants(dependency, [{ ...run, settled: watch.settled }], {
      maxAttempts: 1,
      budget,
    });
    expect(problems).toEqual([
      `operation ${op.id} made 2 attempts (maxAttempts 1)`,
      `operation ${op.id} attempt 2 started at 5, at or after the deadline 5`,
      '1 attempts beyond the first, but the budget granted only 0',
    ]);
  });

  it('the wrong error when every attempt failed', async () => {
    const clock = new ManualClock(0);
    const dependency = scripted(
      clock,
      { latencyMs: 20, outcome: 'retryable' },
      { latencyMs: 5, outcome: 'retryable' },
    );
    const op = dependency.operation();
    const signal = new AbortController().signal;
    const original = op.fn({ attempt: 1, signal });
    original.catch(() => {});
    await clock.advance(1);
    const hedge = op.fn({ attempt: 2, signal });
    // Rejects with the hedge's error (the second attempt's), once both have failed.
    const operation = Promise.allSettled([original, hedge]).then(() => hedge);
    const run = handRun(clock, op.id, operation);
    await clock.runAll();
    expect(checkHedgeInvariants(dependency, [run], { maxAttempts: 2, failure: 'last' })).toEqual([]);
    expect(checkHedgeInvariants(dependency, [run], { maxAttempts: 2 })).toEqual([
      `operation ${op.id} rejected with SimError: retryable failure of operation ${op.id}, attempt 2, not the first attempt's error (SimError: retryable failure of operation ${op.id}, attempt 1)`,
    ]);
  });
});
