/**
 * Unary calls through the interceptor against a real grpc-js server: retries, metadata,
 * pushback, statuses handed to the caller. Every case runs with a proto-loader client
 * and with the statically generated (ts-proto) one.
 */
import { InterceptingCall, type Interceptor, Metadata, status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grpcInterceptor } from '../../../src/grpc/index.js';
import { type BreakwaterEvent, backoff, isBreakwaterError, policy } from '../../../src/index.js';
import type { OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
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
} from './harness.js';

const quick = backoff.constant(5);

describe.each(CLIENT_KINDS)('unary calls (%s client)', (kind) => {
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

  it('retries UNAVAILABLE until the server answers, with one idempotency key and the attempt count', async () => {
    server.script(
      GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE },
      { kind: 'fail', code: status.UNAVAILABLE },
    );
    const c = client(policy({ retry: { maxAttempts: 4, backoff: quick }, idempotency: true }));
    const { value, error } = await getOrder(c, 'o-7').outcome;
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ id: 'o-7', quantity: 3 });
    const seen = server.seen(GET_ORDER);
    expect(seen).toHaveLength(3);
    const keys = seen.map((s) => s.header('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);
    expect(seen.map((s) => s.header('grpc-previous-rpc-attempts'))).toEqual([undefined, '1', '2']);
  });

  it('hands the caller the server’s own last status, details and trailers when retries run out', async () => {
    server.script(
      GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE, details: 'down #1', trailers: { 'x-shard': 'a' } },
      { kind: 'fail', code: status.UNAVAILABLE, details: 'down #2', trailers: { 'x-shard': 'b' } },
      { kind: 'fail', code: status.UNAVAILABLE, details: 'down #3', trailers: { 'x-shard': 'c' } },
    );
    const c = client(policy({ retry: { maxAttempts: 3, backoff: quick } }));
    const { error } = await getOrder(c).outcome;
    expect(server.seen(GET_ORDER)).toHaveLength(3);
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toBe('down #3');
    expect(error?.metadata.get('x-shard')).toEqual(['c']);
    expect((error as { cause?: unknown }).cause).toBeUndefined();
  });

  it('does not retry a status that is not retryable', async () => {
    server.script(GET_ORDER, { kind: 'fail', code: status.INVALID_ARGUMENT, details: 'bad id' });
    const c = client(policy({ retry: { maxAttempts: 5, backoff: quick } }));
    const { error } = await getOrder(c).outcome;
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toBe('bad id');
    expect(server.seen(GET_ORDER)).toHaveLength(1);
  });

  it('sends a non-idempotent call without an idempotency key exactly once', async () => {
    server.script(CREATE_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = client(policy({ retry: { maxAttempts: 5, backoff: quick } }), {
      methods: { [CREATE_ORDER]: { idempotent: false } },
    });
    const { error } = await createOrder(c).outcome;
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(server.seen(CREATE_ORDER)).toHaveLength(1);
    expect(server.seen(CREATE_ORDER)[0]?.header('idempotency-key')).toBeUndefined();
  });

  it('retries a non-idempotent call that carries the caller’s own idempotency key, sending that key', async () => {
    server.script(CREATE_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = client(policy({ retry: { maxAttempts: 5, backoff: quick } }), {
      methods: { [CREATE_ORDER]: { idempotent: false } },
    });
    const metadata = new Metadata();
    metadata.set('idempotency-key', 'order-42');
    const { value, error } = await createOrder(c, 'lamp', metadata).outcome;
    expect(error).toBeUndefined();
    expect(value?.item).toBe('lamp');
    expect(server.seen(CREATE_ORDER).map((s) => s.header('idempotency-key'))).toEqual([
      'order-42',
      'order-42',
    ]);
  });

  it('retries a non-idempotent call when the policy gives every operation a key', async () => {
    server.script(CREATE_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = client(policy({ retry: { maxAttempts: 5, backoff: quick }, idempotency: true }), {
      methods: { [CREATE_ORDER]: { idempotent: false } },
    });
    const { error } = await createOrder(c).outcome;
    expect(error).toBeUndefined();
    const keys = server.seen(CREATE_ORDER).map((s) => s.header('idempotency-key'));
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBeDefined();
    expect(keys[1]).toBe(keys[0]);
  });

  it('honours retry: false for a method', async () => {
    server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = client(policy({ retry: { maxAttempts: 5, backoff: quick } }), {
      methods: { [GET_ORDER]: { retry: false } },
    });
    const { error } = await getOrder(c).outcome;
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(server.seen(GET_ORDER)).toHaveLength(1);
  });

  it('uses a method’s own policy', async () => {
    server.script(
      GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE },
      { kind: 'fail', code: status.UNAVAILABLE },
    );
    const c = client(policy({ retry: false }), {
      methods: { [GET_ORDER]: { policy: policy({ retry: { maxAttempts: 3, backoff: quick } }) } },
    });
    server.script(CREATE_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    expect((await getOrder(c).outcome).error).toBeUndefined();
    expect(server.seen(GET_ORDER)).toHaveLength(3);
    expect((await createOrder(c).outcome).error?.code).toBe(status.UNAVAILABLE);
    expect(server.seen(CREATE_ORDER)).toHaveLength(1);
  });

  it('lets a policy’s own retryOn replace the transport’s rules', async () => {
    server.script(
      GET_ORDER,
      { kind: 'fail', code: status.ABORTED },
      { kind: 'fail', code: status.UNAVAILABLE },
    );
    const c = client(
      policy({
        retry: {
          maxAttempts: 5,
          backoff: quick,
          retryOn: (error) => (error as { code?: unknown }).code === status.ABORTED,
        },
      }),
    );
    const { error } = await getOrder(c).outcome;
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(server.seen(GET_ORDER)).toHaveLength(2);
  });

  it('runs the interceptors after it once per attempt, on a fresh copy of the metadata', async () => {
    server.script(
      GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE },
      { kind: 'fail', code: status.UNAVAILABLE },
    );
    let stamped = 0;
    // An interceptor further down that adds (not sets) an entry on every attempt.
    const stamp: Interceptor = (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          metadata.add('x-stamp', String(++stamped));
          next(metadata, listener);
        },
      });
    const c = makeClient(
      kind,
      server.address,
      clientOptions([grpcInterceptor(policy({ retry: { maxAttempts: 3, backoff: quick } })), stamp]),
    );
    clients.push(c);
    expect((await getOrder(c).outcome).error).toBeUndefined();
    expect(server.seen(GET_ORDER).map((s) => s.metadata.get('x-stamp'))).toEqual([['1'], ['2'], ['3']]);
  });

  it('fails at once, without a call, when the caller’s deadline has already passed', async () => {
    const c = client(policy({ retry: { maxAttempts: 3, backoff: quick } }));
    const { error } = await getOrder(c, 'late', undefined, { deadline: Date.now() - 1 }).outcome;
    expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
    expect(isBreakwaterError((error as { cause?: unknown }).cause)).toBe(true);
    expect(server.seen(GET_ORDER)).toHaveLength(0);
  });

  it('reports attempts and retries through the policy’s events', async () => {
    server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const events: BreakwaterEvent[] = [];
    let ended!: () => void;
    const operationEnded = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const onEvent = (e: BreakwaterEvent) => {
      events.push(e);
      if (e.type === 'operation-end') ended();
    };
    const c = client(policy({ retry: { maxAttempts: 3, backoff: quick }, onEvent }));
    expect((await getOrder(c).outcome).error).toBeUndefined();
    await operationEnded;
    const types = events.map((e) => e.type);
    expect(types).toEqual([
      'attempt-start',
      'attempt-end',
      'retry-scheduled',
      'attempt-start',
      'attempt-end',
      'operation-end',
    ]);
    const failed = events[1];
    expect(failed?.type === 'attempt-end' && (failed.error as { code?: unknown }).code).toBe(
      status.UNAVAILABLE,
    );
  });

  it('is an InterceptingCall that works under another interceptor, which sees the final answer', async () => {
    server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const statuses: number[] = [];
    const messages: unknown[] = [];
    let returned: unknown;
    const bw = grpcInterceptor(policy({ retry: { maxAttempts: 3, backoff: quick } }));
    // Returned unwrapped, as grpc-js's Interceptor type asks; an outer interceptor then
    // wraps it like any other call.
    const capture: Interceptor = (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, _listener, next) => {
          next(metadata, {
            onReceiveMessage: (message, nextMessage) => {
              messages.push(message);
              nextMessage(message);
            },
            onReceiveStatus: (s, nextStatus) => {
              statuses.push(s.code);
              nextStatus(s);
            },
          });
        },
      });
    const inspect: Interceptor = (options, nextCall) => {
      const call = bw(options, nextCall);
      returned = call;
      return call;
    };
    const c = makeClient(kind, server.address, clientOptions([capture, inspect]));
    clients.push(c);
    const { value, error } = await getOrder(c, 'o-9').outcome;
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ id: 'o-9' });
    expect(returned).toBeInstanceOf(InterceptingCall);
    expect(statuses).toEqual([status.OK]);
    expect(messages).toHaveLength(1);
    expect(server.seen(GET_ORDER)).toHaveLength(2);
  });

  it('takes a listener with methods missing when started directly', async () => {
    server.script(GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    // The real nextCall of a client's chain, kept to make calls outside the client.
    let chain: { options: Parameters<Interceptor>[0]; nextCall: Parameters<Interceptor>[1] } | undefined;
    const keep: Interceptor = (options, nextCall) => {
      chain = { options, nextCall };
      return new InterceptingCall(nextCall(options));
    };
    const c = makeClient(kind, server.address, clientOptions([keep]));
    clients.push(c);
    expect((await getOrder(c, 'warm').outcome).error?.code).toBe(status.UNAVAILABLE);
    if (chain === undefined) throw new Error('the interceptor did not run');
    const { options, nextCall } = chain;
    const call = grpcInterceptor(policy({ retry: { maxAttempts: 3, backoff: quick } }))(options, nextCall);
    const ended = new Promise<number>((resolve) => {
      call.start(new Metadata(), { onReceiveStatus: (s) => resolve(s.code) });
    });
    call.sendMessage({ id: 'direct' });
    call.halfClose();
    expect(await ended).toBe(status.OK);
    expect(server.seen(GET_ORDER).map((s) => s.request)).toMatchObject([{ id: 'warm' }, { id: 'direct' }]);
  });
});
