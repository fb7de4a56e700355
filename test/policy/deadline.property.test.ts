/**
 * Property tests of the deadline rules under the manual clock. Arbitrary operations (some
 * concurrent, sharing one policy and so one timer lane), each with an arbitrary schedule
 * of attempts that hang, fail or succeed after some time, an arbitrary policy deadline,
 * attempt timeout, maxAttempts, backoff or server hint, per-call deadline, caller abort
 * and bulkhead. For every operation:
 *   (a) no attempt starts at or after its deadline (nor after its caller aborted);
 *   (b) it settles no later than its deadline (slack 0: the clock is exact);
 *   (c) it makes at most maxAttempts attempts;
 *   (d) rejecting with anything but a deadline, abort or bulkhead error, the error is
 *       the last attempt's own error object (or the AttemptTimeoutError its signal got);
 *   (e) a DeadlineExceededError means an attempt was in flight at the deadline (a wait
 *       that could not fit was never started), and its cause is the previous attempt's error;
 *   (f) with a listener: one attempt-end per attempt-start, one operation-end per operation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AttemptContext,
  AttemptTimeoutError,
  type Backoff,
  BulkheadRejectedError,
  backoff,
  bulkhead,
  DeadlineExceededError,
  type PolicyOptions,
  policy,
} from '../../src/index.js';
import { ManualClock, type Watch } from '../support/clock.js';
import { EventLog } from '../support/events.js';

/**
 * A duration in [min, max]: half the time a multiple of 50, so that expiries, failures,
 * waits and deadlines often coincide (the boundaries where off-by-one bugs live).
 */
function time(min: number, max: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min: Math.ceil(min / 50), max: Math.floor(max / 50) }).map((n) => n * 50),
    fc.integer({ min, max }),
  );
}

type Behaviour =
  | { kind: 'hang' }
  | { kind: 'fail'; after: number; sync: boolean }
  | { kind: 'succeed'; after: number };

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.constant({ kind: 'hang' as const }),
  fc.record({
    kind: fc.constant('fail' as const),
    after: time(0, 400),
    sync: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('succeed' as const), after: time(0, 400) }),
);

const operation = fc.record({
  startAt: time(0, 300),
  schedule: fc.array(behaviour, { minLength: 1, maxLength: 7 }),
  callDeadline: fc.option(time(-20, 2_500), { nil: undefined }),
  abortAt: fc.option(time(0, 2_500), { nil: undefined }),
});

const strategy: fc.Arbitrary<() => Backoff> = fc.oneof(
  time(0, 500).map((d) => () => backoff.constant(d)),
  fc
    .record({
      initialDelay: fc.integer({ min: 0, max: 200 }),
      extra: fc.integer({ min: 0, max: 800 }),
      multiplier: fc.integer({ min: 1, max: 3 }),
      jitter: fc.constantFrom('full' as const, 'equal' as const, 'decorrelated' as const, 'none' as const),
    })
    .map(
      ({ initialDelay, extra, multiplier, jitter }) =>
        () =>
          backoff.exponential({ initialDelay, maxDelay: initialDelay + extra, multiplier, jitter }),
    ),
);

const scenario = fc.record({
  deadline: fc.option(time(1, 2_000), { nil: undefined }),
  attemptTimeout: fc.option(time(1, 800), { nil: undefined }),
  maxAttempts: fc.integer({ min: 1, max: 6 }),
  backoff: strategy,
  hint: fc.option(time(0, 700), { nil: undefined }),
  randoms: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
    minLength: 1,
    maxLength: 8,
  }),
  listen: fc.boolean(),
  bulkhead: fc.option(
    fc.record({ maxConcurrent: fc.integer({ min: 1, max: 2 }), maxQueue: fc.integer({ min: 0, max: 2 }) }),
    { nil: undefined },
  ),
  operations: fc.array(operation, { minLength: 1, maxLength: 3 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

interface AttemptRecord {
  start: number;
  behaviour: Behaviour;
  ctx: AttemptContext;
  error?: Error;
  value?: string;
}

interface OpRecord {
  start: number;
  deadline: number | undefined;
  abortAt: number | undefined;
  abortReason: Error;
  attempts: AttemptRecord[];
  watch: Watch<string> | undefined;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

async function run(s: Scenario): Promise<void> {
  const clock = new ManualClock(0);
  const log = new EventLog();
  let r = 0;
  const options: PolicyOptions = {
    clock,
    random: () => s.randoms[r++ % s.randoms.length] ?? 0,
    retry: {
      maxAttempts: s.maxAttempts,
      backoff: s.backoff(),
      budget: false,
      ...(s.hint === undefined ? {} : { retryOn: () => ({ retry: true, after: s.hint as number }) }),
    },
  };
  if (s.deadline !== undefined) options.deadline = s.deadline;
  if (s.attemptTimeout !== undefined) options.attemptTimeout = s.attemptTimeout;
  if (s.listen) options.onEvent = log.listener;
  const shared = s.bulkhead === undefined ? undefined : bulkhead(s.bulkhead);
  if (shared !== undefined) options.bulkhead = shared;
  const p = policy(options);

  const ops: OpRecord[] = s.operations.map((o, index) => {
    const start = o.startAt;
    const callDeadline = o.callDeadline === undefined ? undefined : start + o.callDeadline;
    const own = s.deadline === undefined ? undefined : start + s.deadline;
    return {
      start,
      deadline: earliest(own, callDeadline),
      abortAt: o.abortAt === undefined ? undefined : start + o.abortAt,
      abortReason: new Error(`abort ${index}`),
      attempts: [],
      watch: undefined,
    };
  });
  const controllers = s.operations.map(() => new AbortController());
  // Starts first, aborts second: at equal times an operation starts before its abort.
  s.operations.forEach((o, index) => {
    const op = ops[index] as OpRecord;
    const controller = controllers[index] as AbortController;
    clock.setTimeout(() => {
      const fn = (ctx: AttemptContext): string | Promise<string> => {
        const b = o.schedule[Math.min(ctx.attempt, o.schedule.length) - 1] as Behaviour;
        const attempt: AttemptRecord = { start: clock.now(), behaviour: b, ctx };
        op.attempts.push(attempt);
        if (b.kind === 'hang') return new Promise<string>(() => {});
        if (b.kind === 'fail') {
          const error = new Error(`op ${index} attempt ${ctx.attempt}`);
          attempt.error = error;
          if (b.sync) throw error;
          return new Promise<string>((_, reject) => clock.setTimeout(() => reject(error), b.after));
        }
        const value = `op ${index} value ${ctx.attempt}`;
        attempt.value = value;
        return new Promise<string>((resolve) => clock.setTimeout(() => resolve(value), b.after));
      };
      const call: { key: string; signal: AbortSignal; deadline?: number } = {
        key: `op${index}`,
        signal: controller.signal,
      };
      if (o.callDeadline !== undefined) call.deadline = op.start + o.callDeadline;
      op.watch = clock.watch(p.execute(fn, call));
    }, op.start);
  });
  s.operations.forEach((_, index) => {
    const op = ops[index] as OpRecord;
    if (op.abortAt !== undefined) {
      const at = op.abortAt;
      clock.setTimeout(() => {
        if (op.watch?.settled === undefined) controllers[index]?.abort(op.abortReason);
      }, at);
    }
  });
  await clock.runAll(100_000);
  check(s, ops, log, shared);
}

/** How the operations ended, over all runs: the property must not hold vacuously. */
const seen = new Map<string, number>();
function saw(kind: string): void {
  seen.set(kind, (seen.get(kind) ?? 0) + 1);
}

/** An attempt's own error: the one it failed with, or the AttemptTimeoutError that ended it. */
function errorOf(a: AttemptRecord): unknown {
  return a.ctx.signal.aborted ? a.ctx.signal.reason : a.error;
}

function check(
  s: Scenario,
  ops: OpRecord[],
  log: EventLog,
  shared: ReturnType<typeof bulkhead> | undefined,
): void {
  let settledCount = 0;
  for (const op of ops) {
    const settled = op.watch?.settled;
    const attempts = op.attempts;
    // (c)
    expect(attempts.length).toBeLessThanOrEqual(s.maxAttempts);
    // (a)
    for (const a of attempts) {
      expect(a.start).toBeGreaterThanOrEqual(op.start);
      if (op.deadline !== undefined) expect(a.start).toBeLessThan(op.deadline);
      if (op.abortAt !== undefined) expect(a.start).toBeLessThanOrEqual(op.abortAt);
    }
    // (b)
    if (op.deadline !== undefined) {
      expect(settled).toBeDefined();
      expect(settled?.at).toBeLessThanOrEqual(Math.max(op.deadline, op.start));
    }
    if (settled === undefined) continue;
    settledCount++;
    if (op.abortAt !== undefined) expect(settled.at).toBeLessThanOrEqual(op.abortAt);
    const last = attempts.at(-1);
    if (settled.status === 'fulfilled') {
      saw('fulfilled');
      expect(last?.value).toBeDefined();
      expect(settled.value).toBe(last?.value);
      continue;
    }
    const reason = settled.reason;
    if (reason === op.abortReason) {
      saw('aborted');
      expect(settled.at).toBe(op.abortAt);
    } else if (reason instanceof BulkheadRejectedError) {
      saw('bulkhead');
      expect(attempts).toHaveLength(0);
      expect(settled.at).toBe(op.start);
    } else if (reason instanceof DeadlineExceededError) {
      // (e)
      saw(attempts.length > 1 ? 'deadline with cause' : 'deadline');
      expect(op.deadline).toBeDefined();
      const deadline = op.deadline as number;
      expect(settled.at).toBe(Math.max(deadline, op.start));
      if (last !== undefined) {
        const natural =
          last.behaviour.kind === 'hang' ? Number.POSITIVE_INFINITY : last.start + last.behaviour.after;
        const end = Math.min(
          natural,
          s.attemptTimeout === undefined ? natural : last.start + s.attemptTimeout,
        );
        expect(end).toBeGreaterThanOrEqual(deadline);
        const previous = attempts.at(-2);
        if (previous === undefined) expect(reason.cause).toBeUndefined();
        else expect(reason.cause).toBe(errorOf(previous));
      }
    } else {
      // (d)
      saw(reason instanceof AttemptTimeoutError ? 'timeout' : 'error');
      if (attempts.length > 1) saw('error after retries');
      expect(last).toBeDefined();
      expect(reason).toBe(errorOf(last as AttemptRecord));
      if (op.deadline !== undefined) expect(settled.at).toBeLessThanOrEqual(op.deadline);
    }
  }
  // (f)
  if (s.listen) {
    for (const [index, op] of ops.entries()) {
      const key = `op${index}`;
      const starts = log.of('attempt-start').filter((e) => e.key === key);
      const ends = log.of('attempt-end').filter((e) => e.key === key);
      expect(starts).toHaveLength(op.attempts.length);
      // An operation still pending (it hangs with no bound) has its last attempt in flight.
      const inFlight = op.watch?.settled === undefined && op.attempts.length > 0 ? 1 : 0;
      expect(ends).toHaveLength(op.attempts.length - inFlight);
    }
    expect(log.of('operation-end')).toHaveLength(settledCount);
  }
  if (shared !== undefined && settledCount === ops.length) {
    expect([shared.active, shared.queued]).toEqual([0, 0]);
  }
}

describe('deadline properties', () => {
  it('no attempt after the deadline, settles by it, attempts <= maxAttempts, the last error unchanged', async () => {
    await fc.assert(fc.asyncProperty(scenario, run), { numRuns: 300 });
    for (const kind of [
      'fulfilled',
      'aborted',
      'bulkhead',
      'deadline',
      'deadline with cause',
      'timeout',
      'error',
      'error after retries',
    ]) {
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(0);
    }
  });
});
