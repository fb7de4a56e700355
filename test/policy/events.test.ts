/** Rules of the event stream: every event at the right moment with the right fields. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AttemptTimeoutError,
  backoff,
  bulkhead,
  circuitBreaker,
  DeadlineExceededError,
  type PolicyOptions,
  policy,
  retryBudget,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog, never } from '../support/events.js';

function setup(options: PolicyOptions = {}) {
  const clock = new ManualClock();
  const log = new EventLog();
  const p = policy({ name: 'orders', clock, onEvent: log.listener, ...options });
  return { clock, log, p, t0: clock.now() };
}

describe('events of a retried operation', () => {
  it('attempt-start/end, retry-scheduled and operation-end, in order, with their fields', async () => {
    const { clock, log, p, t0 } = setup({ retry: { maxAttempts: 3, backoff: backoff.constant(100) } });
    const error = new Error('first');
    const settled = await clock.settle(
      p.execute(
        (ctx) =>
          new Promise((resolve, reject) =>
            clock.setTimeout(() => (ctx.attempt === 1 ? reject(error) : resolve('ok')), 30),
          ),
        { key: 'k' },
      ),
    );
    expect(settled.status).toBe('fulfilled');
    expect(log.events).toEqual([
      { type: 'attempt-start', policy: 'orders', at: t0, attempt: 1, key: 'k' },
      {
        type: 'attempt-end',
        policy: 'orders',
        at: t0 + 30,
        attempt: 1,
        key: 'k',
        durationMs: 30,
        outcome: 'failure',
        error,
      },
      {
        type: 'retry-scheduled',
        policy: 'orders',
        at: t0 + 30,
        attempt: 1,
        delayMs: 100,
        reason: 'backoff',
        error,
      },
      { type: 'attempt-start', policy: 'orders', at: t0 + 130, attempt: 2, key: 'k' },
      {
        type: 'attempt-end',
        policy: 'orders',
        at: t0 + 160,
        attempt: 2,
        key: 'k',
        durationMs: 30,
        outcome: 'success',
        error: undefined,
      },
      {
        type: 'operation-end',
        policy: 'orders',
        at: t0 + 160,
        attempts: 2,
        durationMs: 160,
        outcome: 'success',
        error: undefined,
      },
    ]);
  });

  it('retry-scheduled says server-hint when retryOn asked for the delay', async () => {
    const { clock, log, p } = setup({
      retry: { maxAttempts: 2, retryOn: () => ({ retry: true, after: 7 }) },
    });
    await clock.settle(p.execute(() => Promise.reject(new Error('x'))));
    expect(log.of('retry-scheduled')).toMatchObject([{ delayMs: 7, reason: 'server-hint' }]);
  });

  it('operation-end reports a failure with the error the caller receives', async () => {
    const { clock, log, p, t0 } = setup({ retry: { maxAttempts: 2, backoff: backoff.constant(5) } });
    const settled = await clock.settle(p.execute(() => Promise.reject(new Error('x'))));
    const reason = settled.status === 'rejected' ? settled.reason : undefined;
    expect(log.of('operation-end')).toEqual([
      {
        type: 'operation-end',
        policy: 'orders',
        at: t0 + 5,
        attempts: 2,
        durationMs: 5,
        outcome: 'failure',
        error: reason,
      },
    ]);
  });
});

describe('attempt-end outcomes', () => {
  it('timeout, deadline and aborted', async () => {
    const timeout = setup({ attemptTimeout: 10, retry: false });
    await timeout.clock.settle(timeout.p.execute(() => never()));
    expect(timeout.log.of('attempt-end')).toMatchObject([
      { outcome: 'timeout', durationMs: 10, error: expect.any(AttemptTimeoutError) },
    ]);

    const deadline = setup({ deadline: 20 });
    await deadline.clock.settle(deadline.p.execute(() => never()));
    expect(deadline.log.of('attempt-end')).toMatchObject([
      { outcome: 'deadline', durationMs: 20, error: expect.any(DeadlineExceededError) },
    ]);

    const aborted = setup();
    const controller = new AbortController();
    const result = aborted.p.execute(() => never(), { signal: controller.signal });
    await aborted.clock.advance(5);
    controller.abort('bye');
    await result.catch(() => {});
    expect(aborted.log.of('attempt-end')).toMatchObject([
      { outcome: 'aborted', durationMs: 5, error: 'bye' },
    ]);
  });
});

describe('retry-refused', () => {
  const cases: [string, PolicyOptions, () => unknown][] = [
    ['max-attempts', { retry: { maxAttempts: 1 } }, () => Promise.reject(new Error('x'))],
    ['not-retryable', {}, () => Promise.reject(new TypeError('x'))],
    [
      'deadline',
      { deadline: 100, retry: { backoff: backoff.constant(200) } },
      () => Promise.reject(new Error('x')),
    ],
    [
      'budget',
      { retry: { budget: retryBudget({ ratio: 0, minPerSecond: 0 }) } },
      () => Promise.reject(new Error('x')),
    ],
    [
      'circuit-open',
      { circuitBreaker: circuitBreaker({ consecutiveFailures: 1 }) },
      () => Promise.reject(new Error('x')),
    ],
  ];
  for (const [reason, options, fn] of cases) {
    it(`with reason ${reason}`, async () => {
      const { clock, log, p, t0 } = setup(options);
      const settled = await clock.settle(p.execute(fn));
      const error = settled.status === 'rejected' ? settled.reason : undefined;
      expect(log.of('retry-refused')).toEqual([
        { type: 'retry-refused', policy: 'orders', at: t0, attempt: 1, reason, error },
      ]);
      expect(log.of('retry-scheduled')).toHaveLength(0);
    });
  }
});

describe('circuit events', () => {
  it('circuit-state-change when a call moves the breaker, circuit-rejected when it refuses', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1, openDuration: 50 });
    const log = new EventLog();
    const p = policy({ name: 'orders', clock, circuitBreaker: breaker, onEvent: log.listener, retry: false });
    const t0 = clock.now();
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await p.execute(async () => 1).catch(() => {});
    await clock.advance(50);
    await p.execute(async () => 'probe');
    expect(log.of('circuit-state-change')).toEqual([
      { type: 'circuit-state-change', policy: 'orders', at: t0, from: 'closed', to: 'open', key: undefined },
      {
        type: 'circuit-state-change',
        policy: 'orders',
        at: t0 + 50,
        from: 'open',
        to: 'half-open',
        key: undefined,
      },
      {
        type: 'circuit-state-change',
        policy: 'orders',
        at: t0 + 50,
        from: 'half-open',
        to: 'closed',
        key: undefined,
      },
    ]);
    expect(log.of('circuit-rejected')).toEqual([
      { type: 'circuit-rejected', policy: 'orders', at: t0, attempt: 1, key: undefined, retryAfterMs: 50 },
    ]);
    // Within the failing call: booking the attempt opens the breaker, then attempt-end
    // reports it, then the retry is refused.
    expect(log.types.slice(0, 4)).toEqual([
      'attempt-start',
      'circuit-state-change',
      'attempt-end',
      'retry-refused',
    ]);
  });
});

describe('bulkhead and deadline events', () => {
  it('bulkhead-rejected with the bulkhead occupancy', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const log = new EventLog();
    const p = policy({ name: 'orders', clock, bulkhead: shared, onEvent: log.listener });
    const t0 = clock.now();
    const running = [p.execute(() => never()), p.execute(() => never())];
    await p.execute(async () => 1).catch(() => {});
    expect(log.of('bulkhead-rejected')).toEqual([
      { type: 'bulkhead-rejected', policy: 'orders', at: t0, active: 1, queued: 1 },
    ]);
    for (const r of running) r.catch(() => {});
  });

  it('deadline-exceeded with attempts started, the deadline and the time elapsed', async () => {
    const { clock, log, p, t0 } = setup({
      deadline: 100,
      retry: { maxAttempts: 5, backoff: backoff.constant(10) },
    });
    await clock.settle(p.execute((ctx) => (ctx.attempt === 1 ? Promise.reject(new Error('x')) : never())));
    expect(log.of('deadline-exceeded')).toEqual([
      {
        type: 'deadline-exceeded',
        policy: 'orders',
        at: t0 + 100,
        attempt: 2,
        deadline: t0 + 100,
        elapsedMs: 100,
      },
    ]);
    expect(log.types.slice(-3)).toEqual(['attempt-end', 'deadline-exceeded', 'operation-end']);
  });

  it('a deadline already past: deadline-exceeded and operation-end, no attempt', async () => {
    const { log, p, clock } = setup();
    await p.execute(async () => 1, { deadline: clock.now() }).catch(() => {});
    expect(log.types).toEqual(['deadline-exceeded', 'operation-end']);
    expect(log.of('operation-end')[0]).toMatchObject({ attempts: 0, outcome: 'failure' });
  });
});

describe('operation-end for calls refused before they start', () => {
  it('one operation-end per execute, with 0 attempts', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const isolated = circuitBreaker({ clock, initialState: { state: 'isolated' } });
    const full = bulkhead({ maxConcurrent: 1 });
    const holder = policy({ clock, bulkhead: full }).execute(() => never());
    const calls = [
      policy({ clock, onEvent: log.listener, circuitBreaker: isolated }).execute(async () => 1),
      policy({ clock, onEvent: log.listener, bulkhead: full }).execute(async () => 1),
      policy({ clock, onEvent: log.listener }).execute(async () => 1, { signal: AbortSignal.abort() }),
      policy({ clock, onEvent: log.listener }).execute(async () => 1, { deadline: Number.NaN }),
    ];
    await Promise.allSettled(calls);
    expect(log.of('operation-end')).toHaveLength(4);
    for (const e of log.of('operation-end'))
      expect(e).toMatchObject({ attempts: 0, outcome: 'failure', durationMs: 0 });
    holder.catch(() => {});
  });
});

describe('listeners', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a throwing listener does not break the call, and the other listeners still hear every event', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const clock = new ManualClock();
    const log = new EventLog();
    const p = policy({
      clock,
      onEvent: () => {
        throw new Error('listener bug');
      },
      retry: { maxAttempts: 2, backoff: backoff.constant(1) },
    });
    p.onEvent(log.listener);
    const settled = await clock.settle(
      p.execute((ctx) => (ctx.attempt === 1 ? Promise.reject(new Error('x')) : 'ok')),
    );
    expect(settled).toMatchObject({ status: 'fulfilled', value: 'ok' });
    expect(log.types).toEqual([
      'attempt-start',
      'attempt-end',
      'retry-scheduled',
      'attempt-start',
      'attempt-end',
      'operation-end',
    ]);
    expect(warn).toHaveBeenCalledTimes(6);
    expect(String(warn.mock.calls[0]?.[0])).toContain('listener bug');
  });

  it('onEvent() subscribes and its return value unsubscribes', async () => {
    const p = policy();
    const log = new EventLog();
    const off = p.onEvent(log.listener);
    await p.execute(async () => 1);
    expect(log.types).toEqual(['attempt-start', 'attempt-end', 'operation-end']);
    off();
    await p.execute(async () => 1);
    expect(log.events).toHaveLength(3);
  });

  it('listeners are called synchronously, inside the operation', async () => {
    const p = policy();
    const seen: string[] = [];
    p.onEvent((e) => seen.push(e.type));
    await p.execute(async () => {
      expect(seen).toEqual(['attempt-start']);
      return 1;
    });
  });
});
