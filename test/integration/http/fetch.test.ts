/**
 * resilientFetch's own concerns against a real server: fetch's body types and Request
 * objects, signals, the rejections a fetch caller sees. And how undici's and Node's fetch
 * report breakwater's rejections when they go through the interceptor.
 */
import { Agent, type Dispatcher, fetch as undiciFetch } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FetchLike, httpInterceptor, resilientFetch } from '../../../src/http/index.js';
import {
  backoff,
  circuitBreaker,
  isBreakwaterError,
  keyedCircuitBreaker,
  type PolicyOptions,
  policy,
} from '../../../src/index.js';
import { TestServer } from './server.js';

const busyTwice = (_req: unknown, res: import('node:http').ServerResponse, n: number) => {
  res.writeHead(n <= 2 ? 503 : 200);
  res.end(n <= 2 ? 'busy' : 'done');
};

describe('resilientFetch', () => {
  let server: TestServer;
  const make = (options: PolicyOptions = {}, fetch?: FetchLike) =>
    resilientFetch(
      policy({ retry: { backoff: backoff.constant(1) }, ...options }),
      fetch === undefined ? {} : { fetch },
    );

  beforeEach(async () => {
    server = await TestServer.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('replays a Request’s body on every attempt, from a clone', async () => {
    server.handler = busyTwice;
    const req = new Request(server.url('/orders'), {
      method: 'POST',
      body: '{"sku":"A-1"}',
      headers: { 'content-type': 'application/json' },
    });
    const res = await make({ idempotency: true })(req);
    expect(res.status).toBe(200);
    expect(server.requests.map((r) => r.body)).toEqual(['{"sku":"A-1"}', '{"sku":"A-1"}', '{"sku":"A-1"}']);
    expect(server.requests.every((r) => r.headers['content-type'] === 'application/json')).toBe(true);
    expect(new Set(server.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
  });

  it('replays URLSearchParams and FormData bodies', async () => {
    server.handler = busyTwice;
    const f = make();
    await (
      await f(server.url('/form'), { method: 'PUT', body: new URLSearchParams({ a: '1', b: 'x y' }) })
    ).text();
    expect(server.requests.map((r) => r.body)).toEqual(['a=1&b=x+y', 'a=1&b=x+y', 'a=1&b=x+y']);
    expect(server.requests[2]?.headers['content-type']).toContain('application/x-www-form-urlencoded');

    server.handler = (_req, res, n) => {
      res.writeHead(n === 4 ? 503 : 200);
      res.end();
    };
    const form = new FormData();
    form.set('field', 'value');
    await (await f(server.url('/multipart'), { method: 'PUT', body: form })).text();
    expect(server.requests.slice(3).map((r) => r.body.includes('value'))).toEqual([true, true]);
  });

  it('does not resend a ReadableStream body once it was consumed', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const init = { method: 'PUT', body, duplex: 'half' } as RequestInit;
    const res = await make({ retry: { maxAttempts: 4, backoff: backoff.constant(1) } })(
      server.url('/'),
      init,
    );
    expect(res.status).toBe(503);
    expect(server.requests.map((r) => r.body)).toEqual(['streamed']);
  });

  it('sends the call’s own key and keeps breakwater options away from fetch', async () => {
    server.handler = busyTwice;
    const seen: (RequestInit | undefined)[] = [];
    const spy: FetchLike = (input, init) => {
      seen.push(init);
      return fetch(input, init);
    };
    const res = await make({}, spy)(server.url('/charges'), {
      method: 'POST',
      body: 'x',
      breakwater: { idempotencyKey: 'charge-7' },
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual([
      '"charge-7"',
      '"charge-7"',
      '"charge-7"',
    ]);
    expect(seen).toHaveLength(3);
    expect(seen.every((init) => init !== undefined && !('breakwater' in init))).toBe(true);
  });

  it('rejects bad per-call options, never throws, and sends nothing', async () => {
    const f = make();
    let call: Promise<Response> | undefined;
    expect(() => {
      call = f(server.url('/'), { breakwater: { idempotencyKey: 'clé' } } as RequestInit);
    }).not.toThrow();
    const error = await call?.catch((e: unknown) => e);
    expect(isBreakwaterError(error) && error.code).toBe('BREAKWATER_INVALID_OPTIONS');
    expect((error as { option?: string }).option).toBe('breakwater.idempotencyKey');
    expect(server.requests).toHaveLength(0);
  });

  it('rejects with breakwater’s own errors, not wrapped', async () => {
    server.handler = () => {}; // never answers
    const deadline = await make({ deadline: 150 })(server.url('/slow')).catch((e: unknown) => e);
    expect(isBreakwaterError(deadline) && deadline.code).toBe('BREAKWATER_DEADLINE_EXCEEDED');

    const open = circuitBreaker();
    open.isolate();
    const rejected = await make({ circuitBreaker: open })(server.url('/')).catch((e: unknown) => e);
    expect(isBreakwaterError(rejected) && rejected.code).toBe('BREAKWATER_CIRCUIT_OPEN');
  });

  it('keeps the body under the caller’s signal after it resolved, deadline or not', async () => {
    server.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('part');
    };
    const controller = new AbortController();
    const res = await make({ deadline: 30_000 })(server.url('/'), { signal: controller.signal });
    expect(res.status).toBe(200);
    const reading = res.text();
    const reason = new Error('enough');
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
  });

  it("the caller's abort of a request in flight rejects with its reason and does not count against the breaker", async () => {
    server.handler = () => {}; // never answers
    const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
    const f = make({ retry: false, circuitBreaker: breaker });
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const pending = f(server.url('/'), { signal: controller.signal });
      await server.waitForRequests(i + 1);
      const reason = new Error(`gave up ${i}`);
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
    }
    // A single failure would have opened it (consecutiveFailures: 1).
    expect(breaker.state).toBe('closed');
  });

  it('keeps one breaker state per origin', async () => {
    const healthy = await TestServer.start((_req, res) => res.end('fine'));
    try {
      server.handler = (_req, res) => {
        res.writeHead(503);
        res.end();
      };
      const breaker = keyedCircuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
      const f = make({ retry: false, circuitBreaker: breaker });
      expect((await f(server.url('/'))).status).toBe(503);
      const rejected = await f(server.url('/')).catch((e: unknown) => e);
      expect((rejected as { key?: string }).key).toBe(server.origin);
      expect(await (await f(healthy.url('/'))).text()).toBe('fine');
      expect(server.requests).toHaveLength(1);
    } finally {
      await healthy.close();
    }
  });
});

describe('fetch through the interceptor', () => {
  let server: TestServer;
  let agent: Dispatcher;

  beforeEach(async () => {
    server = await TestServer.start();
  });
  afterEach(async () => {
    await agent.destroy();
    await server.close();
  });

  it.each([
    ['undici.fetch', undiciFetch as unknown as FetchLike],
    ['global fetch', fetch],
  ])('%s reports breakwater’s rejection as the cause of TypeError("fetch failed")', async (_name, f) => {
    const open = circuitBreaker();
    open.isolate();
    agent = new Agent().compose(httpInterceptor(policy({ circuitBreaker: open })));
    const error = await f(server.url('/'), { dispatcher: agent } as unknown as RequestInit).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    const cause = (error as { cause?: unknown }).cause;
    expect(isBreakwaterError(cause) && cause.code).toBe('BREAKWATER_CIRCUIT_OPEN');
    expect(server.requests).toHaveLength(0);
  });
});
