/** Rules of the caller's signal: prompt rejection with its reason, no further attempt, no listener left. */
import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import {
  backoff,
  bulkhead,
  circuitBreaker,
  DeadlineExceededError,
  type PolicyOptions,
  policy,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog, never, outcome } from '../support/events.js';

describe('caller abort', () => {
  it('during an attempt: rejects at once with signal.reason and aborts the attempt signal', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const retryOn = vi.fn(() => true);
    const p = policy({ clock, onEvent: log.listener, retry: { maxAttempts: 5, retryOn } });
    const controller = new AbortController();
    const reason = new Error('client went away');
    let attemptSignal: AbortSignal | undefined;
    let n = 0;
    const result = outcome(
      p.execute(
        (ctx) => {
          n++;
          attemptSignal = ctx.signal;
          return never();
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(10);
    controller.abort(reason);
    const settled = await result; // no clock movement needed: prompt
    expect(settled).toEqual({ ok: false, error: reason });
    expect(attemptSignal?.aborted).toBe(true);
    expect(attemptSignal?.reason).toBe(reason);
    await clock.runAll();
    expect(n).toBe(1);
    expect(retryOn).not.toHaveBeenCalled();
    expect(log.of('attempt-end')).toMatchObject([{ outcome: 'aborted', error: reason }]);
    expect(log.of('operation-end')).toMatchObject([{ outcome: 'failure', error: reason, attempts: 1 }]);
  });

  it('during a backoff wait: rejects at once, no further attempt, the wait timer is cleared', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 5, backoff: backoff.constant(10_000) } });
    const controller = new AbortController();
    let n = 0;
    const result = outcome(
      p.execute(
        async () => {
          n++;
          throw new Error('fail');
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(100);
    expect(clock.pending).toBe(1); // the 10 s wait
    controller.abort('stop waiting');
    expect(await result).toEqual({ ok: false, error: 'stop waiting' });
    expect(clock.pending).toBe(0);
    await clock.runAll();
    expect(n).toBe(1);
  });

  it('while queued in a bulkhead: rejects at once and leaves the queue', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const p = policy({ clock, bulkhead: shared });
    const holder = p.execute(() => never());
    const controller = new AbortController();
    let n = 0;
    const queued = outcome(
      p.execute(
        async () => {
          n++;
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(1);
    expect(shared.queued).toBe(1);
    const reason = new Error('not waiting any more');
    controller.abort(reason);
    expect(await queued).toEqual({ ok: false, error: reason });
    expect(shared.queued).toBe(0);
    expect(shared.active).toBe(1);
    expect(n).toBe(0);
    holder.catch(() => {});
  });

  it('an already aborted signal rejects without any attempt', async () => {
    const p = policy();
    const reason = new Error('already');
    let n = 0;
    await expect(
      p.execute(
        async () => {
          n++;
        },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(n).toBe(0);
  });

  it('abort() without a reason rejects with the AbortError the signal carries', async () => {
    const controller = new AbortController();
    const result = policy().execute(() => never(), { signal: controller.signal });
    controller.abort();
    const error = await result.catch((e: unknown) => e);
    expect(error).toBe(controller.signal.reason);
    expect(error).toMatchObject({ name: 'AbortError' });
  });

  it('an abort after the operation settled changes nothing', async () => {
    const log = new EventLog();
    const p = policy({ onEvent: log.listener });
    const controller = new AbortController();
    await expect(p.execute(async () => 'done', { signal: controller.signal })).resolves.toBe('done');
    const count = log.events.length;
    controller.abort();
    expect(log.events).toHaveLength(count);
  });

  it('an abort does not open the breaker', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1 });
    const p = policy({ clock, circuitBreaker: breaker });
    const controller = new AbortController();
    const result = outcome(p.execute(() => never(), { signal: controller.signal }));
    controller.abort();
    await result;
    expect(breaker.state).toBe('closed');
  });
});

describe('the caller-abort listener is removed on every path', () => {
  const paths: [string, PolicyOptions, (clock: ManualClock) => unknown][] = [
    ['success', {}, () => Promise.resolve('ok')],
    ['failure', {}, () => Promise.reject(new Error('x'))],
    [
      'sync throw',
      {},
      () => {
        throw new Error('sync');
      },
    ],
    ['attempt timeout', { attemptTimeout: 10 }, () => never()],
    ['deadline', { deadline: 10 }, () => never()],
    ['non-retryable', {}, () => Promise.reject(new TypeError('t'))],
  ];
  for (const [label, options, fn] of paths) {
    it(label, async () => {
      const clock = new ManualClock();
      const p = policy({ clock, ...options, retry: { maxAttempts: 2, backoff: backoff.constant(5) } });
      const controller = new AbortController();
      const settled = await clock.settle(p.execute(() => fn(clock), { signal: controller.signal }));
      expect(settled.status).not.toBe('pending');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    });
  }

  it('circuit open, bulkhead full, deadline already past, aborted', async () => {
    const clock = new ManualClock();
    const open = circuitBreaker({ clock, initialState: { state: 'isolated' } });
    const full = bulkhead({ maxConcurrent: 1 });
    const holder = policy({ clock, bulkhead: full }).execute(() => never());
    const controller = new AbortController();
    const signal = controller.signal;
    await expect(
      policy({ clock, circuitBreaker: open }).execute(async () => 1, { signal }),
    ).rejects.toMatchObject({
      code: 'BREAKWATER_CIRCUIT_OPEN',
    });
    await expect(policy({ clock, bulkhead: full }).execute(async () => 1, { signal })).rejects.toMatchObject({
      code: 'BREAKWATER_BULKHEAD_FULL',
    });
    await expect(
      policy({ clock }).execute(async () => 1, { signal, deadline: clock.now() - 1 }),
    ).rejects.toBeInstanceOf(DeadlineExceededError);
    const aborted = policy({ clock }).execute(() => never(), { signal });
    controller.abort();
    await expect(aborted).rejects.toBe(signal.reason);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    holder.catch(() => {});
  });

  it('a queued call that gets its slot', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const p = policy({ clock, bulkhead: shared });
    const first = p.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve(1), 10)));
    const controller = new AbortController();
    const second = p.execute(async () => 2, { signal: controller.signal });
    await clock.runAll();
    await expect(first).resolves.toBe(1);
    await expect(second).resolves.toBe(2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
