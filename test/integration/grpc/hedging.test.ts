/**
 * Hedged calls through the interceptor against a real grpc-js server: a slow attempt is
 * overtaken by a hedge and cancelled on the server; a fatal status ends every attempt; a
 * method that is not idempotent is hedged only with an idempotency key. The slow attempts
 * hang until cancelled, so no assertion depends on timing.
 */
import { type ClientReadableStream, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grpcInterceptor } from '../../../src/grpc/index.js';
import { type BreakwaterEvent, policy } from '../../../src/index.js';
import type { OrderEvent, OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
import {
  CLIENT_KINDS,
  CREATE_ORDER,
  clientOptions,
  createOrder,
  GET_ORDER,
  getOrder,
  makeClient,
  type OrdersServer,
  startServer,
  WATCH_ORDER,
} from './harness.js';

function collect<T>(
  stream: ClientReadableStream<T>,
): Promise<{ messages: T[]; error: ServiceError | undefined }> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    stream.on('data', (m: T) => messages.push(m));
    stream.on('error', (error: ServiceError) => resolve({ messages, error }));
    stream.on('end', () => resolve({ messages, error: undefined }));
  });
}

describe.each(CLIENT_KINDS)('hedged calls (%s client)', (kind) => {
  let server: OrdersServer;
  const clients: OrderServiceClient[] = [];
  const client = (...args: Parameters<typeof grpcInterceptor>) => {
    const c = makeClient(kind, server.address, clientOptions([grpcInterceptor(...args)]));
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.stop();
  });

  it('a hedge overtakes a slow unary attempt, which the server sees cancelled', async () => {
    server.script(GET_ORDER, { kind: 'hang' });
    const events: BreakwaterEvent[] = [];
    // Two attempts at most: on a loaded machine a third could start before the second answers.
    const hedged = policy({
      hedge: { maxAttempts: 2, delay: 20 },
      idempotency: true,
      deadline: 10_000,
      onEvent: (e) => events.push(e),
    });
    const { value, error } = await getOrder(client(hedged), 'o-9').outcome;
    expect(error).toBeUndefined();
    // The answer is the second call's (the server numbers its answers by arrival).
    expect(value).toMatchObject({ id: 'o-9', quantity: 2 });
    const seen = server.seen(GET_ORDER);
    expect(seen).toHaveLength(2);
    await seen[0]?.cancelled;
    expect(seen[0]?.isCancelled()).toBe(true);
    expect(seen[0]?.header('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.header('idempotency-key')).toBe(seen[0]?.header('idempotency-key'));
    expect(seen.map((s) => s.header('grpc-previous-rpc-attempts'))).toEqual([undefined, '1']);
    expect(events.filter((e) => e.type === 'hedge-started').map((e) => e.attempt)).toEqual([2]);
    const end = events.find((e) => e.type === 'operation-end');
    expect(end).toMatchObject({ outcome: 'success', attempts: 2 });
  });

  it('a hedge overtakes a server stream that has sent nothing yet; the caller gets the winner’s messages', async () => {
    server.script(WATCH_ORDER, { kind: 'hang' }, { kind: 'stream', messages: 3, gapMs: 1 });
    const c = client(policy({ hedge: { maxAttempts: 2, delay: 20 }, deadline: 10_000 }));
    const { messages, error } = await collect<OrderEvent>(c.watchOrder({ id: 'w-h' }));
    expect(error).toBeUndefined();
    expect(messages.map((m) => m.sequence)).toEqual([1, 2, 3]);
    const seen = server.seen(WATCH_ORDER);
    expect(seen).toHaveLength(2);
    await seen[0]?.cancelled;
    expect(seen[0]?.isCancelled()).toBe(true);
  });

  it('a fatal status from a hedge ends the call and cancels the attempt still in flight', async () => {
    server.script(
      GET_ORDER,
      { kind: 'hang' },
      { kind: 'fail', code: status.INVALID_ARGUMENT, details: 'bad id' },
    );
    const events: BreakwaterEvent[] = [];
    const c = client(policy({ hedge: { maxAttempts: 4, delay: 20 }, onEvent: (e) => events.push(e) }));
    const { error } = await getOrder(c).outcome;
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toBe('bad id');
    const seen = server.seen(GET_ORDER);
    await seen[0]?.cancelled;
    expect(seen[0]?.isCancelled()).toBe(true);
    // No hedge after the fatal status: the operation ended with two attempts.
    expect(seen).toHaveLength(2);
    expect(events.find((e) => e.type === 'operation-end')).toMatchObject({ outcome: 'failure', attempts: 2 });
  });

  it('a retryable status sends the next hedge at once; the caller gets the first attempt’s status when all fail', async () => {
    server.script(
      GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE, details: 'down #1' },
      { kind: 'fail', code: status.UNAVAILABLE, details: 'down #2' },
    );
    // A delay no test run reaches: every hedge here follows a failure.
    const c = client(policy({ hedge: { maxAttempts: 2, delay: 60_000 } }));
    const { error } = await getOrder(c).outcome;
    expect(server.seen(GET_ORDER)).toHaveLength(2);
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toBe('down #1');
  });

  it('never hedges a method that is not idempotent, without an idempotency key', async () => {
    // The only call answers after 150 ms; a hedge would be sent after 10.
    server.script(CREATE_ORDER, { kind: 'ok', delayMs: 150 });
    const events: BreakwaterEvent[] = [];
    const hedged = policy({ hedge: { maxAttempts: 3, delay: 10 }, onEvent: (e) => events.push(e) });
    const c = client(hedged, { methods: { [CREATE_ORDER]: { idempotent: false } } });
    const { value, error } = await createOrder(c).outcome;
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ id: 'order-1' });
    expect(server.seen(CREATE_ORDER)).toHaveLength(1);
    expect(events.some((e) => e.type === 'hedge-started')).toBe(false);
  });

  it('hedges a method that is not idempotent when the caller gives an idempotency key', async () => {
    server.script(CREATE_ORDER, { kind: 'hang' });
    const c = client(policy({ hedge: { maxAttempts: 2, delay: 20 }, deadline: 10_000 }), {
      methods: { [CREATE_ORDER]: { idempotent: false } },
    });
    const metadata = new Metadata();
    metadata.set('idempotency-key', 'order-42');
    const { value, error } = await createOrder(c, 'book', metadata).outcome;
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ id: 'order-2' });
    const seen = server.seen(CREATE_ORDER);
    expect(seen.map((s) => s.header('idempotency-key'))).toEqual(['order-42', 'order-42']);
    await seen[0]?.cancelled;
  });

  it('never hedges a method marked retry: false', async () => {
    server.script(GET_ORDER, { kind: 'ok', delayMs: 150 });
    const c = client(policy({ hedge: { maxAttempts: 3, delay: 10 } }), {
      methods: { [GET_ORDER]: { retry: false } },
    });
    const { error } = await getOrder(c).outcome;
    expect(error).toBeUndefined();
    expect(server.seen(GET_ORDER)).toHaveLength(1);
  });
});
