/**
 * A real `node:http` server on 127.0.0.1 (port 0) for the HTTP adapter's integration tests.
 * It records what it saw (method, path, headers, body, which connection) and answers with
 * whatever the test's handler does, faults included: `res.socket.destroy()` mid-response,
 * `req.socket.resetAndDestroy()`, a slow answer, or {@link TestServer.close} then
 * {@link TestServer.reopen} on the same port.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One request as the server saw it. */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  /** The full request body (read before the handler runs). */
  readonly body: string;
  /** Which connection carried it: 1 for the server's first connection, 2 for the next... */
  readonly connection: number;
}

/** Answers one request; `n` is its 1-based number on this server. */
export type Handler = (req: IncomingMessage, res: ServerResponse, n: number, seen: Seen) => unknown;

export class TestServer {
  readonly requests: Seen[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #connections = 0;
  #waiters: { count: number; resolve: () => void }[] = [];
  handler: Handler;

  private constructor(handler: Handler) {
    this.handler = handler;
    this.#server = createServer((req, res) => {
      void this.#onRequest(req, res);
    });
    this.#server.keepAliveTimeout = 30_000;
    this.#server.on('connection', (socket: Socket) => {
      const id = ++this.#connections;
      (socket as Socket & { testId?: number }).testId = id;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts a server on a free loopback port. */
  static async start(handler: Handler = (_req, res) => res.end('ok')): Promise<TestServer> {
    const server = new TestServer(handler);
    await server.#listen(0);
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** e.g. 'http://127.0.0.1:41234' */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  url(path = '/'): string {
    return `${this.origin}${path}`;
  }

  /** Resolves once the server has seen `count` requests in all. */
  waitForRequests(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** Stops listening and drops every open connection (clients see resets or refusals). */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  reopen(): Promise<void> {
    return this.#listen(this.#port);
  }

  async #listen(port: number): Promise<void> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    this.#port = address.port;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the client went away while sending the body
    }
    const seen: Seen = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      connection: (req.socket as Socket & { testId?: number }).testId ?? 0,
    };
    this.requests.push(seen);
    const n = this.requests.length;
    this.#waiters = this.#waiters.filter((w) => {
      if (n < w.count) return true;
      w.resolve();
      return false;
    });
    try {
      await this.handler(req, res, n, seen);
    } catch (error) {
      res.destroy(error as Error);
    }
  }
}

/**
 * Lets I/O and promise callbacks run until `check()` holds (a turn of the event loop at a
 * time, no fixed sleeps); fails after `turns` turns so a broken test cannot hang.
 */
export async function until(check: () => boolean, what = 'condition', turns = 20_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}
