/** Runs crash-server.mjs in a child process that a test can SIGKILL like a crash. */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./crash-server.mjs', import.meta.url));

type Message = { type: 'ready'; port: number } | { type: 'call'; headers: Record<string, string> };

export class CrashServer {
  readonly calls: Record<string, string>[] = [];
  readonly #child: ChildProcess;
  port = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: Message) => {
      if (message.type === 'call') this.calls.push(message.headers);
    });
  }

  /** Starts a server on `port` (0: any) and resolves once it listens. */
  static async spawn(port: number, mode: 'ok' | 'hang-first'): Promise<CrashServer> {
    const child = fork(SCRIPT, [String(port), mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const server = new CrashServer(child);
    for (;;) {
      const [message] = (await Promise.race([
        once(child, 'message'),
        once(child, 'exit').then(() => {
          throw new Error('crash-server exited before it was ready');
        }),
      ])) as [Message];
      if (message.type === 'ready') {
        server.port = message.port;
        return server;
      }
    }
  }

  /** Resolves once `count` calls have arrived. */
  async waitForCalls(count: number): Promise<Record<string, string>[]> {
    while (this.calls.length < count) await once(this.#child, 'message');
    return this.calls;
  }

  /** Kills the process the way a crash does, and waits until it is gone. */
  async crash(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
