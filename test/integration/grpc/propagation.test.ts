/**
 * Deadline propagation across hops: Checkout → Discount → Loyalty as three real servers.
 * Each hop calls the next through the interceptor with callOptionsFrom(call), so the
 * innermost call gets what is left of the outermost deadline, never a fresh budget.
 */
import type { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CallOptions, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callOptionsFrom, deadlineFrom, grpcInterceptor } from '../../../src/grpc/index.js';
import { backoff, circuitBreaker, policy } from '../../../src/index.js';
import type { GetOrderRequest, Order, OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
import { clientOptions, GET_ORDER, getOrder, makeClient, type OrdersServer, startServer } from './harness.js';

/** Time each hop spends before calling the next one. */
const WORK_MS = 60;
/** The budget each middle hop's own policy would give a call: what propagation must beat. */
const FRESH_BUDGET = 10_000;

type Handler = (call: ServerUnaryCall<GetOrderRequest, Order>, callback: sendUnaryData<Order>) => void;

describe('deadline propagation across three services', () => {
  let checkout: OrdersServer;
  let discount: OrdersServer;
  let loyalty: OrdersServer;
  const clients: OrderServiceClient[] = [];

  /** A client of `server` with the interceptor and a policy that would grant FRESH_BUDGET. */
  function downstream(server: OrdersServer, maxAttempts = 1) {
    const c = makeClient(
      'generated',
      server.address,
      clientOptions([
        grpcInterceptor(
          policy({ deadline: FRESH_BUDGET, retry: { maxAttempts, backoff: backoff.constant(5) } }),
        ),
      ]),
    );
    clients.push(c);
    return c;
  }

  /** A hop that works for WORK_MS, then calls `next` with `options(call)`. */
  function relay(
    next: OrderServiceClient,
    options: (call: ServerUnaryCall<GetOrderRequest, Order>) => CallOptions,
  ): Handler {
    return (call, callback) => {
      void sleep(WORK_MS).then(() => {
        next.getOrder(call.request, call.metadata, options(call), (error, value) => callback(error, value));
      });
    };
  }

  beforeEach(async () => {
    [checkout, discount, loyalty] = await Promise.all([startServer(), startServer(), startServer()]);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const s of [checkout, discount, loyalty]) s.kill();
  });

  it('gives the innermost call the outer deadline minus the time already spent', async () => {
    checkout.getOrderHandler = relay(downstream(discount), (call) => callOptionsFrom(call));
    discount.getOrderHandler = relay(downstream(loyalty), (call) => callOptionsFrom(call));
    const outer = downstream(checkout);
    const started = Date.now();
    const outerDeadline = started + 2_000;
    const { error } = await getOrder(outer, 'o-1', undefined, { deadline: outerDeadline }).outcome;
    expect(error).toBeUndefined();
    const [inner] = loyalty.seen(GET_ORDER);
    const elapsed = (inner?.at ?? 0) - started;
    expect(elapsed).toBeGreaterThanOrEqual(2 * WORK_MS);
    const remaining = (inner?.deadline ?? 0) - (inner?.at ?? 0);
    // Each hop's server derives the deadline from a relative grpc-timeout on arrival, so
    // the time requests spent in transit (elapsed minus the hops' work) can push it later.
    const transit = elapsed - 2 * WORK_MS;
    expect(remaining).toBeLessThanOrEqual(2_000 - elapsed + transit);
    expect(inner?.deadline).toBeLessThanOrEqual(outerDeadline + transit);
    expect(remaining).toBeGreaterThan(2_000 - elapsed - 500);
    // Every hop saw the same absolute deadline, give or take transit.
    const [middle] = discount.seen(GET_ORDER);
    expect(Math.abs((middle?.deadline ?? 0) - outerDeadline)).toBeLessThanOrEqual(transit + 1);
  });

  it('without propagation the innermost call gets a fresh budget (the cascade)', async () => {
    checkout.getOrderHandler = relay(downstream(discount), () => ({}));
    discount.getOrderHandler = relay(downstream(loyalty), () => ({}));
    const outer = downstream(checkout);
    const outerDeadline = Date.now() + 2_000;
    expect(
      (await getOrder(outer, 'o-1', undefined, { deadline: outerDeadline }).outcome).error,
    ).toBeUndefined();
    const [inner] = loyalty.seen(GET_ORDER);
    expect((inner?.deadline ?? 0) - (inner?.at ?? 0)).toBeGreaterThan(FRESH_BUDGET - 1_000);
    expect(inner?.deadline).toBeGreaterThan(outerDeadline + 5_000);
  });

  it('keeps back the reserve at every hop', async () => {
    checkout.getOrderHandler = relay(downstream(discount), (call) => callOptionsFrom(call, { reserve: 100 }));
    discount.getOrderHandler = relay(downstream(loyalty), (call) => callOptionsFrom(call, { reserve: 100 }));
    const outer = downstream(checkout);
    const started = Date.now();
    const outerDeadline = started + 2_000;
    expect(
      (await getOrder(outer, 'o-1', undefined, { deadline: outerDeadline }).outcome).error,
    ).toBeUndefined();
    const [inner] = loyalty.seen(GET_ORDER);
    const transit = (inner?.at ?? 0) - started - 2 * WORK_MS;
    expect(inner?.deadline).toBeLessThanOrEqual(outerDeadline - 200 + transit);
    expect(inner?.deadline).toBeGreaterThan(outerDeadline - 200 - 500);
  });

  it('stops the whole chain when the outer deadline passes: the innermost call is cancelled too', async () => {
    checkout.getOrderHandler = relay(downstream(discount, 5), (call) => callOptionsFrom(call));
    discount.getOrderHandler = relay(downstream(loyalty, 5), (call) => callOptionsFrom(call));
    loyalty.script(GET_ORDER, { kind: 'hang' });
    const outer = downstream(checkout);
    const { error } = await getOrder(outer, 'o-1', undefined, { deadline: Date.now() + 500 }).outcome;
    expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
    const [inner] = await loyalty.waitForCalls(GET_ORDER, 1);
    await inner?.cancelled;
    // No hop retried into the dead budget.
    expect(loyalty.seen(GET_ORDER)).toHaveLength(1);
    expect(discount.seen(GET_ORDER)).toHaveLength(1);
  });

  it('cancels downstream calls when the caller cancels, and leaves no listener on the incoming call', async () => {
    let incoming: EventEmitter | undefined;
    let listenersBefore = -1;
    let listenersAfter = -1;
    const toLoyalty = downstream(loyalty, 3);
    loyalty.script(
      GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE },
      { kind: 'fail', code: status.UNAVAILABLE },
    );
    checkout.getOrderHandler = (call, callback) => {
      incoming = call;
      listenersBefore = call.listenerCount('cancelled');
      // Three attempts (two retries) through the interceptor, all under this call.
      toLoyalty.getOrder(call.request, call.metadata, callOptionsFrom(call), (error) => {
        listenersAfter = call.listenerCount('cancelled');
        if (error) return callback(error);
        // Then a call that hangs until the caller cancels.
        discount.script(GET_ORDER, { kind: 'hang' });
        downstream(discount).getOrder(call.request, call.metadata, callOptionsFrom(call), (e, v) =>
          callback(e, v),
        );
      });
    };
    const outer = downstream(checkout);
    const pending = getOrder(outer, 'o-1');
    const [hanging] = await discount.waitForCalls(GET_ORDER, 1);
    expect(loyalty.seen(GET_ORDER)).toHaveLength(3);
    expect(listenersAfter).toBe(listenersBefore);
    pending.cancel();
    expect((await pending.outcome).error?.code).toBe(status.CANCELLED);
    await hanging?.cancelled;
    expect(incoming).toBeDefined();
  });

  it("a downstream call cancelled by its caller's cancellation does not count against its breaker", async () => {
    const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
    let attemptEnded: (outcome: string) => void = () => {};
    const outcome = new Promise<string>((resolve) => {
      attemptEnded = resolve;
    });
    const toDiscount = makeClient(
      'generated',
      discount.address,
      clientOptions([
        grpcInterceptor(
          policy({
            circuitBreaker: breaker,
            retry: false,
            onEvent: (event) => {
              if (event.type === 'attempt-end') attemptEnded(event.outcome);
            },
          }),
        ),
      ]),
    );
    clients.push(toDiscount);
    discount.script(GET_ORDER, { kind: 'hang' });
    checkout.getOrderHandler = (call, callback) => {
      toDiscount.getOrder(call.request, call.metadata, callOptionsFrom(call), (e, v) => callback(e, v));
    };
    const pending = getOrder(downstream(checkout), 'o-1');
    const [hanging] = await discount.waitForCalls(GET_ORDER, 1);
    pending.cancel();
    await hanging?.cancelled; // the cancellation reached Discount through Checkout's call
    expect(await outcome).toBe('aborted');
    expect(breaker.state).toBe('closed'); // one failure would have opened it
  });

  it('deadlineFrom gives non-gRPC work the caller’s deadline', async () => {
    let seen: number | undefined;
    checkout.getOrderHandler = (call, callback) => {
      seen = deadlineFrom(call);
      callback(null, { id: call.request.id, item: 'x', quantity: 1 });
    };
    const deadline = Date.now() + 1_500;
    const started = Date.now();
    expect(
      (await getOrder(downstream(checkout), 'o-1', undefined, { deadline }).outcome).error,
    ).toBeUndefined();
    expect(seen).toBeLessThanOrEqual(deadline + (Date.now() - started));
    expect(seen).toBeGreaterThan(deadline - 1_000);
  });
});
