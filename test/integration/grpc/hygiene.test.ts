/**
 * No timer or listener outlives its call: a child process makes gRPC calls that end every
 * possible way under policies with minute-long timers, closes its client and server, and
 * must then exit on its own at once. Behavioural, not speed: the bound only separates
 * "exits by itself" from "held by a 30 s or 60 s timer".
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = fileURLToPath(new URL('./hygiene-child.ts', import.meta.url));

describe('gRPC hygiene', () => {
  it('leaves nothing behind: the process exits by itself once its calls settled', async () => {
    const result = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
      exitedAt: number;
    }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: root,
        env: { ...process.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(guard);
        resolve({ code, stdout, stderr, exitedAt: Date.now() });
      });
    });
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
