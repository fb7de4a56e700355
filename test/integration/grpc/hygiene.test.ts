/**
 * No timer or listener outlives its call: a child process makes gRPC calls that end every
 * possible way under policies with minute-long timers, closes its client and server, and
 * must then exit on its own at once. Behavioural, not speed: the bound only separates
 * "exits by itself" from "held by a 30 s or 60 s timer".
 */
import { describe, expect, it } from 'vitest';
import { runScript } from '../../support/child.js';

describe('gRPC hygiene', () => {
  it('leaves nothing behind: the process exits by itself once its calls settled', async () => {
    const result = await runScript(new URL('./hygiene-child.ts', import.meta.url), [], [], 50_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      settledAt: number;
      outcomes: Record<string, number>;
      resources: string[];
    };
    expect(report.resources).not.toContain('Timeout');
    // Per round (5): 2 OK, 1 UNAVAILABLE (retries exhausted), 2 DEADLINE_EXCEEDED, 4
    // CANCELLED, 1 RESOURCE_EXHAUSTED; then the breaker: 1 UNAVAILABLE from the server,
    // 1 from the open breaker.
    expect(report.outcomes).toEqual({
      OK: 10,
      UNAVAILABLE: 7,
      DEADLINE_EXCEEDED: 10,
      CANCELLED: 20,
      RESOURCE_EXHAUSTED: 5,
    });
    // Far sooner than the 30 s attempt timeouts and 60 s deadlines and backoffs it armed.
    expect(result.exitedAt - report.settledAt).toBeLessThan(20_000);
  }, 60_000);
});
