/** Runs a script in a child Node process (through tsx, against the sources). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildResult {
  /** Exit code, or null when the guard had to kill it. */
  code: number | null;
  killed: boolean;
  /** Date.now() when the process exited. */
  exitedAt: number;
  stdout: string;
  stderr: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = new URL('../hygiene/fixtures/', import.meta.url);

/** Spawns `node [nodeArgs] --import tsx <script> [args]` from the repository root; kills it after `guardMs`. */
export function runScript(
  script: string | URL,
  args: string[],
  nodeArgs: string[],
  guardMs: number,
): Promise<ChildResult> {
  const path = typeof script === 'string' ? script : fileURLToPath(script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path, ...args], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const guard = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, guardMs);
    child.on('error', (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, killed, exitedAt: Date.now(), stdout, stderr });
    });
  });
}

/** Runs test/hygiene/fixtures/<name> (see {@link runScript}). */
export function runFixture(
  name: string,
  args: string[],
  nodeArgs: string[],
  guardMs: number,
): Promise<ChildResult> {
  return runScript(new URL(name, fixtures), args, nodeArgs, guardMs);
}
