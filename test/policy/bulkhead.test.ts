/** Rules of the bulkhead as the policy uses it: reject or queue, FIFO, a slot released on every path. */
import { describe, expect, it } from 'vitest';
import {
  BulkheadRejectedError,
  backoff,
  bulkhead,
  circuitBreaker,
  DeadlineExceededError,
  type PolicyOptions,
  policy,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { deferred, EventLog, never, outcome } from '../support/events.js';

describe('bulkhead', () => {
  it('over capacity rejects at once with BulkheadRejectedError', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 2 });
    const log = new EventLog();
    const p = policy({ clock, bulkhead: shared, onEvent: log.listener });
    const running = [p.execute(() => never()), p.execute(() => never())];
    let n = 0;
    const error = await p
      .execute(async () => {
        n++;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toMatchObject({ code: 'BREAKWATER_BULKHEAD_FULL', maxConcurrent: 2, maxQueue: 0 });
    expect(n).toBe(0);
    expect(log.of('bulkhead-rejected')).toMatchObject([{ active: 2, queued: 0 }]);
    expect(clock.created).toBe(0);
    for (const r of running) r.catch(() => {});
  });

  it('queues when maxQueue > 0, in FIFO order, and rejects once the queue is full', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const p = policy({ clock, bulkhead: shared });
    const gates = [deferred(), deferred(), deferred()];
    const order: number[] = [];
    const run = (i: number) =>
      p.execute(async () => {
        order.push(i);
        await gates[i]?.promise;
        return i;
      });
    const results = [run(0), run(1), run(2)];
    const overflow = outcome(run(3));
    expect(await overflow).toMatchObject({ ok: false, error: expect.any(BulkheadRejectedError) });
    expect([shared.active, shared.queued]).toEqual([1, 2]);
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(results)).toEqual([0, 1, 2]);
    expect(order).toEqual([0, 1, 2]);
    expect([shared.active, shared.queued]).toEqual([0, 0]);
  });

  it('holds its slot through backoff waits: retries add no concurrency', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1 });
    const p = policy({ clock, bulkhead: shared, retry: { maxAttempts: 3, backoff: backoff.constant(100) } });
    const first = clock.watch(p.execute(() => Promise.reject(new Error('x'))));
    await clock.advance(50); // waiting between attempts
    expect(shared.active).toBe(1);
    await expect(p.execute(async () => 'other')).rejects.toBeInstanceOf(BulkheadRejectedError);
    await clock.runAll();
    expect(first.settled?.status).toBe('rejected');
    expect(shared.active).toBe(0);
  });

  it('is shared by the policies that hold it', async () => {
    const shared = bulkhead({ maxConcurrent: 1 });
    const a = policy({ bulkhead: shared });
    const b = policy({ bulkhead: shared });
    const holder = a.execute(() => never());
    await expect(b.execute(async () => 1)).rejects.toBeInstanceOf(BulkheadRejectedError);
    holder.catch(() => {});
  });
});

describe('the slot is released on every path', () => {
  const paths: [string, PolicyOptions, () => unknown][] = [
    ['success', {}, () => Promise.resolve('ok')],
    ['sync value', {}, () => 'ok'],
    ['failure after retries', {}, () => Promise.reject(new Error('x'))],
    [
      'sync throw',
      {},
      () => {
        throw new Error('sync');
      },
    ],
    ['not retryable', {}, () => Promise.reject(new TypeError('t'))],
    ['attempt timeout', { attemptTimeout: 10 }, () => never()],
    ['deadline during an attempt', { deadline: 10 }, () => never()],
    ['deadline stops the retries', { deadline: 12 }, () => Promise.reject(new Error('x'))],
  ];
  for (const [label, options, fn] of paths) {
    it(label, async () => {
      const clock = new ManualClock();
      const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
      const p = policy({
        clock,
        bulkhead: shared,
        ...options,
        retry: { maxAttempts: 2, backoff: backoff.constant(5) },
      });
      const settled = await clock.settle(p.execute(fn));
      expect(settled.status).not.toBe('pending');
      expect([shared.active, shared.queued]).toEqual([0, 0]);
    });
  }

  it('caller abort during an attempt, during a wait, and while queued', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const p = policy({ clock, bulkhead: shared, retry: { maxAttempts: 3, backoff: backoff.constant(100) } });
    const c1 = new AbortController();
    const inAttempt = outcome(p.execute(() => never(), { signal: c1.signal }));
    const c2 = new AbortController();
    const queued = outcome(p.execute(() => Promise.reject(new Error('x')), { signal: c2.signal }));
    await clock.advance(1);
    expect([shared.active, shared.queued]).toEqual([1, 1]);
    c1.abort();
    await inAttempt;
    await clock.advance(10); // the queued call got the slot, failed, and waits
    expect([shared.active, shared.queued]).toEqual([1, 0]);
    c2.abort();
    await queued;
    expect([shared.active, shared.queued]).toEqual([0, 0]);

    const holder = p.execute(() => never());
    const c3 = new AbortController();
    const waiting = outcome(p.execute(async () => 1, { signal: c3.signal }));
    c3.abort();
    await waiting;
    expect([shared.active, shared.queued]).toEqual([1, 0]);
    holder.catch(() => {});
  });

  it('deadline while queued: rejects at the deadline and leaves the queue', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const log = new EventLog();
    const holderPolicy = policy({ clock, bulkhead: shared });
    const p = policy({ clock, bulkhead: shared, deadline: 100, onEvent: log.listener });
    const gate = deferred<string>();
    const holder = holderPolicy.execute(() => gate.promise);
    let n = 0;
    const t0 = clock.now();
    const settled = await clock.settle(
      p.execute(async () => {
        n++;
      }),
    );
    expect(settled).toMatchObject({ status: 'rejected', at: t0 + 100 });
    expect(settled.status === 'rejected' ? settled.reason : undefined).toBeInstanceOf(DeadlineExceededError);
    expect(n).toBe(0);
    expect([shared.active, shared.queued]).toEqual([1, 0]);
    expect(log.of('deadline-exceeded')).toMatchObject([{ attempt: 0 }]);
    gate.resolve('done');
    await holder;
    expect([shared.active, shared.queued]).toEqual([0, 0]);
  });

  it('circuit open after the slot was taken', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1 });
    const breaker = circuitBreaker({ clock, consecutiveFailures: 100 });
    const p = policy({
      clock,
      bulkhead: shared,
      circuitBreaker: breaker,
      retry: { maxAttempts: 3, backoff: backoff.constant(10) },
    });
    const result = clock.watch(p.execute(() => Promise.reject(new Error('x'))));
    await clock.advance(1);
    breaker.isolate();
    await clock.runAll();
    expect(result.settled?.status).toBe('rejected');
    expect([shared.active, shared.queued]).toEqual([0, 0]);
  });
});
