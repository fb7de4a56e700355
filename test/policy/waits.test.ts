/** Rules: the backoff's delays separate attempts; a server hint replaces the delay, capped by maxDelay. */
import { describe, expect, it } from 'vitest';
import { backoff, type PolicyOptions, policy, type RetryOn } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';

/** Runs an always-failing operation; returns the relative start time of each attempt. */
async function startTimes(options: PolicyOptions, clock = new ManualClock()): Promise<number[]> {
  const p = policy({ clock, ...options });
  const t0 = clock.now();
  const starts: number[] = [];
  await clock.settle(
    p.execute(async () => {
      starts.push(clock.now() - t0);
      throw new Error('fail');
    }),
  );
  return starts;
}

describe('backoff delays are used between attempts', () => {
  it('constant backoff waits the same delay before every retry', async () => {
    const clock = new ManualClock();
    const starts = await startTimes({ retry: { maxAttempts: 4, backoff: backoff.constant(100) } }, clock);
    expect(clock.delays).toEqual([100, 100, 100]);
    expect(starts).toEqual([0, 100, 200, 300]);
  });

  it('exponential backoff without jitter doubles', async () => {
    const clock = new ManualClock();
    const strategy = backoff.exponential({ initialDelay: 50, maxDelay: 150, jitter: 'none' });
    const starts = await startTimes({ retry: { maxAttempts: 5, backoff: strategy } }, clock);
    expect(clock.delays).toEqual([50, 100, 150, 150]);
    expect(starts).toEqual([0, 50, 150, 300, 450]);
  });

  it("jitter draws from the policy's random source", async () => {
    const clock = new ManualClock();
    const strategy = backoff.exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'full' });
    await startTimes({ random: () => 0.25, retry: { maxAttempts: 3, backoff: strategy } }, clock);
    expect(clock.delays).toEqual([25, 50]);
  });

  it('a custom function gets the retry number and the previous delay', async () => {
    const clock = new ManualClock();
    const calls: [number, number][] = [];
    const fn = (retry: number, previous: number): number => {
      calls.push([retry, previous]);
      return retry * 10 + previous;
    };
    await startTimes({ retry: { maxAttempts: 4, backoff: fn } }, clock);
    expect(calls).toEqual([
      [1, 0],
      [2, 10],
      [3, 30],
    ]);
    expect(clock.delays).toEqual([10, 30, 60]);
  });

  it('no wait follows the last attempt, nor a success', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(100) } });
    await expect(p.execute(async () => 'ok')).resolves.toBe('ok');
    expect(clock.created).toBe(0);
  });

  it('retry-scheduled reports each delay with reason backoff', async () => {
    const log = new EventLog();
    await startTimes({ onEvent: log.listener, retry: { maxAttempts: 3, backoff: backoff.constant(70) } });
    expect(log.of('retry-scheduled').map((e) => [e.attempt, e.delayMs, e.reason])).toEqual([
      [1, 70, 'backoff'],
      [2, 70, 'backoff'],
    ]);
  });
});

describe('server hints', () => {
  const hinted =
    (after: number): RetryOn =>
    () => ({ retry: true, after });

  it('a server hint { retry: true, after } replaces the computed delay', async () => {
    const clock = new ManualClock();
    const log = new EventLog();
    const starts = await startTimes(
      {
        onEvent: log.listener,
        retry: {
          maxAttempts: 3,
          backoff: backoff.constant({ delay: 100, maxDelay: 5_000 }),
          retryOn: hinted(1_234),
        },
      },
      clock,
    );
    expect(clock.delays).toEqual([1_234, 1_234]);
    expect(starts).toEqual([0, 1_234, 2_468]);
    expect(log.of('retry-scheduled').map((e) => e.reason)).toEqual(['server-hint', 'server-hint']);
  });

  it('a server hint is capped by maxDelay', async () => {
    const clock = new ManualClock();
    await startTimes(
      {
        retry: {
          maxAttempts: 2,
          backoff: backoff.exponential({ initialDelay: 10, maxDelay: 500 }),
          retryOn: hinted(60_000),
        },
      },
      clock,
    );
    expect(clock.delays).toEqual([500]);
  });

  it('a hint of 0 retries at once', async () => {
    const clock = new ManualClock();
    const starts = await startTimes(
      { retry: { maxAttempts: 2, backoff: backoff.constant(100), retryOn: hinted(0) } },
      clock,
    );
    expect(clock.delays).toEqual([0]);
    expect(starts).toEqual([0, 0]);
  });

  it('a hint that is not a finite number >= 0 is ignored: the backoff applies', async () => {
    for (const after of [-1, Number.NaN, Number.POSITIVE_INFINITY, '50' as unknown as number]) {
      const clock = new ManualClock();
      const log = new EventLog();
      await startTimes(
        {
          onEvent: log.listener,
          retry: { maxAttempts: 2, backoff: backoff.constant(100), retryOn: hinted(after) },
        },
        clock,
      );
      expect(clock.delays, String(after)).toEqual([100]);
      expect(log.of('retry-scheduled')[0]?.reason).toBe('backoff');
    }
  });

  it('a hint that says do not retry ({ retry: false }) stops even with a delay', async () => {
    const clock = new ManualClock();
    const starts = await startTimes(
      {
        retry: {
          maxAttempts: 5,
          backoff: backoff.constant(100),
          retryOn: () => ({ retry: false, after: 10 }),
        },
      },
      clock,
    );
    expect(starts).toEqual([0]);
    expect(clock.created).toBe(0);
  });
});
