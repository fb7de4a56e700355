/**
 * httpInterceptor through undici.request against a real node:http server: what is retried,
 * what the server saw, what the caller got.
 */
import { Readable } from 'node:stream';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type HttpInterceptorOptions,
  httpInterceptor,
  isHttpStatusError,
  parseIdempotencyKey,
} from '../../../src/http/index.js';
import {
  backoff,
  circuitBreaker,
  isBreakwaterError,
  keyedCircuitBreaker,
  type PolicyOptions,
  policy,
  retryBudget,
} from '../../../src/index.js';
import { ManualClock } from '../../support/clock.js';
import { EventFeed } from './events.js';
import { TestServer } from './server.js';

const quick = backoff.constant(1);

describe('httpInterceptor with undici.request', () => {
  let server: TestServer;
  const dispatchers: Dispatcher[] = [];
  const agent = (options: PolicyOptions = {}, http?: HttpInterceptorOptions): Dispatcher => {
    const d = new Agent().compose(httpInterceptor(policy({ retry: { backoff: quick }, ...options }), http));
    dispatchers.push(d);
    return d;
  };

  beforeEach(async () => {
    server = await TestServer.start();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.close()));
    await server.close();
  });

  it('retries a flaky server (503 twice, then 200) and reuses the drained connection', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(n <= 2 ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(n <= 2 ? 'busy, try later' : 'order 42');
    };
    const res = await request(server.url('/orders/42'), { dispatcher: agent() });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('order 42');
    expect(server.requests.map((r) => r.path)).toEqual(['/orders/42', '/orders/42', '/orders/42']);
    // The failed answers were read to their end, so one keep-alive connection served all three.
    expect(new Set(server.requests.map((r) => r.connection)).size).toBe(1);
  });

  it('closes the connection of a failed answer too long to drain, and still retries', async () => {
    const big = 'x'.repeat(256 * 1024);
    server.handler = (_req, res, n) => {
      res.writeHead(n === 1 ? 503 : 200);
      res.end(n === 1 ? big : 'small');
    };
    const res = await request(server.url('/'), { dispatcher: agent() });
    expect(await res.body.text()).toBe('small');
    expect(server.requests).toHaveLength(2);
    // Reading 256 KiB to keep one connection costs more than opening another.
    expect(server.requests[1]?.connection).not.toBe(server.requests[0]?.connection);
  });

  it('retries a HEAD request, whose failed answers have no body to hold', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(n <= 2 ? 503 : 200, { 'content-length': '5' });
      res.end();
    };
    const res = await request(server.url('/'), { method: 'HEAD', dispatcher: agent() });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD', 'HEAD', 'HEAD']);
  });

  it('takes a deadline and a breaker key from the request', async () => {
    const closed = new Promise<void>((resolve) => {
      server.handler = (req, res) => {
        if (req.url === '/slow') req.socket.once('close', () => resolve());
        else res.end('ok');
      };
    });
    const breaker = keyedCircuitBreaker({ consecutiveFailures: 5 });
    const dispatcher = agent({ deadline: 60_000, circuitBreaker: breaker });
    const error = await request(server.url('/slow'), {
      dispatcher,
      breakwater: { deadline: Date.now() + 150 },
    }).catch((e: unknown) => e);
    expect(isBreakwaterError(error) && error.code).toBe('BREAKWATER_DEADLINE_EXCEEDED');
    await closed;
    const res = await request(server.url('/'), { dispatcher, breakwater: { key: 'catalog' } });
    await res.body.dump();
    expect(breaker.peek('catalog')).toBeDefined();
    expect(breaker.peek(server.origin)).toBeDefined(); // the first request's key: its origin
  });

  it('hands the last response to the caller, as undici returns it, when retries run out', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503, { 'x-reason': 'maintenance', 'retry-after': '0' });
      res.end('come back later');
    };
    const res = await request(server.url('/'), {
      dispatcher: agent({ retry: { maxAttempts: 3, backoff: quick } }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-reason']).toBe('maintenance');
    expect(await res.body.text()).toBe('come back later');
    expect(server.requests).toHaveLength(3);
  });

  it.each([
    [
      'the retry budget refuses',
      { retry: { backoff: quick, budget: retryBudget({ ratio: 0, minPerSecond: 0 }) } },
      'budget',
    ],
    [
      'the breaker opens on the failure',
      { retry: { backoff: quick }, circuitBreaker: circuitBreaker({ consecutiveFailures: 1 }) },
      'circuit-open',
    ],
  ] as const)('hands over the held response when %s', async (_label, options, reason) => {
    server.handler = (_req, res) => {
      res.writeHead(503, { 'x-try': 'again' });
      res.end('held then released');
    };
    const events = new EventFeed();
    const res = await request(server.url('/'), {
      dispatcher: agent({ ...options, onEvent: events.listener }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-try']).toBe('again');
    expect(await res.body.text()).toBe('held then released');
    expect((await events.wait('retry-refused')).reason).toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 5xx outside statusCodes, but counts it as a failed attempt', async () => {
    server.handler = (_req, res) => {
      res.writeHead(500);
      res.end('boom');
    };
    const events = new EventFeed();
    const res = await request(server.url('/'), { dispatcher: agent({ onEvent: events.listener }) });
    expect(res.statusCode).toBe(500);
    expect(await res.body.text()).toBe('boom');
    expect(server.requests).toHaveLength(1);
    const end = await events.wait('attempt-end');
    expect(end.outcome).toBe('failure');
    expect(isHttpStatusError(end.error) && end.error.statusCode).toBe(500);
    expect((await events.wait('retry-refused')).reason).toBe('not-retryable');
  });

  it('retries 409 Conflict, not 422 Unprocessable Content', async () => {
    server.handler = (req, res, n) => {
      if (req.url === '/conflict') res.writeHead(n === 1 ? 409 : 200);
      else res.writeHead(422);
      res.end();
    };
    const dispatcher = agent();
    const conflict = await request(server.url('/conflict'), { dispatcher });
    await conflict.body.dump();
    expect(conflict.statusCode).toBe(200);
    expect(server.requests).toHaveLength(2);
    const invalid = await request(server.url('/invalid'), { dispatcher });
    await invalid.body.dump();
    expect(invalid.statusCode).toBe(422);
    expect(server.requests).toHaveLength(3);
  });

  describe('POST and idempotency keys', () => {
    const busyTwice: Parameters<typeof TestServer.start>[0] = (_req, res, n) => {
      res.writeHead(n <= 2 ? 503 : 201);
      res.end(n <= 2 ? '' : 'created');
    };

    it('sends a POST without a key once: exactly one attempt reaches the server', async () => {
      server.handler = busyTwice;
      const res = await request(server.url('/orders'), {
        method: 'POST',
        body: '{"sku":"A"}',
        dispatcher: agent(),
      });
      expect(res.statusCode).toBe(503);
      await res.body.dump();
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]?.headers['idempotency-key']).toBeUndefined();
    });

    it('does not resend a POST without a key whose connection broke', async () => {
      server.handler = (req) => {
        req.socket.destroy();
      };
      const error = await request(server.url('/orders'), {
        method: 'POST',
        body: 'x',
        dispatcher: agent(),
      }).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('UND_ERR_SOCKET');
      expect(server.requests).toHaveLength(1);
    });

    it('retries a POST with the policy’s key, sending the same quoted key every time', async () => {
      server.handler = busyTwice;
      const dispatcher = agent({ idempotency: true });
      const res = await request(server.url('/orders'), { method: 'POST', body: '{"sku":"A"}', dispatcher });
      expect(res.statusCode).toBe(201);
      expect(await res.body.text()).toBe('created');
      const keys = server.requests.map((r) => r.headers['idempotency-key']);
      expect(keys).toHaveLength(3);
      expect(new Set(keys).size).toBe(1);
      expect(keys[0]).toMatch(/^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/);
      expect(server.requests.map((r) => r.body)).toEqual(['{"sku":"A"}', '{"sku":"A"}', '{"sku":"A"}']);
      // A second operation gets a key of its own.
      const again = await request(server.url('/orders'), { method: 'POST', body: '{}', dispatcher });
      await again.body.dump();
      expect(server.requests[3]?.headers['idempotency-key']).not.toBe(keys[0]);
    });

    it('sends the request’s own key as an RFC 8941 string, escaped', async () => {
      server.handler = busyTwice;
      const res = await request(server.url('/orders'), {
        method: 'PATCH',
        body: 'x',
        dispatcher: agent(),
        breakwater: { idempotencyKey: 'order "42"' },
      });
      await res.body.dump();
      expect(res.statusCode).toBe(201);
      const keys = server.requests.map((r) => r.headers['idempotency-key']);
      expect(keys).toEqual(['"order \\"42\\""', '"order \\"42\\""', '"order \\"42\\""']);
      expect(parseIdempotencyKey(keys[0] as string)).toBe('order "42"');
    });

    it('retries a POST carrying its own Idempotency-Key header and leaves the header alone', async () => {
      server.handler = busyTwice;
      const res = await request(server.url('/orders'), {
        method: 'POST',
        body: 'x',
        headers: { 'Idempotency-Key': '"abc-1"' },
        dispatcher: agent({ idempotency: true }),
      });
      await res.body.dump();
      expect(res.statusCode).toBe(201);
      expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual([
        '"abc-1"',
        '"abc-1"',
        '"abc-1"',
      ]);
    });

    it('keeps the method rule under a policy’s own retryOn', async () => {
      server.handler = busyTwice;
      const dispatcher = agent({ retry: { backoff: quick, retryOn: () => true } });
      const res = await request(server.url('/orders'), { method: 'POST', body: 'x', dispatcher });
      await res.body.dump();
      expect(res.statusCode).toBe(503);
      expect(server.requests).toHaveLength(1);
    });

    it('lets a request declare itself idempotent, or not', async () => {
      server.handler = busyTwice;
      const dispatcher = agent();
      const post = await request(server.url('/search'), {
        method: 'POST',
        body: 'q',
        dispatcher,
        breakwater: { idempotent: true },
      });
      await post.body.dump();
      expect(post.statusCode).toBe(201);
      expect(server.requests).toHaveLength(3);
      server.handler = (_req, res) => {
        res.writeHead(503);
        res.end();
      };
      const get = await request(server.url('/once'), { dispatcher, breakwater: { idempotent: false } });
      await get.body.dump();
      expect(get.statusCode).toBe(503);
      expect(server.requests).toHaveLength(4);
    });
  });

  describe('request bodies', () => {
    it('sends a buffer body again on every attempt', async () => {
      server.handler = (_req, res, n) => {
        res.writeHead(n === 1 ? 502 : 200);
        res.end();
      };
      const res = await request(server.url('/'), {
        method: 'PUT',
        body: Buffer.from('payload'),
        dispatcher: agent(),
      });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(server.requests.map((r) => r.body)).toEqual(['payload', 'payload']);
    });

    it('never resends a streamed body once it was consumed', async () => {
      server.handler = (_req, res) => {
        res.writeHead(503);
        res.end();
      };
      const res = await request(server.url('/upload'), {
        method: 'PUT',
        body: Readable.from(['a', 'b', 'c']),
        dispatcher: agent({ retry: { maxAttempts: 5, backoff: quick } }),
      });
      await res.body.dump();
      expect(res.statusCode).toBe(503);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]?.body).toBe('abc');
    });

    it('never resends an async-iterable body once it was consumed', async () => {
      server.handler = (_req, res) => {
        res.writeHead(503);
        res.end();
      };
      async function* chunks() {
        yield 'x';
        yield 'y';
      }
      // undici sends async iterables, though its types list only streams.
      const body = chunks() as unknown as Readable;
      const res = await request(server.url('/upload'), { method: 'PUT', body, dispatcher: agent() });
      await res.body.dump();
      expect(res.statusCode).toBe(503);
      expect(server.requests.map((r) => r.body)).toEqual(['xy']);
    });
  });

  describe('Retry-After', () => {
    const start = Date.parse('2030-01-01T00:00:00Z');
    const wide = backoff.exponential({ initialDelay: 10, maxDelay: 60_000, jitter: 'none' });

    /** A server that answers 503 with `retryAfter` once, then 200; a policy on a manual clock. */
    function setup(retryAfter: (now: number) => string, options: PolicyOptions = {}) {
      const clock = new ManualClock(start);
      const events = new EventFeed();
      server.handler = (_req, res, n) => {
        res.writeHead(n === 1 ? 503 : 200, n === 1 ? { 'retry-after': retryAfter(clock.now()) } : {});
        res.end(n === 1 ? 'slow down' : 'ok');
      };
      const dispatcher = agent({
        clock,
        onEvent: events.listener,
        retry: { maxAttempts: 3, backoff: wide },
        ...options,
      });
      return { clock, events, pending: request(server.url('/'), { dispatcher }) };
    }

    it('waits the seconds the server asks for', async () => {
      const { clock, events, pending } = setup(() => '7');
      const scheduled = await events.wait('retry-scheduled');
      expect(scheduled).toMatchObject({ delayMs: 7_000, reason: 'server-hint' });
      expect(server.requests).toHaveLength(1);
      await clock.advance(7_000);
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('ok');
      expect(server.requests).toHaveLength(2);
    });

    it('waits until the HTTP-date the server names', async () => {
      const { clock, events, pending } = setup((now) => new Date(now + 4_000).toUTCString());
      expect(await events.wait('retry-scheduled')).toMatchObject({ delayMs: 4_000, reason: 'server-hint' });
      await clock.advance(4_000);
      expect((await pending).statusCode).toBe(200);
    });

    it.each([
      ['a huge number of seconds', () => '99999999999', 60_000, 'server-hint'],
      [
        'a date years ahead',
        (now: number) => new Date(now + 5 * 365 * 86_400_000).toUTCString(),
        60_000,
        'server-hint',
      ],
      ['a negative number', () => '-5', 10, 'backoff'],
      ['garbage', () => 'soon', 10, 'backoff'],
      ['a fraction', () => '1.5', 10, 'backoff'],
      ['a date in the past', () => 'Thu, 01 Jan 2015 00:00:00 GMT', 10, 'backoff'],
    ])('treats %s as capped or no hint', async (_label, value, delayMs, reason) => {
      const { clock, events, pending } = setup(value);
      expect(await events.wait('retry-scheduled')).toMatchObject({ delayMs, reason });
      await clock.advance(delayMs);
      expect((await pending).statusCode).toBe(200);
    });

    it('stops at once, handing over the 503, when the wait cannot fit in the deadline', async () => {
      const { events, pending } = setup(() => '30', { deadline: 5_000 });
      // The clock never moves: only an immediate stop can settle the request.
      const res = await pending;
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('30');
      expect(await res.body.text()).toBe('slow down');
      expect((await events.wait('retry-refused')).reason).toBe('deadline');
      expect(server.requests).toHaveLength(1);
    });
  });

  it('composes with undici’s own interceptors: each redirect hop is retried on its own', async () => {
    server.handler = (req, res, n) => {
      if (req.url === '/old') res.writeHead(301, { location: '/new' });
      else res.writeHead(n === 2 ? 503 : 200);
      res.end(req.url === '/new' && n !== 2 ? 'moved here' : '');
    };
    const d = new Agent().compose(
      interceptors.dns(),
      httpInterceptor(policy({ retry: { backoff: quick } })),
      interceptors.redirect({ maxRedirections: 2 }),
    );
    dispatchers.push(d);
    const res = await request(server.url('/old'), { dispatcher: d });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('moved here');
    expect(server.requests.map((r) => r.path)).toEqual(['/old', '/new', '/new']);
  });

  it('sends the time left downstream in the header named by deadlineHeader', async () => {
    const res = await request(server.url('/'), {
      dispatcher: agent({ deadline: 5_000 }, { deadlineHeader: 'x-request-timeout-ms' }),
    });
    await res.body.dump();
    const sent = Number(server.requests[0]?.headers['x-request-timeout-ms']);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(5_000);
    const plain = await request(server.url('/'), { dispatcher: agent({ deadline: 5_000 }) });
    await plain.body.dump();
    expect(server.requests[1]?.headers['x-request-timeout-ms']).toBeUndefined();
  });

  it('rejects invalid per-request options with the option’s name', async () => {
    const error = await request(server.url('/'), {
      dispatcher: agent(),
      breakwater: { deadline: 'soon' as unknown as number },
    }).catch((e: unknown) => e);
    expect(isBreakwaterError(error) && error.code).toBe('BREAKWATER_INVALID_OPTIONS');
    expect((error as Error).message).toContain('breakwater.deadline');
    expect(server.requests).toHaveLength(0);
  });
});
