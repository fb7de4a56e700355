import { describe, expect, it } from 'vitest';
import { backoff, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

describe('policy smoke', () => {
  it('retries a failing function until it succeeds', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(100) } });
    let calls = 0;
    const result = p.execute(async () => {
      calls++;
      if (calls < 3) throw new Error(`fail ${calls}`);
      return 'ok';
    });
    await clock.runAll();
    await expect(result).resolves.toBe('ok');
    expect(calls).toBe(3);
    expect(clock.delays).toEqual([100, 100]);
  });
});
