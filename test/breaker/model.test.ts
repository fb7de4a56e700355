/**
 * Model-based test of the circuit breaker: fast-check drives the real breaker and a small
 * reference model with the same random commands and compares them after every command.
 *
 * The model (model.ts) is written to be obviously correct rather than fast. Commands:
 * acquire, a whole call, end an admitted call (success, failure, slow, slow failure, a
 * failure isFailure ignores, or release with no verdict), advance time, read state, isolate
 * and reset. After every command the stored state and the log of state changes must agree;
 * an acquire must agree on admission and, when refused, on retryAfterMs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CircuitBreaker, circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { exponential } from '../../src/retry/backoff.js';
import { StepClock } from './helpers.js';
import { type Config, FAILURE, IGNORED, Model, type OpenDuration, type Outcome, SLOW_MS } from './model.js';

interface Real {
  breaker: CircuitBreaker;
  clock: StepClock;
  permits: number[];
  changes: string[];
}

type Command = fc.Command<Model, Real>;

/** Checks what every command must leave equal. */
function agree(m: Model, r: Real): void {
  // Plain comparisons first (this runs after every command); `expect` explains a mismatch.
  const same =
    r.breaker.current === m.state &&
    r.changes.length === m.changes.length &&
    r.changes.every((c, i) => c === m.changes[i]);
  if (!same) {
    expect(r.breaker.current).toBe(m.state);
    expect(r.changes).toEqual(m.changes);
  }
}

class Acquire implements Command {
  check = () => true;
  run(m: Model, r: Real): void {
    const admitted = m.acquire();
    const permit = r.breaker.acquire();
    if (permit >= 0 !== admitted) expect(permit >= 0, 'admitted').toBe(admitted);
    if (admitted) r.permits.push(permit);
    else if (r.breaker.retryAfterMs() !== m.lastRetryAfter) {
      expect(r.breaker.retryAfterMs(), 'retryAfterMs').toBe(m.lastRetryAfter);
    }
    agree(m, r);
  }
  toString = () => 'acquire';
}

class End implements Command {
  constructor(
    readonly pick: number,
    readonly outcome: Outcome | 'released',
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (m.calls.length === 0) return;
    const i = this.pick % m.calls.length;
    m.end(i, this.outcome);
    const [permit = -1] = r.permits.splice(i, 1);
    if (this.outcome === 'released') {
      r.breaker.release(permit);
    } else {
      const failed = this.outcome.endsWith('failure');
      const error = this.outcome === 'ignored-failure' ? IGNORED : failed ? FAILURE : undefined;
      const ms = this.outcome.startsWith('slow') ? SLOW_MS : SLOW_MS - 1;
      r.breaker.record(permit, error, failed, ms);
    }
    agree(m, r);
  }
  toString = () => `end(#${this.pick}, ${this.outcome})`;
}

/** A whole call: acquire, and if admitted, end it at once with an outcome. */
class Call implements Command {
  constructor(readonly outcome: Outcome) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const before = m.calls.length;
    new Acquire().run(m, r);
    if (m.calls.length === before) return; // refused
    // The call just admitted is the last of both lists.
    new End(before, this.outcome).run(m, r);
  }
  toString = () => `call(${this.outcome})`;
}

class Advance implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.clock.advance(this.ms); // the model shares the clock
    agree(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

class ReadState implements Command {
  check = () => true;
  run(m: Model, r: Real): void {
    const expected = m.readState();
    if (r.breaker.state !== expected) expect(r.breaker.current, 'state').toBe(expected);
    agree(m, r);
  }
  toString = () => 'state';
}

class Isolate implements Command {
  check = () => true;
  run(m: Model, r: Real): void {
    m.isolate();
    r.breaker.isolate();
    agree(m, r);
  }
  toString = () => 'isolate';
}

class Reset implements Command {
  check = () => true;
  run(m: Model, r: Real): void {
    m.reset();
    r.breaker.reset();
    agree(m, r);
  }
  toString = () => 'reset';
}

/** How the dependency behaves in a run: a mix of outcomes, so windows fill and wrap as well as trip. */
type Profile = 'healthy' | 'flaky' | 'failing';
const MIX: Record<Profile, Array<[Outcome | 'released', number]>> = {
  healthy: [
    ['success', 12],
    ['slow', 2],
    ['failure', 1],
    ['slow-failure', 1],
    ['ignored-failure', 1],
    ['released', 1],
  ],
  flaky: [
    ['success', 4],
    ['failure', 3],
    ['slow', 2],
    ['slow-failure', 1],
    ['ignored-failure', 1],
    ['released', 1],
  ],
  failing: [
    ['failure', 6],
    ['success', 2],
    ['slow-failure', 1],
    ['slow', 1],
    ['ignored-failure', 1],
    ['released', 1],
  ],
};

/**
 * Commands in one weighted arbitrary (resets and isolation rare enough for state to build
 * up), with time steps scaled to the configuration: within a bucket, one bucket, a window,
 * an open duration.
 */
function commands(profile: Profile, cfg: Config) {
  const outcome = fc.oneof(...MIX[profile].map(([o, weight]) => ({ weight, arbitrary: fc.constant(o) })));
  const finished = outcome.filter((o): o is Outcome => o !== 'released');
  const end = fc.tuple(fc.nat(20), outcome).map(([pick, o]): Command => new End(pick, o));
  const w = cfg.window;
  const windowMs = w?.type === 'time' ? w.durationMs : 1_000;
  const bucketMs = w?.type === 'time' ? w.durationMs / w.buckets : 100;
  const openMs = typeof cfg.openDuration === 'number' ? cfg.openDuration : cfg.openDuration.initialDelay;
  const advance = fc
    .oneof(
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: Math.ceil(bucketMs * 1.5) }),
      fc.integer({ min: 0, max: Math.ceil(windowMs * 1.2) }),
      fc.constantFrom(Math.ceil(bucketMs), openMs, openMs * 4),
    )
    .map((ms): Command => new Advance(ms));
  return fc.commands(
    [
      fc.oneof(
        { weight: 10, arbitrary: finished.map((o): Command => new Call(o)) },
        { weight: 4, arbitrary: fc.constant<Command>(new Acquire()) },
        { weight: 4, arbitrary: end },
        { weight: 6, arbitrary: advance },
        { weight: 2, arbitrary: fc.constant<Command>(new ReadState()) },
        { weight: 1, arbitrary: fc.constant<Command>(new Reset()) },
        { weight: 1, arbitrary: fc.constant<Command>(new Isolate()) },
      ),
    ],
    { maxCommands: 100, size: 'max' },
  );
}

/** A configuration, the dependency's behaviour, a start time and the commands. */
const scenario = (configs: fc.Arbitrary<Config>) =>
  fc
    .tuple(configs, fc.constantFrom<Profile>('healthy', 'flaky', 'failing'))
    .chain(([cfg, profile]) =>
      fc.tuple(fc.constant(cfg), fc.integer({ min: 0, max: 2e12 }), commands(profile, cfg)),
    );

const common = {
  failureRateThreshold: fc.constantFrom(0.07, 0.25, 0.28, 0.3, 0.5, 0.51, 0.56, 0.75, 1),
  openDuration: fc.oneof(
    fc.constantFrom<OpenDuration>(0, 1, 50, 1_000),
    fc.constant<OpenDuration>({ initialDelay: 10, maxDelay: 200, multiplier: 2 }),
  ),
  maxProbes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 4 }),
  slowCall: fc.option(
    fc.record({ durationMs: fc.constant(SLOW_MS), rateThreshold: fc.constantFrom(0.3, 0.5, 1) }),
    { nil: undefined },
  ),
  consecutiveFailures: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
};

const countConfig: fc.Arbitrary<Config> = fc
  .record({ ...common, size: fc.integer({ min: 1, max: 12 }), minimumCalls: fc.integer({ min: 1, max: 12 }) })
  .map(({ size, minimumCalls, ...rest }) => ({
    ...rest,
    window: { type: 'count', size },
    minimumCalls: Math.min(size, minimumCalls),
  }));

const timeConfig: fc.Arbitrary<Config> = fc
  .record({
    ...common,
    durationMs: fc.constantFrom(100, 350, 999, 1_000),
    buckets: fc.integer({ min: 1, max: 10 }),
    minimumCalls: fc.integer({ min: 1, max: 10 }),
  })
  .map(({ durationMs, buckets, ...rest }) => ({ ...rest, window: { type: 'time', durationMs, buckets } }));

const consecutiveConfig: fc.Arbitrary<Config> = fc
  .record({ ...common, consecutiveFailures: fc.integer({ min: 1, max: 5 }) })
  .map((c) => ({ ...c, window: undefined, slowCall: undefined, minimumCalls: 1 }));

/** Builds the real breaker from a model config. */
function build(cfg: Config, clock: StepClock): CircuitBreaker {
  const d = cfg.openDuration;
  return circuitBreaker({
    ...(cfg.window === undefined
      ? {}
      : {
          window: cfg.window,
          failureRateThreshold: cfg.failureRateThreshold,
          minimumCalls: cfg.minimumCalls,
        }),
    ...(cfg.consecutiveFailures > 0 ? { consecutiveFailures: cfg.consecutiveFailures } : {}),
    ...(cfg.slowCall === undefined ? {} : { slowCall: cfg.slowCall }),
    openDuration: typeof d === 'number' ? d : exponential({ ...d, jitter: 'none' }),
    halfOpen: { maxProbes: cfg.maxProbes, successThreshold: cfg.successThreshold },
    isFailure: (error) => error !== IGNORED,
    clock,
  });
}

function check(configs: fc.Arbitrary<Config>, numRuns: number): void {
  fc.assert(
    fc.property(scenario(configs), ([cfg, start, cmds]) => {
      const clock = new StepClock(start);
      const breaker = build(cfg, clock);
      const real: Real = { breaker, clock, permits: [], changes: [] };
      breaker.onStateChange((c) => real.changes.push(`${c.from}>${c.to}`));
      fc.modelRun(() => ({ model: new Model(cfg, clock), real }), cmds);
    }),
    { numRuns },
  );
}

describe('circuit breaker against a reference model', () => {
  it('count window (with slow calls, consecutive failures, half-open probing, isolate and reset)', () => {
    check(countConfig, 500);
  });

  it('time window (bucket expiry on the injected clock)', () => {
    check(timeConfig, 1_000);
  });

  it('pure consecutive-failures mode', () => {
    check(consecutiveConfig, 200);
  });
});
