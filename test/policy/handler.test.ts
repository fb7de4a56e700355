/**
 * The operation handler (`runOperation`), how the adapters drive an operation: attempts
 * report through `succeed`/`fail` instead of promises. What the handler hears, and what
 * the policy books, must be what `execute` would have done.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LightSignal } from '../../src/abort.js';
import type { AttemptHandle } from '../../src/engine/attempt.js';
import type { OperationHandler } from '../../src/engine/handler.js';
import {
  type AttemptContext,
  AttemptTimeoutError,
  backoff,
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  DeadlineExceededError,
  type ExecuteOptions,
  type Policy,
  type PolicyOptions,
  policy,
} from '../../src/index.js';
import { runOperation } from '../../src/policy.js';
import { flush, ManualClock } from '../support/clock.js';

const attemptSucceeded = (ctx: AttemptContext, value: string): void =>
  (ctx as AttemptHandle<string>).succeed(value);
const attemptFailed = (ctx: AttemptContext, error: unknown): void =>
  (ctx as AttemptHandle<string>).fail(error);

const transient = (): Error => Object.assign(new Error('reset'), { code: 'ECONNRESET' });
const permanent = (): Error => new TypeError('bad request'); // a bug: never retried by default

/** An owner that records what it hears, and ends each attempt as `plan` says. */
class Recorder implements OperationHandler<string> {
  readonly contexts: AttemptContext[] = [];
  readonly outcomes: ({ ok: true; value: string } | { ok: false; error: unknown })[] = [];
  /** How each attempt ends, by number: synchronously, or left for the test to end. */
  plan: (ctx: AttemptContext) => 'pending' | (() => void) = () => 'pending';

  startAttempt(ctx: AttemptContext): void {
    this.contexts.push(ctx);
    const end = this.plan(ctx);
    if (end !== 'pending') end();
  }

  succeeded(value: string): void {
    this.outcomes.push({ ok: true, value });
  }

  failed(error: unknown): void {
    this.outcomes.push({ ok: false, error });
  }
}

const quick = (options: PolicyOptions = {}, clock = new ManualClock()): Policy =>
  policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(10) }, ...options });

describe('runOperation', () => {
  it('starts the first attempt at once and reports a success synchronously', () => {
    const owner = new Recorder();
    runOperation(quick(), owner);
    expect(owner.contexts).toHaveLength(1);
    expect(owner.contexts[0]?.attempt).toBe(1);
    attemptSucceeded(owner.contexts[0] as AttemptContext, 'v');
    expect(owner.outcomes).toEqual([{ ok: true, value: 'v' }]);
  });

  it('retries a failed first attempt with the next attempt number, after the backoff', async () => {
    const clock = new ManualClock();
    const owner = new Recorder();
    runOperation(quick({}, clock), owner);
    attemptFailed(owner.contexts[0] as AttemptContext, transient());
    await flush();
    expect(owner.contexts).toHaveLength(1); // waiting out the backoff
    await clock.advance(10);
    expect(owner.contexts.map((c) => c.attempt)).toEqual([1, 2]);
    attemptSucceeded(owner.contexts[1] as AttemptContext, 'second');
    await flush();
    expect(owner.outcomes).toEqual([{ ok: true, value: 'second' }]);
  });

  it('fails with the attempt’s own error when it is not retryable', async () => {
    const owner = new Recorder();
    runOperation(quick(), owner);
    const error = permanent();
    attemptFailed(owner.contexts[0] as AttemptContext, error);
    await flush();
    expect(owner.outcomes).toEqual([{ ok: false, error }]);
    expect(owner.contexts).toHaveLength(1);
  });

  it('takes the first report of an attempt and ignores the rest', async () => {
    const owner = new Recorder();
    runOperation(quick(), owner);
    const ctx = owner.contexts[0] as AttemptContext;
    attemptSucceeded(ctx, 'first');
    attemptSucceeded(ctx, 'again');
    attemptFailed(ctx, transient());
    await flush();
    expect(owner.outcomes).toEqual([{ ok: true, value: 'first' }]);
    expect(owner.contexts).toHaveLength(1);
  });

  it('fails an attempt whose start throws, and retries it', async () => {
    const clock = new ManualClock();
    const owner = new Recorder();
    owner.plan = (ctx) =>
      ctx.attempt === 1
        ? () => {
            throw transient();
          }
        : () => attemptSucceeded(ctx, 'after a throw');
    runOperation(quick({}, clock), owner);
    await clock.runAll();
    expect(owner.contexts).toHaveLength(2);
    expect(owner.outcomes).toEqual([{ ok: true, value: 'after a throw' }]);
  });

  it('lets an exception thrown after the attempt reported reach its thrower', async () => {
    const owner = new Recorder();
    const bug = new Error('thrown by a callback after the success');
    owner.plan = (ctx) => () => {
      attemptSucceeded(ctx, 'v');
      throw bug;
    };
    expect(() => runOperation(quick(), owner)).toThrow(bug);
    await flush();
    expect(owner.outcomes).toEqual([{ ok: true, value: 'v' }]);
  });

  it('books a success with the breaker', async () => {
    // Two consecutive failures open it: a success between them must be booked.
    const breaker = circuitBreaker({ consecutiveFailures: 2 });
    const p = quick({ circuitBreaker: breaker, retry: false });
    for (const outcome of ['fail', 'succeed', 'fail'] as const) {
      const owner = new Recorder();
      runOperation(p, owner);
      const ctx = owner.contexts[0] as AttemptContext;
      if (outcome === 'fail') attemptFailed(ctx, transient());
      else attemptSucceeded(ctx, 'ok');
      await flush();
    }
    expect(breaker.state).toBe('closed');
    const owner = new Recorder();
    runOperation(p, owner);
    attemptFailed(owner.contexts[0] as AttemptContext, transient());
    await flush();
    expect(breaker.state).toBe('open');
  });

  it('refuses without starting an attempt while the breaker is open', async () => {
    const breaker = circuitBreaker({ consecutiveFailures: 1 });
    const p = quick({ circuitBreaker: breaker, retry: false });
    const first = new Recorder();
    runOperation(p, first);
    attemptFailed(first.contexts[0] as AttemptContext, transient());
    await flush();
    const owner = new Recorder();
    runOperation(p, owner);
    await flush();
    expect(owner.contexts).toHaveLength(0);
    expect(owner.outcomes[0]?.ok).toBe(false);
    expect((owner.outcomes[0] as { error: unknown }).error).toBeInstanceOf(CircuitOpenError);
  });

  it('stops when the owner aborts its LightSignal and fails the attempt in flight', async () => {
    const clock = new ManualClock();
    const signal = new LightSignal();
    const owner = new Recorder();
    runOperation(quick({}, clock), owner, { signal: signal.asAbortSignal() });
    const reason = new Error('cancelled by the caller');
    signal.abort(reason);
    attemptFailed(owner.contexts[0] as AttemptContext, reason);
    await clock.runAll();
    expect(owner.outcomes).toEqual([{ ok: false, error: reason }]);
    expect(owner.contexts).toHaveLength(1); // not retried
  });

  it('gives the attempt the call’s idempotency key, on every attempt', async () => {
    const clock = new ManualClock();
    const owner = new Recorder();
    owner.plan = (ctx) =>
      ctx.attempt === 1 ? () => attemptFailed(ctx, transient()) : () => attemptSucceeded(ctx, 'ok');
    runOperation(quick({}, clock), owner, { idempotencyKey: 'order-42' });
    await clock.runAll();
    expect(owner.contexts.map((c) => c.idempotencyKey)).toEqual(['order-42', 'order-42']);
  });
});

describe('runOperation with an attempt timeout', () => {
  it('fails the attempt when its timeout fires, retries, and ignores its late report', async () => {
    const clock = new ManualClock();
    const owner = new Recorder();
    runOperation(quick({ attemptTimeout: 100 }, clock), owner);
    const first = owner.contexts[0] as AttemptContext;
    expect(first.attemptDeadline).toBe(clock.now() + 100);
    await clock.advance(100);
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBeInstanceOf(AttemptTimeoutError);
    await clock.advance(10); // the backoff
    expect(owner.contexts.map((c) => c.attempt)).toEqual([1, 2]);
    attemptSucceeded(first, 'too late');
    attemptSucceeded(owner.contexts[1] as AttemptContext, 'second');
    await flush();
    expect(owner.outcomes).toEqual([{ ok: true, value: 'second' }]);
  });

  it('disarms the timeout when the attempt succeeds in time', () => {
    const clock = new ManualClock();
    const owner = new Recorder();
    runOperation(quick({ attemptTimeout: 100 }, clock), owner);
    expect(clock.pendingDelays()).toEqual([100]);
    attemptSucceeded(owner.contexts[0] as AttemptContext, 'in time');
    expect(clock.pendingDelays()).toEqual([]);
    expect(owner.outcomes).toEqual([{ ok: true, value: 'in time' }]);
  });

  it('keeps the policy’s deadline over the attempts that follow a timeout', async () => {
    const clock = new ManualClock();
    const owner = new Recorder(); // attempts never answer
    const start = clock.now();
    runOperation(
      quick(
        { attemptTimeout: 100, deadline: 250, retry: { maxAttempts: 10, backoff: backoff.constant(10) } },
        clock,
      ),
      owner,
    );
    expect(owner.contexts[0]?.deadline).toBe(start + 250);
    await clock.runAll();
    expect(owner.outcomes).toHaveLength(1);
    expect((owner.outcomes[0] as { error: unknown }).error).toBeInstanceOf(DeadlineExceededError);
    expect(clock.now()).toBe(start + 250);
    expect(owner.contexts.map((c) => c.deadline)).toEqual(owner.contexts.map(() => start + 250));
  });
});

describe('runOperation with a bulkhead, a listener, a deadline or a signal', () => {
  const setups: [string, (clock: ManualClock) => { policy: Policy; options?: ExecuteOptions }][] = [
    ['a bulkhead', (clock) => ({ policy: quick({ bulkhead: bulkhead({ maxConcurrent: 4 }) }, clock) })],
    ['a listener', (clock) => ({ policy: quick({ onEvent: () => {} }, clock) })],
    [
      'a deadline of the call',
      (clock) => ({ policy: quick({}, clock), options: { deadline: clock.now() + 5_000 } }),
    ],
    [
      'a caller’s AbortSignal',
      (clock) => ({ policy: quick({}, clock), options: { signal: new AbortController().signal } }),
    ],
  ];

  for (const [name, setup] of setups) {
    it(`with ${name}: retries, then reports the success once`, async () => {
      const clock = new ManualClock();
      const { policy: p, options } = setup(clock);
      const owner = new Recorder();
      owner.plan = (ctx) =>
        ctx.attempt === 1 ? () => attemptFailed(ctx, transient()) : () => attemptSucceeded(ctx, 'ok');
      runOperation(p, owner, options);
      await clock.runAll();
      expect(owner.contexts.map((c) => c.attempt)).toEqual([1, 2]);
      expect(owner.outcomes).toEqual([{ ok: true, value: 'ok' }]);
    });

    it(`with ${name}: reports a failure once`, async () => {
      const clock = new ManualClock();
      const { policy: p, options } = setup(clock);
      const owner = new Recorder();
      const error = permanent();
      owner.plan = (ctx) => () => attemptFailed(ctx, error);
      runOperation(p, owner, options);
      await clock.runAll();
      expect(owner.outcomes).toEqual([{ ok: false, error }]);
    });
  }

  it('runs through the execute of a policy from another copy of breakwater', async () => {
    const real = quick();
    // Another copy's policy: its own execute, and contexts that are not this copy's.
    const foreign = {
      config: real.config,
      execute: <T>(fn: (ctx: AttemptContext) => T | PromiseLike<T>) =>
        real.execute((ctx) => fn({ ...ctx, attempt: ctx.attempt } as AttemptContext)),
      onEvent: real.onEvent.bind(real),
      with: real.with.bind(real),
    } as Policy;
    const owner = new Recorder();
    owner.plan = (ctx) => () => attemptSucceeded(ctx, 'foreign');
    runOperation(foreign, owner);
    await flush();
    expect(owner.outcomes).toEqual([{ ok: true, value: 'foreign' }]);
  });

  it('gives a policy from another copy a retryOn bound to its options', async () => {
    const clock = new ManualClock();
    const real = quick({}, clock);
    // An older copy may call an execute option's retryOn as a plain function.
    const foreign = {
      config: real.config,
      execute: <T>(fn: (ctx: AttemptContext) => T | PromiseLike<T>, options?: ExecuteOptions) => {
        const retryOn = options?.retryOn;
        return real.execute((ctx) => fn({ ...ctx, attempt: ctx.attempt } as AttemptContext), {
          retryOn: retryOn === undefined ? undefined : (error, ctx) => retryOn(error, ctx),
        });
      },
      onEvent: real.onEvent.bind(real),
      with: real.with.bind(real),
    } as Policy;
    const options = {
      verdicts: [] as number[],
      retryOn(this: { verdicts: number[] }, _error: unknown, ctx: AttemptContext) {
        this.verdicts.push(ctx.attempt);
        return true;
      },
    };
    const owner = new Recorder();
    owner.plan = (ctx) =>
      ctx.attempt === 1 ? () => attemptFailed(ctx, transient()) : () => attemptSucceeded(ctx, 'again');
    runOperation(foreign, owner, options);
    await clock.runAll();
    expect(options.verdicts).toEqual([1]);
    expect(owner.outcomes).toEqual([{ ok: true, value: 'again' }]);
  });

  it('lets an exception thrown after the attempt reported reach its thrower, with a listener too', async () => {
    const clock = new ManualClock();
    const owner = new Recorder();
    const bug = new Error('thrown by a callback after the success');
    owner.plan = (ctx) => () => {
      attemptSucceeded(ctx, 'v');
      throw bug;
    };
    // One path: what a listener changes is only that events are built.
    expect(() => runOperation(quick({ onEvent: () => {} }, clock), owner)).toThrow(bug);
    await clock.runAll();
    expect(owner.outcomes).toEqual([{ ok: true, value: 'v' }]);
    expect(owner.contexts).toHaveLength(1);
  });
});

describe('runOperation and execute agree', () => {
  type Step = 'ok' | 'transient' | 'permanent' | 'throw' | 'hang';
  const step = fc.constantFrom<Step>('ok', 'transient', 'permanent', 'throw', 'hang');

  it('on the outcome, the attempts made and the breaker’s state, for any sequence of attempt outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('plain', 'listener', 'timeout', 'timeout and deadline'),
        fc.boolean(),
        async (steps, shape, sync) => {
          const make = (clock: ManualClock) => {
            const breaker = circuitBreaker({ consecutiveFailures: 2 });
            const options: PolicyOptions = {
              circuitBreaker: breaker,
              ...(shape === 'listener' ? { onEvent: () => {} } : {}),
              ...(shape === 'plain' || shape === 'listener' ? {} : { attemptTimeout: 1_000 }),
              ...(shape === 'timeout and deadline' ? { deadline: 2_500 } : {}),
            };
            return { p: quick(options, clock), breaker };
          };
          // Without a timeout, an attempt that never answers would never end.
          const stepOf = (n: number): Step => {
            const s = steps[n - 1] ?? 'ok';
            return s === 'hang' && (shape === 'plain' || shape === 'listener') ? 'transient' : s;
          };
          const errorOf = (s: Step, n: number): Error =>
            s === 'permanent' ? Object.assign(permanent(), { n }) : Object.assign(transient(), { n });

          // execute
          const clockA = new ManualClock();
          const a = make(clockA);
          let attemptsA = 0;
          const watched = clockA.watch(
            a.p.execute(async (ctx) => {
              attemptsA++;
              const s = stepOf(ctx.attempt);
              if (s === 'ok') return `v${ctx.attempt}`;
              if (s === 'hang') return new Promise<string>(() => {});
              throw errorOf(s, ctx.attempt);
            }),
          );
          await clockA.runAll();

          // runOperation, each attempt ending synchronously or on a later turn
          const clockB = new ManualClock();
          const b = make(clockB);
          const owner = new Recorder();
          owner.plan = (ctx) => {
            const s = stepOf(ctx.attempt);
            if (s === 'hang') return 'pending';
            const end = (): void => {
              if (s === 'ok') attemptSucceeded(ctx, `v${ctx.attempt}`);
              else attemptFailed(ctx, errorOf(s, ctx.attempt));
            };
            if (s === 'throw')
              return () => {
                throw errorOf(s, ctx.attempt);
              };
            if (sync) return end;
            queueMicrotask(end);
            return 'pending';
          };
          runOperation(b.p, owner);
          await clockB.runAll();

          expect(owner.contexts).toHaveLength(attemptsA);
          expect(owner.outcomes).toHaveLength(1);
          const settled = watched.settled;
          const outcome = owner.outcomes[0];
          if (settled?.status === 'fulfilled') {
            expect(outcome).toEqual({ ok: true, value: settled.value });
          } else {
            expect(outcome?.ok).toBe(false);
            const got = (outcome as { error: Error }).error;
            const want = settled?.reason as Error;
            expect(got.constructor).toBe(want.constructor);
            expect((got as { n?: number }).n).toBe((want as { n?: number }).n);
          }
          expect(b.breaker.state).toBe(a.breaker.state);
        },
      ),
      { numRuns: 150 },
    );
  });
});
