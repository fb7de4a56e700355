/**
 * Hedged requests through httpInterceptor (undici.request) and resilientFetch against a
 * real node:http server. The policy's clock is a manual one: a hedge is sent when the test
 * moves it past the hedge delay, so no assertion depends on timing. A slow attempt is one
 * the server never answers; the server sees its request close when undici aborts it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, type Dispatcher, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpInterceptor, resilientFetch } from '../../../src/http/index.js';
import { type PolicyOptions, policy } from '../../../src/index.js';
import { ManualClock } from '../../support/clock.js';
import { EventFeed } from './events.js';
import { TestServer, until } from './server.js';

/** A handler whose first request hangs (its close is recorded); later ones get `answer`. */
function firstHangs(answer: (res: ServerResponse, n: number) => void) {
  const closed: { first: boolean } = { first: false };
  const handler = (req: IncomingMessage, res: ServerResponse, n: number) => {
    if (n === 1) {
      res.on('close', () => {
        closed.first = true;
      });
      req.on('close', () => {
        if (res.writableEnded === false) closed.first = true;
      });
      return;
    }
    answer(res, n);
  };
  return { closed, handler };
}

describe('hedged requests', () => {
  let server: TestServer;
  let clock: ManualClock;
  const dispatchers: Dispatcher[] = [];
  const agent = (options: PolicyOptions): { dispatcher: Dispatcher; feed: EventFeed } => {
    const feed = new EventFeed();
    const p = policy({ clock, onEvent: feed.listener, ...options });
    const dispatcher = new Agent().compose(httpInterceptor(p));
    dispatchers.push(dispatcher);
    return { dispatcher, feed };
  };

  beforeEach(async () => {
    server = await TestServer.start();
    clock = new ManualClock(Date.now());
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.destroy()));
    await server.close();
  });

  it('a hedge overtakes a slow GET, and the server sees the slow request closed', async () => {
    const { closed, handler } = firstHangs((res, n) => res.end(`answer ${n}`));
    server.handler = handler;
    const { dispatcher, feed } = agent({ hedge: { maxAttempts: 2, delay: 20 } });
    const pending = request(server.url('/orders/1'), { dispatcher });
    await server.waitForRequests(1);
    await clock.advance(20);
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('answer 2');
    expect(server.requests).toHaveLength(2);
    await until(() => closed.first, 'the slow request to close');
    expect(feed.of('hedge-started').map((e) => e.attempt)).toEqual([2]);
    expect(feed.of('operation-end')[0]).toMatchObject({ outcome: 'success', attempts: 2 });
  });

  it('a fatal status (500, a failure not retried) from a hedge ends the request: the caller gets it, the slow one is aborted, no hedge follows', async () => {
    const { closed, handler } = firstHangs((res) => {
      res.writeHead(500);
      res.end('bad order');
    });
    server.handler = handler;
    const { dispatcher, feed } = agent({ hedge: { maxAttempts: 3, delay: 20 } });
    const pending = request(server.url('/orders/2'), { dispatcher });
    await server.waitForRequests(1);
    await clock.advance(20);
    const res = await pending;
    expect(res.statusCode).toBe(500);
    expect(await res.body.text()).toBe('bad order');
    await until(() => closed.first, 'the slow request to close');
    // The third attempt's time comes and goes: the operation is over.
    await clock.advance(1_000);
    expect(feed.of('hedge-started')).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
    expect(feed.of('operation-end')[0]).toMatchObject({ outcome: 'failure', attempts: 2 });
  });

  it('a retryable status sends the next hedge at once; when all fail the caller gets the first response', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(503);
      res.end(`busy #${n}`);
    };
    // The clock never moves: every hedge here follows a failure.
    const { dispatcher } = agent({ hedge: { maxAttempts: 3, delay: 20 } });
    const res = await request(server.url('/orders/3'), { dispatcher });
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('busy #1');
    expect(server.requests).toHaveLength(3);
  });

  it('a held retryable status does not stop a hedge in flight from winning', async () => {
    let release: (() => void) | undefined;
    server.handler = (_req, res, n) => {
      if (n === 1) {
        // The first answers only after the second failed: it wins.
        release = () => res.end('late but fine');
        return;
      }
      res.writeHead(503);
      res.end('busy');
    };
    const { dispatcher, feed } = agent({ hedge: { maxAttempts: 2, delay: 20 } });
    const pending = request(server.url('/orders/4'), { dispatcher });
    await server.waitForRequests(1);
    await clock.advance(20);
    await feed.wait('attempt-end', 1);
    expect(feed.of('attempt-end')[0]).toMatchObject({ attempt: 2, outcome: 'failure' });
    release?.();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('late but fine');
  });

  it('never hedges a POST without an idempotency key', async () => {
    let release: (() => void) | undefined;
    server.handler = (_req, res) => {
      release = () => res.end('created');
    };
    const { dispatcher, feed } = agent({ hedge: { maxAttempts: 3, delay: 20 } });
    const pending = request(server.url('/orders'), { dispatcher, method: 'POST', body: '{"sku":"A"}' });
    await server.waitForRequests(1);
    await clock.advance(1_000);
    expect(feed.of('hedge-started')).toHaveLength(0);
    release?.();
    const res = await pending;
    expect(await res.body.text()).toBe('created');
    expect(server.requests).toHaveLength(1);
  });

  it('hedges a POST with an idempotency key, the same key on every attempt', async () => {
    const { closed, handler } = firstHangs((res) => res.end('created'));
    server.handler = handler;
    const { dispatcher } = agent({ hedge: { maxAttempts: 2, delay: 20 }, idempotency: true });
    const pending = request(server.url('/orders'), { dispatcher, method: 'POST', body: '{"sku":"A"}' });
    await server.waitForRequests(1);
    await clock.advance(20);
    const res = await pending;
    expect(await res.body.text()).toBe('created');
    const keys = server.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBeDefined();
    expect(keys[1]).toBe(keys[0]);
    expect(server.requests.map((r) => r.body)).toEqual(['{"sku":"A"}', '{"sku":"A"}']);
    await until(() => closed.first, 'the slow request to close');
  });
});

describe('resilientFetch hedging', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await TestServer.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('a hedge overtakes a slow fetch, whose request the server sees closed', async () => {
    const { closed, handler } = firstHangs((res, n) => res.end(`answer ${n}`));
    server.handler = handler;
    const clock = new ManualClock(Date.now());
    const fetch = resilientFetch(policy({ clock, hedge: { maxAttempts: 2, delay: 20 } }));
    const pending = fetch(server.url('/orders/5'));
    await server.waitForRequests(1);
    await clock.advance(20);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('answer 2');
    await until(() => closed.first, 'the slow request to close');
  });

  it('never hedges a POST without an idempotency key', async () => {
    let release: (() => void) | undefined;
    server.handler = (_req, res) => {
      release = () => res.end('created');
    };
    const clock = new ManualClock(Date.now());
    const feed = new EventFeed();
    const fetch = resilientFetch(
      policy({ clock, onEvent: feed.listener, hedge: { maxAttempts: 3, delay: 20 } }),
    );
    const pending = fetch(server.url('/orders'), { method: 'POST', body: 'x' });
    await server.waitForRequests(1);
    await clock.advance(1_000);
    expect(feed.of('hedge-started')).toHaveLength(0);
    release?.();
    expect(await (await pending).text()).toBe('created');
    expect(server.requests).toHaveLength(1);
  });
});
