/**
 * A policy nothing else can interrupt, called with a caller's signal: the first attempt
 * runs on the fast path, raced against the signal (no async loop, no timer).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { backoff, circuitBreaker, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { never, outcome } from '../support/events.js';

describe('fast path with a caller signal', () => {
  it('resolves and leaves no listener on the signal', async () => {
    const controller = new AbortController();
    const p = policy({ retry: { maxAttempts: 3 } });
    await expect(p.execute(async () => 'ok', { signal: controller.signal })).resolves.toBe('ok');
    await expect(p.execute(() => 'sync', { signal: controller.signal })).resolves.toBe('sync');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('an abort during the first attempt rejects at once with the reason and aborts ctx.signal', async () => {
    const controller = new AbortController();
    const p = policy({ retry: { maxAttempts: 3 } });
    let attemptSignal: AbortSignal | undefined;
    let attempts = 0;
    const result = outcome(
      p.execute(
        (ctx) => {
          attempts++;
          attemptSignal = ctx.signal;
          return never();
        },
        { signal: controller.signal },
      ),
    );
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await result).toEqual({ ok: false, error: reason });
    expect(attemptSignal?.reason).toBe(reason);
    expect(attempts).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a failed first attempt hands over to the loop, which still hears the signal in its wait', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(1_000) } });
    let attempts = 0;
    const result = outcome(
      p.execute(
        async () => {
          attempts++;
          throw new Error('fail');
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(10);
    expect(clock.pending).toBe(1); // the backoff wait
    controller.abort('stop');
    expect(await result).toEqual({ ok: false, error: 'stop' });
    expect(clock.pending).toBe(0);
    expect(attempts).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a function that aborts the signal itself rejects with the reason', async () => {
    const controller = new AbortController();
    const p = policy({ retry: { maxAttempts: 3 } });
    await expect(
      p.execute(
        () => {
          controller.abort('self');
          return never();
        },
        { signal: controller.signal },
      ),
    ).rejects.toBe('self');
  });

  it('an abort between the result and its continuation rejects, and the breaker probe is given back', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1, openDuration: 100 });
    breaker.isolate();
    breaker.reset();
    const p = policy({ clock, retry: false, circuitBreaker: breaker });
    // Open the breaker, let it turn half-open with one probe allowed.
    await p.execute(async () => Promise.reject(new Error('down'))).catch(() => {});
    expect(breaker.state).toBe('open');
    await clock.advance(100);
    const controller = new AbortController();
    let finish!: (value: string) => void;
    const result = outcome(
      p.execute(() => new Promise<string>((resolve) => (finish = resolve)), { signal: controller.signal }),
    );
    expect(breaker.state).toBe('half-open');
    finish('late');
    controller.abort('gone'); // before the continuation of `finish` runs
    expect(await result).toEqual({ ok: false, error: 'gone' });
    // The probe's slot came back: the next call is admitted as a probe.
    await expect(p.execute(async () => 'probe')).resolves.toBe('probe');
    expect(breaker.state).toBe('closed');
  });
});
