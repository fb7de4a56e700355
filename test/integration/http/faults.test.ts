/**
 * Real faults against httpInterceptor: connections reset mid-response, a server closed and
 * reopened on the same port, slow answers against deadlines and attempt timeouts, a caller
 * giving up during a backoff wait, a failing origin next to a healthy one, a full bulkhead.
 */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { Agent, type Dispatcher, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpInterceptor } from '../../../src/http/index.js';
import {
  backoff,
  bulkhead,
  circuitBreaker,
  isBreakwaterError,
  keyedCircuitBreaker,
  type PolicyOptions,
  policy,
} from '../../../src/index.js';
import { ManualClock, RefClock } from '../../support/clock.js';
import { EventFeed } from './events.js';
import { TestServer } from './server.js';

const quick = backoff.constant(1);

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | undefined)?.code;
}

describe('httpInterceptor under real faults', () => {
  let server: TestServer;
  const servers: TestServer[] = [];
  const dispatchers: Dispatcher[] = [];
  const agent = (options: PolicyOptions = {}): Dispatcher => {
    const d = new Agent().compose(httpInterceptor(policy({ retry: { backoff: quick }, ...options })));
    dispatchers.push(d);
    return d;
  };

  beforeEach(async () => {
    server = await TestServer.start();
    servers.push(server);
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.destroy()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  describe('connection reset mid-response', () => {
    it('retries when the connection dies inside the response head', async () => {
      server.handler = (req, res, n) => {
        if (n === 1) {
          req.socket.write('HTTP/1.1 200 OK\r\nContent-Le');
          req.socket.destroy();
          return;
        }
        res.end('whole');
      };
      const res = await request(server.url('/'), { dispatcher: agent() });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('whole');
      expect(server.requests).toHaveLength(2);
    });

    it('retries a TCP reset (RST) before any answer', async () => {
      server.handler = (req, res, n) => {
        if (n === 1) req.socket.resetAndDestroy();
        else res.end('after reset');
      };
      const res = await request(server.url('/'), { dispatcher: agent() });
      expect(await res.body.text()).toBe('after reset');
      expect(server.requests).toHaveLength(2);
    });

    it('does not retry once the head reached the caller: the body read fails instead', async () => {
      server.handler = (req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial', () => req.socket.destroy());
      };
      const res = await request(server.url('/'), { dispatcher: agent() });
      expect(res.statusCode).toBe(200);
      const error = await res.body.text().catch((e: unknown) => e);
      expect(codeOf(error)).toBe('UND_ERR_SOCKET');
      expect(server.requests).toHaveLength(1);
    });

    it('counts a response broken mid-body as a failed attempt', async () => {
      server.handler = (req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial', () => req.socket.destroy());
      };
      const events = new EventFeed();
      const res = await request(server.url('/'), { dispatcher: agent({ onEvent: events.listener }) });
      await res.body.text().catch(() => {});
      const end = await events.wait('operation-end');
      expect(end.outcome).toBe('failure');
      expect(codeOf(end.error)).toBe('UND_ERR_SOCKET');
    });
  });

  describe('server closed, then reopened on the same port', () => {
    it('retries refused connections until the server is back', async () => {
      const events = new EventFeed();
      const dispatcher = agent({
        onEvent: events.listener,
        retry: { maxAttempts: 5, backoff: backoff.constant(20) },
      });
      const warm = await request(server.url('/'), { dispatcher });
      expect(await warm.body.text()).toBe('ok');
      const port = server.port;
      await server.close();

      const pending = request(server.url('/again'), { dispatcher });
      const first = await events.wait('retry-scheduled');
      expect(codeOf(first.error)).toBe('ECONNREFUSED');
      await server.reopen();
      expect(server.port).toBe(port);

      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('ok');
      expect(server.requests.map((r) => r.path)).toEqual(['/', '/again']);
    });

    it('resends a stream body that the refused attempt never read', async () => {
      await server.close();
      const events = new EventFeed();
      const pending = request(server.url('/upload'), {
        method: 'PUT',
        body: Readable.from(['un', 'read']),
        dispatcher: agent({
          onEvent: events.listener,
          retry: { maxAttempts: 5, backoff: backoff.constant(20) },
        }),
      });
      await events.wait('retry-scheduled');
      await server.reopen();
      const res = await pending;
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(server.requests.map((r) => r.body)).toEqual(['unread']);
    });

    it('gives up with undici’s own error when the server stays away', async () => {
      await server.close();
      const error = await request(server.url('/'), {
        dispatcher: agent({ retry: { maxAttempts: 3, backoff: quick } }),
      }).catch((e: unknown) => e);
      expect(codeOf(error)).toBe('ECONNREFUSED');
      expect(isBreakwaterError(error)).toBe(false);
    });
  });

  describe('deadlines and attempt timeouts', () => {
    it('aborts a slow answer at the deadline with DeadlineExceededError', async () => {
      const closed = new Promise<void>((resolve) => {
        server.handler = (req) => {
          req.socket.once('close', () => resolve());
        };
      });
      const error = await request(server.url('/slow'), { dispatcher: agent({ deadline: 200 }) }).catch(
        (e: unknown) => e,
      );
      expect(isBreakwaterError(error) && error.code).toBe('BREAKWATER_DEADLINE_EXCEEDED');
      await closed; // the request was aborted on the wire, not left running
      expect(server.requests).toHaveLength(1);
    });

    it('covers the body too: a response still streaming at the deadline is cut', async () => {
      server.handler = (_req, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('first bytes');
      };
      const res = await request(server.url('/'), { dispatcher: agent({ deadline: 200 }) });
      expect(res.statusCode).toBe(200);
      const error = await res.body.text().catch((e: unknown) => e);
      expect(isBreakwaterError(error) && error.code).toBe('BREAKWATER_DEADLINE_EXCEEDED');
    });

    it('retries an attempt that timed out, aborting it on the wire', async () => {
      let firstClosed: Promise<unknown> | undefined;
      server.handler = (req, res, n) => {
        if (n === 1) firstClosed = once(req.socket, 'close');
        else res.end('second try');
      };
      const res = await request(server.url('/'), {
        dispatcher: agent({ attemptTimeout: 150, retry: { maxAttempts: 2, backoff: quick } }),
      });
      expect(await res.body.text()).toBe('second try');
      expect(server.requests).toHaveLength(2);
      await firstClosed;
    });
  });

  it('leaves no timer holding the process once a request with a deadline and attempt timeouts is done', async () => {
    const clock = new RefClock(Date.now());
    server.handler = (_req, res, n) => {
      res.writeHead(n === 1 ? 503 : 200);
      res.end();
    };
    const events = new EventFeed();
    const pending = request(server.url('/'), {
      dispatcher: agent({
        clock,
        onEvent: events.listener,
        deadline: 60_000,
        attemptTimeout: 30_000,
        retry: { backoff: backoff.constant(0) },
      }),
    });
    await events.wait('retry-scheduled');
    await clock.advance(0); // the zero-ms backoff wait
    const res = await pending;
    await res.body.dump();
    await events.wait('operation-end');
    expect(res.statusCode).toBe(200);
    expect(server.requests).toHaveLength(2);
    expect(clock.referenced).toBe(0);
  });

  describe('caller abort', () => {
    it('settles at once during a backoff wait, and leaves no timer behind', async () => {
      const clock = new ManualClock();
      const events = new EventFeed();
      server.handler = (_req, res) => {
        res.writeHead(503);
        res.end();
      };
      const controller = new AbortController();
      const pending = request(server.url('/'), {
        signal: controller.signal,
        dispatcher: agent({
          clock,
          onEvent: events.listener,
          retry: { maxAttempts: 3, backoff: backoff.constant(60_000) },
        }),
      });
      await events.wait('retry-scheduled');
      expect(clock.pending).toBe(1); // the backoff wait
      const reason = new Error('caller gave up');
      controller.abort(reason);
      // The manual clock never moves, so only the abort can settle the request.
      await expect(pending).rejects.toBe(reason);
      expect(clock.pending).toBe(0);
      expect(server.requests).toHaveLength(1);
    });

    it('does not count a body the caller destroyed against the breaker', async () => {
      const closed = new Promise<void>((resolve) => {
        server.handler = (req, res) => {
          req.socket.once('close', () => resolve());
          res.writeHead(200, { 'content-length': '1000' });
          res.write('first bytes');
        };
      });
      const breaker = circuitBreaker({ consecutiveFailures: 1 });
      const events = new EventFeed();
      const res = await request(server.url('/'), {
        dispatcher: agent({ circuitBreaker: breaker, onEvent: events.listener }),
      });
      res.body.destroy();
      expect((await events.wait('attempt-end')).outcome).toBe('aborted');
      await closed;
      expect(breaker.state).toBe('closed');
    });

    it('aborts the attempt in flight, which does not count against the breaker', async () => {
      // No listener and no timer: the first attempt runs on the lean path, where nothing in
      // the core listens to the caller's abort; the interceptor must fail the attempt.
      const closed = new Promise<void>((resolve) => {
        server.handler = (req) => {
          req.socket.once('close', () => resolve());
        };
      });
      const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
      const controller = new AbortController();
      const pending = request(server.url('/'), {
        signal: controller.signal,
        dispatcher: agent({ circuitBreaker: breaker }),
      });
      await server.waitForRequests(1);
      controller.abort();
      const error = await pending.catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      await closed;
      expect(server.requests).toHaveLength(1);
      expect(breaker.state).toBe('closed');
    });
  });

  it('keeps one breaker state per origin: a failing host does not open it for a healthy one', async () => {
    const healthy = await TestServer.start((_req, res) => res.end('fine'));
    servers.push(healthy);
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    const breaker = keyedCircuitBreaker({ consecutiveFailures: 2, openDuration: 60_000 });
    const dispatcher = agent({ retry: false, circuitBreaker: breaker });

    for (let i = 0; i < 2; i++) {
      const res = await request(server.url('/'), { dispatcher });
      await res.body.dump();
      expect(res.statusCode).toBe(503);
    }
    const rejected = await request(server.url('/'), { dispatcher }).catch((e: unknown) => e);
    expect(isBreakwaterError(rejected) && rejected.code).toBe('BREAKWATER_CIRCUIT_OPEN');
    expect((rejected as { key?: string }).key).toBe(server.origin);
    expect(server.requests).toHaveLength(2);

    const ok = await request(healthy.url('/'), { dispatcher });
    expect(await ok.body.text()).toBe('fine');
    expect(breaker.peek(server.origin)?.state).toBe('open');
    expect(breaker.peek(healthy.origin)?.state).toBe('closed');
  });

  it('rejects at once with BulkheadRejectedError when the bulkhead is full', async () => {
    let release: (() => void) | undefined;
    server.handler = (_req, res) => {
      release = () => res.end('done');
    };
    const dispatcher = agent({ bulkhead: bulkhead({ maxConcurrent: 1 }) });
    const first = request(server.url('/'), { dispatcher });
    await server.waitForRequests(1);
    const second = await request(server.url('/'), { dispatcher }).catch((e: unknown) => e);
    expect(isBreakwaterError(second) && second.code).toBe('BREAKWATER_BULKHEAD_FULL');
    release?.();
    expect(await (await first).body.text()).toBe('done');
    expect(server.requests).toHaveLength(1);
  });
});
