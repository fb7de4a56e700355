/**
 * Hygiene: heap growth stays bounded over many executions, including while one call
 * hangs at the head of the policy's timer lanes. Run in a child process with --expose-gc.
 * The bound is generous: a retained execution costs about 1 KB, so 200,000 of them would
 * be some 200 MB; the measured growth is about zero.
 */
import { describe, expect, it } from 'vitest';
import { runFixture } from '../support/child.js';

describe('heap', () => {
  it('stays bounded over 200,000 executions', async () => {
    const result = await runFixture('heap.ts', ['20000', '200000'], ['--expose-gc'], 90_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { before: number; after: number; growth: number };
    expect(report.growth).toBeLessThan(16 * 1024 * 1024);
  }, 120_000);
});
