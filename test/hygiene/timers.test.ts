/**
 * Hygiene: no timer outlives its call. A child process runs 20,000 executions whose
 * policy has a 60 s deadline and attempt timeout, ending every possible way; it must
 * then exit on its own, right away (a referenced timer left behind would hold it for a
 * minute), with no Timeout among its active resources. Behavioural bounds, not speed:
 * the guard only separates "exits by itself" from "held by a 60 s timer" on a loaded
 * machine.
 */
import { describe, expect, it } from 'vitest';
import { runFixture } from '../support/child.js';

describe('timers', () => {
  it('a script of many executions exits on its own once its last call settled', async () => {
    const result = await runFixture('many-calls.ts', ['20000'], [], 40_000);
    expect(result.stderr).toBe('');
    expect(result.killed).toBe(false);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      settledAt: number;
      outcomes: Record<string, number>;
      resources: string[];
    };
    expect(report.resources).not.toContain('Timeout');
    expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(Object.keys(report.outcomes).sort()).toEqual([
      'DeadlineExceededError',
      'Error',
      'TypeError',
      'fulfilled',
    ]);
    // It ended by itself, long before the 60 s timers it armed could have held it.
    expect(result.exitedAt - report.settledAt).toBeLessThan(20_000);
  }, 60_000);
});
