/**
 * The same scenarios through every way an application sends HTTP: undici's request, stream
 * and fetch given the composed dispatcher, Node's global fetch given it, resilientFetch
 * (Node's global fetch inside, no dispatcher), and a caller that speaks undici's new handler
 * API (as undici's own interceptors and undici 8 do).
 */
import { Writable } from 'node:stream';
import { Agent, type Dispatcher, request, stream, fetch as undiciFetch } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpInterceptor, resilientFetch } from '../../../src/http/index.js';
import { backoff, type PolicyOptions, policy } from '../../../src/index.js';
import { ManualClock } from '../../support/clock.js';
import { EventFeed } from './events.js';
import { TestServer, until } from './server.js';

interface Send {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}
interface Reply {
  status: number;
  header(name: string): string | undefined;
  body: string;
}
interface Client {
  send(url: string, init?: Send): Promise<Reply>;
  close(): Promise<void>;
}

/** Forwards the new handler API only, so the interceptor sees a caller without onHeaders. */
class NewApiOnly implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  constructor(inner: Dispatcher.DispatchHandler) {
    this.#inner = inner;
  }
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#inner.onRequestStart?.(controller, context);
  }
  onResponseStart(
    c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    text?: string,
  ): void {
    this.#inner.onResponseStart?.(c, status, headers, text);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#inner.onResponseData?.(c, chunk);
  }
  onResponseEnd(
    c: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.#inner.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, error: Error): void {
    this.#inner.onResponseError?.(c, error);
  }
}
const newApiOnly: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
  dispatch(opts, new NewApiOnly(handler));

function viaDispatcher(
  make: (options: PolicyOptions) => Dispatcher,
  send: (dispatcher: Dispatcher, url: string, init: Send) => Promise<Reply>,
) {
  return (options: PolicyOptions): Client => {
    const dispatcher = make(options);
    return { send: (url, init = {}) => send(dispatcher, url, init), close: () => dispatcher.close() };
  };
}
const composed = (options: PolicyOptions) => new Agent().compose(httpInterceptor(policy(options)));

async function fromResponse(res: Response): Promise<Reply> {
  return { status: res.status, header: (n) => res.headers.get(n) ?? undefined, body: await res.text() };
}

const clients: [string, (options: PolicyOptions) => Client, { replaysBodies: boolean }][] = [
  [
    'undici.request',
    viaDispatcher(composed, async (dispatcher, url, init) => {
      const res = await request(url, { ...init, dispatcher });
      return {
        status: res.statusCode,
        header: (n) => res.headers[n] as string | undefined,
        body: await res.body.text(),
      };
    }),
    { replaysBodies: true },
  ],
  [
    'undici.stream',
    viaDispatcher(composed, async (dispatcher, url, init) => {
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: Record<string, unknown> = {};
      await stream(url, { ...init, method: init.method ?? 'GET', dispatcher }, (data) => {
        status = data.statusCode;
        headers = data.headers;
        return new Writable({
          write(chunk: Buffer, _encoding, callback) {
            chunks.push(chunk);
            callback();
          },
        });
      });
      return {
        status,
        header: (n) => headers[n] as string | undefined,
        body: Buffer.concat(chunks).toString(),
      };
    }),
    { replaysBodies: true },
  ],
  [
    'undici.fetch',
    viaDispatcher(composed, async (dispatcher, url, init) =>
      fromResponse(await undiciFetch(url, { ...init, dispatcher })),
    ),
    { replaysBodies: false },
  ],
  [
    'global fetch with { dispatcher }',
    viaDispatcher(composed, async (dispatcher, url, init) =>
      fromResponse(await fetch(url, { ...init, dispatcher } as unknown as RequestInit)),
    ),
    { replaysBodies: false },
  ],
  [
    'resilientFetch',
    (options) => {
      const f = resilientFetch(policy(options));
      return { send: async (url, init) => fromResponse(await f(url, init)), close: async () => {} };
    },
    { replaysBodies: true },
  ],
  [
    'a new-API caller (undici 8 style)',
    viaDispatcher(
      (options) => new Agent().compose(httpInterceptor(policy(options)), newApiOnly),
      async (dispatcher, url, init) => {
        const res = await request(url, { ...init, dispatcher });
        return {
          status: res.statusCode,
          header: (n) => res.headers[n] as string | undefined,
          body: await res.body.text(),
        };
      },
    ),
    { replaysBodies: true },
  ],
];

describe.each(clients)('through %s', (_name, makeClient, traits) => {
  let server: TestServer;
  const open: Client[] = [];
  const client = (options: PolicyOptions = {}) => {
    const c = makeClient({ retry: { backoff: backoff.constant(1) }, ...options });
    open.push(c);
    return c;
  };

  beforeEach(async () => {
    server = await TestServer.start();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await server.close();
  });

  it('retries 503 twice, then gets the 200', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(n <= 2 ? 503 : 200);
      res.end(n <= 2 ? 'busy' : 'hello');
    };
    const reply = await client().send(server.url('/hello'));
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('hello');
    expect(server.requests).toHaveLength(3);
  });

  it('hands over the last 503, body and headers, when attempts run out', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503, { 'x-reason': 'maintenance' });
      res.end('nope');
    };
    const reply = await client({ retry: { maxAttempts: 2, backoff: backoff.constant(1) } }).send(
      server.url('/'),
    );
    expect(reply.status).toBe(503);
    expect(reply.header('x-reason')).toBe('maintenance');
    expect(reply.body).toBe('nope');
    expect(server.requests).toHaveLength(2);
  });

  it('retries after the connection was reset before the answer', async () => {
    server.handler = (req, res, n) => {
      if (n === 1) req.socket.resetAndDestroy();
      else res.end('second');
    };
    const reply = await client().send(server.url('/'));
    expect(reply.body).toBe('second');
    expect(server.requests).toHaveLength(2);
  });

  it('sends a POST without a key once', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    const reply = await client().send(server.url('/orders'), { method: 'POST', body: '{"n":1}' });
    expect(reply.status).toBe(503);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a POST with a key, the same quoted key on every attempt', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(n <= 2 ? 503 : 201);
      res.end();
    };
    const reply = await client({ idempotency: true }).send(server.url('/orders'), { method: 'POST' });
    expect(reply.status).toBe(201);
    const keys = server.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^"[0-9a-f-]{36}"$/);
  });

  it(
    traits.replaysBodies
      ? 'sends a string body again on a retry'
      : 'cannot resend the body fetch streams to a dispatcher: one attempt once it was sent',
    async () => {
      server.handler = (_req, res, n) => {
        res.writeHead(n === 1 ? 503 : 200);
        res.end();
      };
      const reply = await client().send(server.url('/doc'), { method: 'PUT', body: 'v2' });
      expect(server.requests.map((r) => r.body)).toEqual(traits.replaysBodies ? ['v2', 'v2'] : ['v2']);
      expect(reply.status).toBe(traits.replaysBodies ? 200 : 503);
    },
  );

  it('settles at once when the caller aborts during a backoff wait', async () => {
    const clock = new ManualClock();
    const events = new EventFeed();
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    const controller = new AbortController();
    const c = client({
      clock,
      onEvent: events.listener,
      retry: { maxAttempts: 3, backoff: backoff.constant(60_000) },
    });
    const pending = c.send(server.url('/'), { signal: controller.signal });
    await events.wait('retry-scheduled');
    const reason = new Error('caller gave up');
    controller.abort(reason);
    // The manual clock never moves: only the abort can settle it.
    await expect(pending).rejects.toBe(reason);
    await events.wait('operation-end');
    await until(() => clock.pending === 0, 'the backoff timer to be cleared');
    expect(server.requests).toHaveLength(1);
  });
});
