/**
 * A real `nats-server` with JetStream for the integration tests and the examples.
 *
 * Each server listens on a free loopback port (the server picks it: `-p -1`, so two suites
 * never race for one) and stores JetStream data in a temporary directory of its own. Faults
 * are real: {@link NatsServer.pause} stops the process (SIGSTOP) so requests go unanswered
 * while the TCP connection stays up, exactly like a lost ack; {@link NatsServer.restart}
 * stops it and starts it again on the same port and store, so clients reconnect to the
 * same URL and find their streams.
 *
 * ```ts no-check
 * const server = await NatsServer.start();
 * try {
 *   const nc = await connect({ servers: server.url });
 *   // ...
 * } finally {
 *   await server.dispose(); // stops the process and removes the store directory
 * }
 * ```
 *
 * Every server started here is also killed when the process exits, so a crashed test run
 * leaves no server behind. Never uses port 4222.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The one-line hint printed when nats-server is missing. */
export const NATS_SERVER_INSTALL_HINT =
  'nats-server not found on PATH: install it (apt-get install nats-server, or https://github.com/nats-io/nats-server/releases) to run the JetStream suites';

let located: string | null | undefined;

/** The nats-server executable (`NATS_SERVER` env, else `nats-server` on PATH), or undefined. */
export function natsServerBinary(): string | undefined {
  if (located === undefined) {
    const candidate = process.env.NATS_SERVER ?? 'nats-server';
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    located = probe.status === 0 ? candidate : null;
  }
  return located ?? undefined;
}

/**
 * Whether the JetStream suites can run. Outside CI a missing server means "skip" (with the
 * install hint printed once); under `CI=true` it is an error, so CI never passes by skipping.
 */
export function natsServerAvailable(): boolean {
  if (natsServerBinary() !== undefined) return true;
  if (process.env.CI === 'true') throw new Error(`${NATS_SERVER_INSTALL_HINT} (required when CI=true)`);
  if (!hintShown) {
    hintShown = true;
    console.warn(`skipping JetStream suites: ${NATS_SERVER_INSTALL_HINT}`);
  }
  return false;
}
let hintShown = false;

/** Options of {@link NatsServer.start}. */
export interface NatsServerOptions {
  /**
   * Enable JetStream.
   * @default true
   */
  jetstream?: boolean;
  /** Extra command-line arguments. */
  args?: readonly string[];
  /**
   * How long to wait for the server to report it is ready, in ms.
   * @default 15_000
   */
  readyTimeout?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test run dies without reaching its cleanup: never leave servers behind.
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** A running (or stopped, restartable) nats-server process. */
export class NatsServer {
  /** The client port, fixed for the life of this object (restarts reuse it). */
  readonly port: number;
  /** JetStream store directory (a fresh temporary directory). */
  readonly storeDir: string;
  readonly #options: NatsServerOptions;
  #child: ChildProcess | undefined;
  #paused = false;
  #log: string[] = [];

  private constructor(port: number, storeDir: string, options: NatsServerOptions, child: ChildProcess) {
    this.port = port;
    this.storeDir = storeDir;
    this.#options = options;
    this.#child = child;
  }

  /** Starts a server on a free loopback port with a temporary store directory. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const storeDir = mkdtempSync(join(tmpdir(), 'breakwater-nats-'));
    try {
      const { child, port, log } = await launch(options, storeDir, -1);
      const server = new NatsServer(port, storeDir, options, child);
      server.#log = log;
      return server;
    } catch (error) {
      rmSync(storeDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** `nats://127.0.0.1:<port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The process id while running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether the process is running (paused counts as running). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The server's recent log lines (for failure messages). */
  get log(): readonly string[] {
    return this.#log;
  }

  /**
   * Freezes the process (SIGSTOP): connections stay open, nothing is answered. Resolves
   * once every thread of the server has stopped: the kernel stops a busy multi-threaded
   * process a few milliseconds after the signal, and a request sent in that gap would
   * still be answered.
   */
  async pause(): Promise<void> {
    const child = this.#require('pause');
    child.kill('SIGSTOP');
    this.#paused = true;
    await waitUntilStopped(child.pid);
  }

  /** Lets a paused process run again (SIGCONT); it then handles what queued up meanwhile. */
  resume(): void {
    const child = this.#require('resume');
    child.kill('SIGCONT');
    this.#paused = false;
  }

  /**
   * Stops the process and waits for it to exit: gracefully (SIGTERM, so JetStream flushes
   * its store), or as a crash with `{ signal: 'SIGKILL' }`. The store directory is kept.
   */
  async stop(options: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (this.#paused) {
      child.kill('SIGCONT'); // a stopped process cannot handle SIGTERM
      this.#paused = false;
    }
    await terminate(child, options.signal ?? 'SIGTERM');
  }

  /** Starts the stopped server again, on the same port and store directory. */
  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('nats-server is already running');
    const { child, log } = await launch(this.#options, this.storeDir, this.port);
    this.#child = child;
    this.#log = log;
  }

  /** Stops the server (see {@link stop}) and starts it again on the same port and store. */
  async restart(options: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /** Stops the server and removes its store directory. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  #require(what: string): ChildProcess {
    const child = this.#child;
    if (child === undefined) throw new Error(`cannot ${what}: nats-server is not running`);
    return child;
  }
}

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;
const READY = /Server is ready/;
const MAX_LOG_LINES = 200;

/** Spawns nats-server and resolves once it reports ready (with the port it bound). */
async function launch(
  options: NatsServerOptions,
  storeDir: string,
  port: number,
  attemptsLeft = 5,
): Promise<{ child: ChildProcess; port: number; log: string[] }> {
  const binary = natsServerBinary();
  if (binary === undefined) throw new Error(NATS_SERVER_INSTALL_HINT);
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream !== false) args.push('-js', '-sd', storeDir);
  args.push(...(options.args ?? []));
  installExitHook();
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const log: string[] = [];
  try {
    const bound = await new Promise<number>((resolve, reject) => {
      let found: number | undefined;
      let buffered = '';
      const timer = setTimeout(
        () => fail(new Error(`nats-server not ready after ${options.readyTimeout ?? 15_000} ms`)),
        options.readyTimeout ?? 15_000,
      );
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString('utf8');
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          log.push(line);
          if (log.length > MAX_LOG_LINES) log.shift();
          const match = LISTENING.exec(line);
          if (match?.[1] !== undefined) found = Number(match[1]);
          if (READY.test(line) && found !== undefined) done(found);
          newline = buffered.indexOf('\n');
        }
      };
      const onExit = (code: number | null, signal: string | null): void =>
        fail(new Error(`nats-server exited before it was ready (code ${code}, signal ${signal})`));
      const cleanup = (): void => {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', fail);
        // Keep draining the pipes (a full pipe would block the server), into the log ring.
        const keep = (chunk: Buffer): void => {
          for (const line of chunk.toString('utf8').split('\n')) if (line) log.push(line);
          if (log.length > MAX_LOG_LINES) log.splice(0, log.length - MAX_LOG_LINES);
        };
        child.stderr?.on('data', keep);
        child.stdout?.on('data', keep);
      };
      function done(value: number): void {
        cleanup();
        resolve(value);
      }
      function fail(error: Error): void {
        cleanup();
        reject(error);
      }
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', fail);
    });
    return { child, port: bound, log };
  } catch (error) {
    await terminate(child, 'SIGKILL');
    const inUse = log.some((line) => line.includes('address already in use'));
    // A fixed port (a restart) can be taken meanwhile only by chance; try again briefly.
    if (inUse && attemptsLeft > 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return launch(options, storeDir, port, attemptsLeft - 1);
    }
    const tail = log.slice(-10).join('\n');
    throw new Error(`${(error as Error).message}\n${tail}`, { cause: error });
  }
}

/**
 * Waits until every thread of `pid` is in the stopped state (Linux: the stat file of each task under /proc/<pid>/task).
 * Where /proc is missing, waits a fixed 100 ms instead.
 */
async function waitUntilStopped(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return;
  }
  const end = Date.now() + 5_000;
  while (Date.now() < end) {
    let stopped = true;
    try {
      for (const task of readdirSync(tasks)) {
        // The state is the first field after the parenthesised command name.
        const stat = readFileSync(`${tasks}/${task}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'T' && state !== 't') {
          stopped = false;
          break;
        }
      }
    } catch {
      return; // the process is gone
    }
    if (stopped) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`nats-server (pid ${pid}) did not stop within 5 s of SIGSTOP`);
}

/** Sends `signal` and waits for the exit; escalates to SIGKILL after 10 s. */
function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
