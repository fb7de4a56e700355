/**
 * Invariants of the engine, whatever happens to an operation: with retries or with up to
 * three hedged attempts in flight, attempt timeouts, deadlines and caller aborts, each
 * attempt's breaker permit is recorded or released exactly once, the budget hears each
 * operation once, the handler hears exactly one of success or failure, and nothing (timer,
 * listener, lane entry) is left once the operation settles.
 */
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttemptHandle } from '../../src/engine/attempt.js';
import type { OperationHandler } from '../../src/engine/handler.js';
import { type CircuitBreaker, circuitBreaker, type Policy, policy, retryBudget } from '../../src/index.js';
import { runOperation } from '../../src/policy.js';
import { ManualClock } from '../support/clock.js';

type Step = 'ok' | 'transient' | 'fatal' | 'hang' | 'throw';
const step = fc.constantFrom<Step>('ok', 'transient', 'fatal', 'hang', 'throw');

/** Counts every permit the breaker hands out and every record or release of one. */
function spyBreaker(breaker: CircuitBreaker): { granted: number; booked: number } {
  const counts = { granted: 0, booked: 0 };
  const acquire = breaker.acquire.bind(breaker);
  const record = breaker.record.bind(breaker);
  const release = breaker.release.bind(breaker);
  Object.assign(breaker, {
    acquire: () => {
      const permit = acquire();
      if (permit >= 0) counts.granted++;
      return permit;
    },
    record: (permit: number, error: unknown, failed: boolean, durationMs: number) => {
      counts.booked++;
      record(permit, error, failed, durationMs);
    },
    release: (permit: number) => {
      counts.booked++;
      release(permit);
    },
  });
  return counts;
}

/** A handler ending each attempt as `steps` says, on a later turn of the clock. */
class Scripted implements OperationHandler<string> {
  readonly ends: ('succeeded' | 'failed')[] = [];
  readonly attempts: AttemptHandle<string>[] = [];
  constructor(
    readonly steps: Step[],
    readonly clock: ManualClock,
  ) {}

  startAttempt(attempt: AttemptHandle<string>): void {
    this.attempts.push(attempt);
    const s = this.steps[attempt.attempt - 1] ?? 'ok';
    if (s === 'throw') throw Object.assign(new Error('thrown'), { code: 'ECONNRESET' });
    if (s === 'hang') return;
    // Like a transport, the answer is cancelled when the attempt's signal aborts.
    const timer = this.clock.setTimeout(() => {
      if (s === 'ok') attempt.succeed(`v${attempt.attempt}`);
      else
        attempt.fail(s === 'fatal' ? new TypeError('bad') : Object.assign(new Error('reset'), { code: 'E' }));
    }, 3 * attempt.attempt);
    attempt.signal.addEventListener('abort', () => this.clock.clearTimeout(timer), { once: true });
  }

  succeeded(): void {
    this.ends.push('succeeded');
  }

  failed(): void {
    this.ends.push('failed');
  }
}

describe('engine invariants', () => {
  it('permits booked once, the budget told once, one end per operation, nothing left behind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('retry', 'hedge'),
        fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
        async (scripts, mode, attemptTimeout, deadline, abortAt) => {
          const clock = new ManualClock();
          const breaker = circuitBreaker({ clock, consecutiveFailures: 1_000 });
          const counts = spyBreaker(breaker);
          const budget = retryBudget({ clock, ratio: 1, minPerSecond: 1_000 });
          let requests = 0;
          const onRequest = budget.onRequest.bind(budget);
          Object.assign(budget, {
            onRequest: () => {
              requests++;
              onRequest();
            },
          });
          const p: Policy = policy({
            clock,
            circuitBreaker: breaker,
            ...(attemptTimeout === undefined ? {} : { attemptTimeout }),
            retry: { maxAttempts: 3, budget, backoff: () => 2 },
            ...(mode === 'hedge' ? { hedge: { maxAttempts: 3, delay: 4 } } : {}),
          });
          const controller = new AbortController();
          const abortTimer =
            abortAt === undefined
              ? undefined
              : clock.setTimeout(() => controller.abort(new Error('gone')), abortAt);
          // An attempt that never answers ends only by a timeout, the deadline or an abort.
          const bounded = attemptTimeout !== undefined || deadline !== undefined || abortAt !== undefined;
          const handlers = scripts.map(
            (steps) =>
              new Scripted(bounded ? steps : steps.map((s) => (s === 'hang' ? 'transient' : s)), clock),
          );
          for (const handler of handlers) {
            runOperation(p, handler, {
              signal: controller.signal,
              ...(deadline === undefined ? {} : { deadline: clock.now() + deadline }),
            });
          }
          // Time passes until every operation has ended, and no further.
          for (let t = 0; t < 10_000 && handlers.some((h) => h.ends.length === 0); t++)
            await clock.advance(1);
          if (abortTimer !== undefined) clock.clearTimeout(abortTimer);
          expect(clock.pendingDelays()).toEqual([]);
          // Every operation ended once; at most 3 attempts each.
          for (const handler of handlers) {
            expect(handler.ends).toHaveLength(1);
            expect(handler.attempts.length).toBeLessThanOrEqual(3);
            for (const attempt of handler.attempts)
              expect((attempt as unknown as { ended: boolean }).ended).toBe(true);
          }
          expect(counts.booked).toBe(counts.granted);
          // Refused before starting (an aborted signal): no request; otherwise one each.
          expect(requests).toBeLessThanOrEqual(handlers.length);
          expect(requests).toBe(handlers.filter((h) => h.attempts.length > 0).length);
          expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
          const lanes = p as unknown as { deadlineLane: { size: number }; attemptLane: { size: number } };
          expect(lanes.deadlineLane.size + lanes.attemptLane.size).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
