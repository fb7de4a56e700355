/**
 * Streaming calls: server streaming is retried until its first message (the commit
 * point); client-streaming and bidi calls get deadline, breaker and bulkhead, no retry.
 */
import { type ClientReadableStream, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grpcInterceptor } from '../../../src/grpc/index.js';
import {
  backoff,
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  isBreakwaterError,
  type PolicyOptions,
  policy,
} from '../../../src/index.js';
import type {
  ChatMessage,
  ImportSummary,
  OrderEvent,
  OrderServiceClient,
} from '../../fixtures/grpc/generated/orders.js';
import {
  CHAT,
  CLIENT_KINDS,
  clientOptions,
  IMPORT_ORDERS,
  makeClient,
  type OrdersServer,
  startServer,
  WATCH_ORDER,
} from './harness.js';

interface Collected<T> {
  readonly messages: T[];
  readonly error: ServiceError | undefined;
  readonly metadata: Metadata | undefined;
}

/** Reads a stream to its end. */
function collect<T>(stream: ClientReadableStream<T>): Promise<Collected<T>> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    let metadata: Metadata | undefined;
    stream.on('metadata', (m: Metadata) => {
      metadata = m;
    });
    stream.on('data', (m: T) => messages.push(m));
    stream.on('error', (error: ServiceError) => resolve({ messages, error, metadata }));
    stream.on('end', () => resolve({ messages, error: undefined, metadata }));
  });
}

const quick = backoff.constant(5);

describe.each(CLIENT_KINDS)('streaming calls (%s client)', (kind) => {
  let server: OrdersServer;
  const clients: OrderServiceClient[] = [];
  const client = (options: PolicyOptions) => {
    const c = makeClient(kind, server.address, clientOptions([grpcInterceptor(policy(options))]));
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    server.kill();
  });

  describe('server streaming', () => {
    it('retries a stream that fails before its first message, and delivers every message once', async () => {
      server.script(WATCH_ORDER, { kind: 'fail', code: status.UNAVAILABLE }, { kind: 'stream', messages: 3 });
      const c = client({ retry: { maxAttempts: 3, backoff: quick }, idempotency: true });
      const { messages, error } = await collect(c.watchOrder({ id: 'w-1' }));
      expect(error).toBeUndefined();
      expect(messages.map((m: OrderEvent) => m.sequence)).toEqual([1, 2, 3]);
      const seen = server.seen(WATCH_ORDER);
      expect(seen).toHaveLength(2);
      expect(seen[1]?.header('grpc-previous-rpc-attempts')).toBe('1');
      expect(seen[1]?.header('idempotency-key')).toBe(seen[0]?.header('idempotency-key'));
    });

    it('does not retry once the first message has arrived: the caller gets it, then the error', async () => {
      server.script(WATCH_ORDER, { kind: 'stream', messages: 1, failWith: status.UNAVAILABLE });
      const c = client({ retry: { maxAttempts: 5, backoff: quick } });
      const { messages, error } = await collect(c.watchOrder({ id: 'w-2' }));
      expect(messages.map((m: OrderEvent) => m.sequence)).toEqual([1]);
      expect(error?.code).toBe(status.UNAVAILABLE);
      expect(server.seen(WATCH_ORDER)).toHaveLength(1);
    });

    it('retries a stream whose first message is later than attemptTimeout', async () => {
      server.script(WATCH_ORDER, { kind: 'hang' }, { kind: 'stream', messages: 2 });
      const c = client({ attemptTimeout: 150, retry: { maxAttempts: 3, backoff: quick } });
      const { messages, error } = await collect(c.watchOrder({ id: 'w-3' }));
      expect(error).toBeUndefined();
      expect(messages).toHaveLength(2);
      const [first] = server.seen(WATCH_ORDER);
      await first?.cancelled;
      expect(server.seen(WATCH_ORDER)).toHaveLength(2);
    });

    it('does not cut a committed stream that runs longer than attemptTimeout', async () => {
      server.script(WATCH_ORDER, { kind: 'stream', messages: 4, gapMs: 60 });
      const c = client({ attemptTimeout: 100, deadline: 10_000 });
      const { messages, error } = await collect(c.watchOrder({ id: 'w-4' }));
      expect(error).toBeUndefined();
      expect(messages).toHaveLength(4);
      expect(server.seen(WATCH_ORDER)).toHaveLength(1);
    });

    it('ends a stream at the operation’s deadline', async () => {
      server.script(WATCH_ORDER, { kind: 'stream', messages: 100, gapMs: 50 });
      const c = client({ deadline: 300 });
      const { messages, error } = await collect(c.watchOrder({ id: 'w-5' }));
      expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(messages.length).toBeGreaterThan(0);
      expect(messages.length).toBeLessThan(100);
    });

    it('cancels a committed stream on call.cancel(): the server sees it, the caller gets CANCELLED', async () => {
      server.script(WATCH_ORDER, { kind: 'stream', messages: 1000, gapMs: 20 });
      const c = client({ retry: { maxAttempts: 3, backoff: quick } });
      const stream = c.watchOrder({ id: 'w-7' });
      const done = collect(stream);
      await new Promise((resolve) => stream.once('data', resolve));
      stream.cancel();
      const { error, messages } = await done;
      expect(error?.code).toBe(status.CANCELLED);
      expect(messages.length).toBeLessThan(1000);
      await server.seen(WATCH_ORDER)[0]?.cancelled;
      expect(server.seen(WATCH_ORDER)).toHaveLength(1);
    });

    it('hands response headers to the caller once, from the attempt that committed', async () => {
      server.script(WATCH_ORDER, { kind: 'fail', code: status.UNAVAILABLE }, { kind: 'stream', messages: 1 });
      const c = client({ retry: { maxAttempts: 3, backoff: quick } });
      const stream = c.watchOrder({ id: 'w-6' });
      let headerEvents = 0;
      stream.on('metadata', () => headerEvents++);
      const { error } = await collect(stream);
      expect(error).toBeUndefined();
      expect(headerEvents).toBe(1);
    });
  });

  describe('client streaming and bidi', () => {
    function importOrders(c: OrderServiceClient, count: number) {
      return new Promise<{ value?: ImportSummary; error?: ServiceError }>((resolve) => {
        const call = c.importOrders((error, value) => resolve(error ? { error } : { value }));
        for (let i = 0; i < count; i++) call.write({ item: `i${i}`, quantity: i });
        call.end();
      });
    }

    it('passes a client stream through', async () => {
      const c = client({ retry: { maxAttempts: 3, backoff: quick } });
      const { value, error } = await importOrders(c, 5);
      expect(error).toBeUndefined();
      expect(value?.count).toBe(5);
    });

    it('never retries a client stream', async () => {
      server.script(IMPORT_ORDERS, { kind: 'fail', code: status.UNAVAILABLE, details: 'no' });
      const c = client({ retry: { maxAttempts: 5, backoff: quick } });
      const { error } = await importOrders(c, 2);
      expect(error?.code).toBe(status.UNAVAILABLE);
      expect(error?.details).toBe('no');
      expect(server.seen(IMPORT_ORDERS)).toHaveLength(1);
    });

    it('applies the deadline to a client stream, but not the attempt timeout', async () => {
      server.script(IMPORT_ORDERS, { kind: 'hang' });
      const c = client({ deadline: 300, attemptTimeout: 50 });
      const started = performance.now();
      const { error } = await importOrders(c, 1);
      expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(performance.now() - started).toBeGreaterThanOrEqual(275);
      const cause = (error as { cause?: unknown }).cause;
      expect(
        cause === undefined || (isBreakwaterError(cause) && cause.code === 'BREAKWATER_DEADLINE_EXCEEDED'),
      ).toBe(true);
    });

    it('holds a bulkhead slot for the life of a client stream', async () => {
      const c = client({ bulkhead: bulkhead({ maxConcurrent: 1 }) });
      let first!: { value?: ImportSummary; error?: ServiceError };
      const open = new Promise<void>((resolve) => {
        const call = c.importOrders((error, value) => {
          first = error ? { error } : { value };
          resolve();
        });
        call.write({ item: 'a', quantity: 1 });
        // Ended only once the second stream has been turned away.
        void server.waitForCalls(IMPORT_ORDERS, 1).then(async () => {
          const rejected = await importOrders(c, 1);
          expect(rejected.error?.code).toBe(status.RESOURCE_EXHAUSTED);
          expect(isBreakwaterError((rejected.error as { cause?: unknown }).cause)).toBe(true);
          call.end();
        });
      });
      await open;
      expect(first.value?.count).toBe(1);
      expect(server.seen(IMPORT_ORDERS)).toHaveLength(1);
      // The slot is free again once the stream ended.
      expect((await importOrders(c, 2)).value?.count).toBe(2);
    });

    it('echoes a bidi stream through, and an open breaker rejects one before it starts', async () => {
      const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
      const c = client({ circuitBreaker: breaker, retry: { maxAttempts: 3, backoff: quick } });
      const echoed = await new Promise<string[]>((resolve, reject) => {
        const chat = c.chat(new Metadata());
        const texts: string[] = [];
        chat.on('data', (m: ChatMessage) => texts.push(m.text));
        chat.on('error', reject);
        chat.on('end', () => resolve(texts));
        chat.write({ text: 'a' });
        chat.write({ text: 'b' });
        chat.end();
      });
      expect(echoed).toEqual(['echo: a', 'echo: b']);

      server.script(CHAT, { kind: 'fail', code: status.UNAVAILABLE });
      const failed = await new Promise<ServiceError>((resolve) => {
        const chat = c.chat();
        chat.on('data', () => {});
        chat.on('error', resolve);
        chat.end();
      });
      expect(failed.code).toBe(status.UNAVAILABLE);
      expect(server.seen(CHAT)).toHaveLength(2);
      expect(breaker.state).toBe('open');

      const rejected = await new Promise<ServiceError>((resolve) => {
        const chat = c.chat();
        chat.on('data', () => {});
        chat.on('error', resolve);
        chat.write({ text: 'lost' });
        chat.end();
      });
      expect(rejected.code).toBe(status.UNAVAILABLE);
      expect((rejected as { cause?: unknown }).cause).toBeInstanceOf(CircuitOpenError);
      expect(server.seen(CHAT)).toHaveLength(2);
    });
  });
});
