/**
 * Fallback in the core: every way an operation fails reaches the policy's fallback (retries
 * exhausted, hedges exhausted, an open breaker, a full bulkhead, the deadline), the caller's
 * own abort does not, `shouldFallback` chooses, a failing fallback becomes the error, and
 * `fallback-used` comes before `operation-end`. Time is a manual clock.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AttemptContext,
  BulkheadRejectedError,
  backoff,
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  DeadlineExceededError,
  type FallbackContext,
  InvalidOptionsError,
  policy,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { deferred, EventLog } from '../support/events.js';

const quick = backoff.constant(1);
const transient = (n: number): Error => Object.assign(new Error(`reset #${n}`), { code: 'ECONNRESET' });

/** A fallback that records what it was called with and answers `value`. */
function recording<T>(value: T) {
  const calls: { error: unknown; context: FallbackContext }[] = [];
  const fallback = (error: unknown, context: FallbackContext): T => {
    calls.push({ error, context });
    return value;
  };
  return { calls, fallback };
}

describe('fallback', () => {
  it('answers when retries run out, with the last error and the attempts made', async () => {
    const clock = new ManualClock();
    const { calls, fallback } = recording('cached');
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: quick }, fallback });
    let n = 0;
    const call = clock.watch(
      p.execute(() => {
        n++;
        throw transient(n);
      }),
    );
    await clock.runAll();
    expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'cached' });
    expect(n).toBe(3);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.error).toMatchObject({ message: 'reset #3' });
    expect(calls[0]?.context.attempts).toBe(3);
  });

  it('answers when every hedge failed, with the first attempt’s error', async () => {
    const clock = new ManualClock();
    const { calls, fallback } = recording('cached');
    const p = policy({ clock, hedge: { maxAttempts: 2, delay: 10 }, fallback });
    let n = 0;
    const call = clock.watch(
      p.execute(() => {
        n++;
        return Promise.reject(transient(n));
      }),
    );
    await clock.runAll();
    expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'cached' });
    expect(calls[0]?.error).toMatchObject({ message: 'reset #1' });
    expect(calls[0]?.context.attempts).toBe(2);
  });

  it('answers an open breaker without an attempt', async () => {
    const breaker = circuitBreaker();
    breaker.isolate();
    const { calls, fallback } = recording(0);
    const p = policy({ circuitBreaker: breaker, fallback });
    let ran = false;
    const value = await p.execute(() => {
      ran = true;
      return 1;
    });
    expect(value).toBe(0);
    expect(ran).toBe(false);
    expect(calls[0]?.error).toBeInstanceOf(CircuitOpenError);
    expect(calls[0]?.context.attempts).toBe(0);
  });

  it('answers a full bulkhead', async () => {
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    const { calls, fallback } = recording('busy');
    const p = policy({ bulkhead: shared, retry: false, fallback });
    const gate = deferred<string>();
    const first = p.execute(() => gate.promise);
    await expect(p.execute(() => 'second')).resolves.toBe('busy');
    expect(calls[0]?.error).toBeInstanceOf(BulkheadRejectedError);
    gate.resolve('first');
    await expect(first).resolves.toBe('first');
    expect(calls).toHaveLength(1);
  });

  it('answers the deadline, and the attempt in flight is aborted', async () => {
    const clock = new ManualClock();
    const { calls, fallback } = recording('late');
    const p = policy({ clock, deadline: 100, fallback });
    let seen: AttemptContext | undefined;
    const call = clock.watch(
      p.execute((ctx) => {
        seen = ctx;
        return new Promise<string>(() => {});
      }),
    );
    await clock.advance(100);
    expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'late', at: clock.now() });
    expect(calls[0]?.error).toBeInstanceOf(DeadlineExceededError);
    expect(seen?.signal.aborted).toBe(true);
  });

  it('does not answer the caller’s own abort', async () => {
    const clock = new ManualClock();
    const { calls, fallback } = recording('never');
    const p = policy({ clock, fallback });
    const controller = new AbortController();
    const reason = new Error('caller left');
    const call = clock.watch(p.execute(() => new Promise<string>(() => {}), { signal: controller.signal }));
    controller.abort(reason);
    await clock.advance(0);
    expect(call.settled).toMatchObject({ status: 'rejected', reason });
    expect(calls).toHaveLength(0);
  });

  it('shouldFallback chooses which failures it answers', async () => {
    const { calls, fallback } = recording('default');
    const p = policy({
      retry: false,
      fallback,
      shouldFallback: (error) => (error as Error).message !== 'bad request',
    });
    await expect(p.execute(() => Promise.reject(new Error('bad request')))).rejects.toThrow('bad request');
    await expect(p.execute(() => Promise.reject(new Error('unavailable')))).resolves.toBe('default');
    expect(calls.map((c) => (c.error as Error).message)).toEqual(['unavailable']);
  });

  it('a fallback that throws or rejects fails the operation with its own error', async () => {
    const thrown = new Error('no cache either');
    const throwing = policy({
      retry: false,
      fallback: () => {
        throw thrown;
      },
    });
    await expect(throwing.execute(() => Promise.reject(new Error('down')))).rejects.toBe(thrown);
    const rejecting = policy({ retry: false, fallback: () => Promise.reject(thrown) });
    await expect(rejecting.execute(() => Promise.reject(new Error('down')))).rejects.toBe(thrown);
  });

  it('a fallback that resolves later answers with its value', async () => {
    const p = policy({ retry: false, fallback: async () => 'from cache' });
    await expect(p.execute(() => Promise.reject(new Error('down')))).resolves.toBe('from cache');
  });

  it('emits fallback-used, with the error, before operation-end', async () => {
    const log = new EventLog();
    const failure = new Error('down');
    const p = policy({ retry: false, onEvent: log.listener, fallback: () => 'x' });
    await p.execute(() => Promise.reject(failure));
    const types = log.types;
    expect(types.indexOf('fallback-used')).toBeGreaterThan(-1);
    expect(types.indexOf('fallback-used')).toBe(types.indexOf('operation-end') - 1);
    expect(log.of('fallback-used')[0]).toMatchObject({ attempts: 1, error: failure });
  });

  it('emits no fallback-used for a success, nor for a failure shouldFallback refuses', async () => {
    const log = new EventLog();
    const p = policy({
      retry: false,
      onEvent: log.listener,
      fallback: () => 'x',
      shouldFallback: () => false,
    });
    await p.execute(() => 'fine');
    await expect(p.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(log.of('fallback-used')).toHaveLength(0);
  });

  it('property: the fallback runs exactly when the operation fails and shouldFallback agrees', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (outcomes, answer) => {
          const clock = new ManualClock();
          let fallbacks = 0;
          const p = policy({
            clock,
            retry: { maxAttempts: outcomes.length, backoff: quick },
            fallback: () => {
              fallbacks++;
              return 'fallback';
            },
            shouldFallback: () => answer,
          });
          let n = 0;
          const call = clock.watch(
            p.execute(() => {
              const ok = outcomes[n++];
              return ok === true ? 'ok' : Promise.reject(transient(n));
            }),
          );
          await clock.runAll();
          const succeeded = outcomes.includes(true);
          expect(fallbacks).toBe(!succeeded && answer ? 1 : 0);
          if (succeeded) expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'ok' });
          else if (answer) expect(call.settled).toMatchObject({ status: 'fulfilled', value: 'fallback' });
          else expect(call.settled?.status).toBe('rejected');
        },
      ),
      { numRuns: 50 },
    );
  });

  it('does not answer invalid execute options (a bug of the caller), with or without listeners', async () => {
    for (const onEvent of [undefined, () => {}]) {
      const { calls, fallback } = recording('x');
      const p = policy({ fallback, onEvent });
      await expect(p.execute(() => 1, { timeout: -1 })).rejects.toBeInstanceOf(InvalidOptionsError);
      expect(calls).toHaveLength(0);
    }
  });

  it('rejects a fallback or shouldFallback that is not a function', () => {
    expect(() => policy({ fallback: 'cached' as never })).toThrow(InvalidOptionsError);
    expect(() => policy({ fallback: () => 1, shouldFallback: true as never })).toThrow(/shouldFallback/);
  });
});
