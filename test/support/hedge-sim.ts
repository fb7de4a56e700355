/**
 * A simulated dependency for property tests of hedging (and of retries: the invariants
 * below hold for both), on the {@link ManualClock}.
 *
 * {@link SimDependency} answers each attempt after a latency drawn from a seeded
 * distribution (most near a median, a share `slowFactor` times slower), with a seeded share
 * of retryable and fatal failures, or as a test's own `plan` says. It reads the attempt's
 * signal like a real transport: an abort cancels its timer and rejects with the signal's
 * reason. It records every attempt: when it started and ended, how, and when its signal
 * aborted.
 *
 * {@link runSimulation} starts operations at seeded arrival times through the caller's
 * `execute` (e.g. `(fn, { deadline }) => policy.execute(fn, { deadline })`) and drives the
 * clock until all have settled. {@link checkHedgeInvariants} then lists every violation of:
 *   1. at most `maxAttempts` attempts per operation;
 *   2. no attempt starts at or after the operation's deadline;
 *   3. when the operation settles, every attempt still in flight has its signal aborted,
 *      at that same instant (the losers of a race, and everything after a fatal failure);
 *   4. the result is the first success: an operation during which an attempt succeeded
 *      resolves with the earliest success's value, at that instant;
 *   5. when every attempt failed (and no deadline, abort or rejection intervened), the
 *      error is the first attempt's error (hedging; pass `failure: 'last'` for retries);
 *   6. no more attempts beyond the first than the retry budget granted (with a
 *      {@link BudgetSpy} as the policy's budget).
 * and {@link SimDependency.inFlight} says whether any attempt is left running.
 *
 * Usage, once the engine hedges:
 * ```ts
 * const clock = new ManualClock();
 * const budget = new BudgetSpy(retryBudget({ clock }));
 * const p = policy({ clock, hedge: { maxAttempts: 3, delay: 10 }, retry: { budget } });
 * const dependency = new SimDependency({ clock, seed, medianMs: 5, slowShare: 0.1 });
 * const runs = await runSimulation({ clock, dependency, operations: 50, gapMs: 2, deadlineMs: 100,
 *   execute: (fn, { deadline }) => p.execute(fn, { deadline }) });
 * expect(checkHedgeInvariants(dependency, runs, { maxAttempts: 3, budget })).toEqual([]);
 * ```
 */
import type { RetryBudget } from '../../src/retry/budget.js';
import type { ManualClock, Settled } from './clock.js';
import { seeded } from './random.js';

/** How one attempt will end if nothing aborts it first. */
export interface AttemptPlan {
  readonly latencyMs: number;
  readonly outcome: 'success' | 'retryable' | 'fatal';
}

/** What an attempt needs of the context the policy hands it. */
export interface SimAttemptContext {
  readonly attempt: number;
  readonly signal: AbortSignal;
}

/** The failure a simulated attempt rejects with. */
export class SimError extends Error {
  override readonly name = 'SimError';
  constructor(
    readonly kind: 'retryable' | 'fatal',
    readonly operation: number,
    readonly attempt: number,
  ) {
    super(`${kind} failure of operation ${operation}, attempt ${attempt}`);
  }
}

/** One attempt as the dependency saw it. */
export interface SimAttempt {
  readonly operation: number;
  /** The attempt number the policy gave it (`ctx.attempt`). */
  readonly attempt: number;
  readonly startedAt: number;
  readonly plan: AttemptPlan;
  readonly signal: AbortSignal;
  /** How it ended: on its own, or aborted; undefined while in flight. */
  end: 'success' | 'retryable' | 'fatal' | 'aborted' | undefined;
  endedAt: number | undefined;
  /** Order among all attempt ends of this dependency (ties on the clock are ordered). */
  endSeq: number | undefined;
  /** The value or error it settled with. */
  value: string | undefined;
  error: unknown;
}

/** Options of {@link SimDependency}. */
export interface SimDependencyOptions {
  readonly clock: ManualClock;
  readonly seed: number;
  /** Median latency of a normal attempt, ms; normal ones are uniform in [0.5, 1.5] × this. @default 10 */
  readonly medianMs?: number;
  /** Share of attempts that are slow. @default 0.02 */
  readonly slowShare?: number;
  /** A slow attempt takes this many times the median. @default 50 */
  readonly slowFactor?: number;
  /** Share of attempts that fail with a retryable error. @default 0 */
  readonly retryableShare?: number;
  /** Share of attempts that fail with a fatal error. @default 0 */
  readonly fatalShare?: number;
  /** A script instead of the distribution: the plan of attempt `attempt` of operation `operation`. */
  readonly plan?: (operation: number, attempt: number, random: () => number) => AttemptPlan;
}

/** The seeded, scriptable dependency. */
export class SimDependency {
  readonly attempts: SimAttempt[] = [];
  readonly #clock: ManualClock;
  readonly #random: () => number;
  readonly #plan: (operation: number, attempt: number, random: () => number) => AttemptPlan;
  #operations = 0;
  #endSeq = 0;

  constructor(options: SimDependencyOptions) {
    this.#clock = options.clock;
    this.#random = seeded(options.seed);
    const median = options.medianMs ?? 10;
    const slowShare = options.slowShare ?? 0.02;
    const slowFactor = options.slowFactor ?? 50;
    const retryable = options.retryableShare ?? 0;
    const fatal = options.fatalShare ?? 0;
    this.#plan =
      options.plan ??
      ((_operation, _attempt, random) => {
        const slow = random() < slowShare;
        const latencyMs = slow ? median * slowFactor : median * (0.5 + random());
        const r = random();
        const outcome = r < fatal ? 'fatal' : r < fatal + retryable ? 'retryable' : 'success';
        return { latencyMs, outcome };
      });
  }

  /** A new operation: its number, and the function to hand to `execute`. */
  operation(): { readonly id: number; readonly fn: (ctx: SimAttemptContext) => Promise<string> } {
    const id = ++this.#operations;
    return { id, fn: (ctx) => this.call(id, ctx) };
  }

  /** Attempts of `operation`, in the order they started. */
  of(operation: number): SimAttempt[] {
    return this.attempts.filter((a) => a.operation === operation);
  }

  /** Attempts still running (neither ended nor aborted). */
  get inFlight(): number {
    return this.attempts.filter((a) => a.end === undefined).length;
  }

  /** One attempt of `operation`. */
  call(operation: number, ctx: SimAttemptContext): Promise<string> {
    const clock = this.#clock;
    const plan = this.#plan(operation, ctx.attempt, this.#random);
    const signal = ctx.signal;
    const record: SimAttempt = {
      operation,
      attempt: ctx.attempt,
      startedAt: clock.now(),
      plan,
      signal,
      end: undefined,
      endedAt: undefined,
      endSeq: undefined,
      value: undefined,
      error: undefined,
    };
    this.attempts.push(record);
    return new Promise<string>((resolve, reject) => {
      const finish = (end: NonNullable<SimAttempt['end']>) => {
        record.end = end;
        record.endedAt = clock.now();
        record.endSeq = ++this.#endSeq;
      };
      if (signal.aborted) {
        finish('aborted');
        record.error = signal.reason;
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        clock.clearTimeout(timer);
        finish('aborted');
        record.error = signal.reason;
        reject(signal.reason);
      };
      const timer = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        finish(plan.outcome);
        if (plan.outcome === 'success') {
          record.value = `operation ${operation}, attempt ${ctx.attempt}`;
          resolve(record.value);
        } else {
          record.error = new SimError(plan.outcome, operation, ctx.attempt);
          reject(record.error);
        }
      }, plan.latencyMs);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A retry budget that counts what it granted; pass it as the policy's budget. */
export class BudgetSpy implements RetryBudget {
  readonly kind: RetryBudget['kind'];
  granted = 0;
  refused = 0;
  readonly #inner: RetryBudget;

  constructor(inner: RetryBudget) {
    this.#inner = inner;
    this.kind = inner.kind;
  }

  onRequest(): void {
    this.#inner.onRequest();
  }
  onSuccess(): void {
    this.#inner.onSuccess();
  }
  onFailure(): void {
    this.#inner.onFailure();
  }
  tryRetry(): boolean {
    const ok = this.#inner.tryRetry();
    if (ok) this.granted++;
    else this.refused++;
    return ok;
  }
  available(): number {
    return this.#inner.available();
  }
}

/** One operation of a simulation. */
export interface SimRun {
  readonly operation: number;
  readonly startedAt: number;
  /** The absolute deadline passed to `execute`, if any. */
  readonly deadline: number | undefined;
  /** How and when it settled; undefined while pending. */
  readonly settled: Settled<string> | undefined;
}

/** Options of {@link runSimulation}. */
export interface SimulationOptions {
  readonly clock: ManualClock;
  readonly dependency: SimDependency;
  readonly operations: number;
  /** Mean gap between arrivals, ms (exponential gaps from `seed`; 0: all at once). */
  readonly gapMs: number;
  /** Each operation's deadline, ms after it starts; undefined: none. */
  readonly deadlineMs?: number;
  readonly seed?: number;
  /** Runs one operation: e.g. `(fn, { deadline }) => policy.execute(fn, { deadline })`. */
  readonly execute: (
    fn: (ctx: SimAttemptContext) => Promise<string>,
    options: { readonly deadline: number | undefined; readonly index: number },
  ) => Promise<string>;
  /** Stop driving the clock after this long, ms. @default 3_600_000 */
  readonly limitMs?: number;
}

/** Starts the operations at their arrival times and drives the clock until all settle. */
export async function runSimulation(options: SimulationOptions): Promise<SimRun[]> {
  const { clock, dependency } = options;
  const random = seeded(options.seed ?? 1);
  const runs: SimRun[] = [];
  let at = 0;
  for (let index = 0; index < options.operations; index++) {
    const delay = at;
    clock.setTimeout(() => {
      const op = dependency.operation();
      const now = clock.now();
      const deadline = options.deadlineMs === undefined ? undefined : now + options.deadlineMs;
      const watch = clock.watch(options.execute(op.fn, { deadline, index }));
      runs.push({
        operation: op.id,
        startedAt: now,
        deadline,
        get settled() {
          return watch.settled;
        },
      });
    }, delay);
    at += options.gapMs === 0 ? 0 : -Math.log(1 - random()) * options.gapMs;
  }
  await clock.runAll(options.limitMs ?? 3_600_000);
  return runs;
}

/** Options of {@link checkHedgeInvariants}. */
export interface InvariantOptions {
  readonly maxAttempts: number;
  /** The budget the policy drew on, to check that no attempt went ungranted. */
  readonly budget?: BudgetSpy;
  /**
   * Which error a failed operation must reject with when every attempt failed on its own:
   * the first attempt's (hedging, gRFC A6) or the last one's (retries).
   * @default 'first'
   */
  readonly failure?: 'first' | 'last';
}

/** Every violation of the invariants in the module comment, as readable lines; [] when none. */
export function checkHedgeInvariants(
  dependency: SimDependency,
  runs: readonly SimRun[],
  options: InvariantOptions,
): string[] {
  const problems: string[] = [];
  let beyondFirst = 0;
  for (const run of runs) {
    const name = `operation ${run.operation}`;
    const attempts = dependency.of(run.operation);
    const settled = run.settled;
    if (settled === undefined) {
      problems.push(`${name} never settled`);
      continue;
    }
    beyondFirst += Math.max(0, attempts.length - 1);
    // 1. maxAttempts
    if (attempts.length > options.maxAttempts) {
      problems.push(`${name} made ${attempts.length} attempts (maxAttempts ${options.maxAttempts})`);
    }
    // 2. the deadline
    for (const a of attempts) {
      if (run.deadline !== undefined && a.startedAt >= run.deadline) {
        problems.push(
          `${name} attempt ${a.attempt} started at ${a.startedAt}, at or after the deadline ${run.deadline}`,
        );
      }
      if (a.startedAt > settled.at) {
        problems.push(
          `${name} attempt ${a.attempt} started at ${a.startedAt}, after the operation settled at ${settled.at}`,
        );
      }
    }
    // 3. every attempt in flight when the operation settled is aborted then
    for (const a of attempts) {
      const endedBefore = a.end !== undefined && a.end !== 'aborted' && (a.endedAt as number) <= settled.at;
      if (endedBefore) continue;
      if (!a.signal.aborted) {
        problems.push(
          `${name} attempt ${a.attempt} was still in flight after the operation settled, its signal not aborted`,
        );
      } else if (a.end === 'aborted' && a.endedAt !== settled.at) {
        problems.push(
          `${name} attempt ${a.attempt} was aborted at ${a.endedAt}, not when the operation settled (${settled.at})`,
        );
      }
    }
    // 4. the first success wins
    const successes = attempts
      .filter((a) => a.end === 'success' && (a.endedAt as number) <= settled.at)
      .sort((x, y) => (x.endSeq as number) - (y.endSeq as number));
    const first = successes[0];
    if (first !== undefined) {
      if (settled.status !== 'fulfilled') {
        problems.push(`${name} rejected although attempt ${first.attempt} succeeded at ${first.endedAt}`);
      } else if (settled.value !== first.value) {
        problems.push(`${name} resolved with "${settled.value}", not the first success "${first.value}"`);
      } else if (settled.at !== first.endedAt) {
        problems.push(
          `${name} resolved at ${settled.at}, not when its first success came (${first.endedAt})`,
        );
      }
    } else if (settled.status === 'fulfilled') {
      problems.push(`${name} resolved with "${settled.value}", which no attempt returned`);
    }
    // 5. every attempt failed on its own: the first (or last) attempt's error
    const allFailed =
      attempts.length > 0 && attempts.every((a) => a.end === 'retryable' || a.end === 'fatal');
    if (settled.status === 'rejected' && allFailed && !attempts.some((a) => a.end === 'fatal')) {
      const byStart = [...attempts].sort((x, y) => x.startedAt - y.startedAt || x.attempt - y.attempt);
      const expected = options.failure === 'last' ? byStart[byStart.length - 1] : byStart[0];
      if (expected !== undefined && settled.reason !== expected.error) {
        problems.push(
          `${name} rejected with ${String(settled.reason)}, not the ${options.failure ?? 'first'} attempt's error (${String(expected.error)})`,
        );
      }
    }
  }
  // 6. the budget
  const budget = options.budget;
  if (budget !== undefined && beyondFirst > budget.granted) {
    problems.push(`${beyondFirst} attempts beyond the first, but the budget granted only ${budget.granted}`);
  }
  return problems;
}
