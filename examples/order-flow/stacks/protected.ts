/**
 * The protected stack: the same services, with breakwater's clients.
 *
 * - The shopper's client has one deadline for the whole checkout, retries at most once
 *   under a retry budget, sends an Idempotency-Key (the order id) and tells Checkout how
 *   long it has left (`x-request-timeout-ms`).
 * - Checkout hands Discount and Orders what is left of that deadline, and cancels them when
 *   the shopper goes away.
 * - Discount calls Loyalty with what is left of Checkout's deadline (`callOptionsFrom`),
 *   a short attempt timeout, a retry budget, a circuit breaker and an adaptive concurrency
 *   limit: while Loyalty is cold, the breaker opens and Discount answers at once without
 *   loyalty points (a policy's `fallback` around the call), and the limit falls with every
 *   window of timeouts.
 * - Orders publishes with the order id as Nats-Msg-Id, inside what is left of the
 *   checkout's deadline, behind a breaker on the stream; a publish that does not make it
 *   goes to the outbox, whose retries carry the same msgID (so the server drops a copy
 *   whose first ack was lost).
 * - Consumers run their handler through `idempotentHandler` on a KV bucket: once per order,
 *   whatever the redeliveries. Shipping wraps it in `resilientHandler`: naks with a growing
 *   delay, a dead-letter stream for what it can never handle, `working()` while the carrier
 *   hangs.
 *
 * Every retrying client has a budget of its own: retries are at most `RETRY_RATIO` of its
 * requests plus `RETRY_MIN_PER_SECOND` a second.
 *
 * @module
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import type { JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import {
  adaptiveLimit,
  type BreakwaterEvent,
  backoff,
  circuitBreaker,
  keyedCircuitBreaker,
  type Policy,
  type PolicyOptions,
  policy,
  retryBudget,
} from 'breakwater';
// In your code: 'breakwater', 'breakwater/grpc', 'breakwater/http', 'breakwater/nats' (see README).
import { callOptionsFrom, deadlineFrom, grpcInterceptor, isGrpcFailure } from 'breakwater/grpc';
import { httpInterceptor } from 'breakwater/http';
import {
  idempotentHandler,
  isJetStreamFailure,
  jetStreamPublisher,
  kvStore,
  resilientHandler,
} from 'breakwater/nats';
import { Agent, request } from 'undici';
import type { Recorder } from '../metrics.js';
import { SUBJECT } from '../nats/streams.js';
import { CREATE_ORDER, orderFlowProto, type PointsReply, unary } from '../proto.js';
import { CHECKOUT_DEADLINE_MS } from '../scenario.js';
import type { OrderFlowTracing } from '../tracing.js';
import { DEADLINE_HEADER, type Stack } from './types.js';

export const RETRY_RATIO = 0.1;
export const RETRY_MIN_PER_SECOND = 2;
/** Clients that retry on the way to Loyalty: the shopper's, Checkout's, Discount's. */
export const RETRYING_HOPS = 3;
/** Time Checkout keeps for CreateOrder after asking Discount, in ms. */
const ORDERS_SHARE_MS = 450;
/** Time each service keeps to answer its caller after its own downstream call gives up, in ms. */
const RESERVE_MS = 40;

const budget = () => retryBudget({ ratio: RETRY_RATIO, minPerSecond: RETRY_MIN_PER_SECOND, windowMs: 2_000 });
const quickBackoff = backoff.exponential({ initialDelay: 25, maxDelay: 100 });

/**
 * The most attempts per request that can reach Loyalty at `rate` requests a second: each
 * retrying hop multiplies by at most 1 + ratio + minPerSecond / rate (its budget).
 */
export function retryBudgetBound(rate: number): number {
  return (1 + RETRY_RATIO + RETRY_MIN_PER_SECOND / rate) ** RETRYING_HOPS;
}

export function protectedStack(recorder: Recorder, tracing: OrderFlowTracing): Stack {
  const proto = orderFlowProto();
  // Every client's calls are traced; tracing.undici and tracing.grpc carry the trace on (../tracing.ts).
  const telemetry = tracing.telemetry;
  /** A policy whose breaker transitions the recorder counts, under `breaker`'s name. */
  const watched = (breaker: string, options: PolicyOptions): Policy =>
    policy({
      ...options,
      telemetry,
      onEvent: (event: BreakwaterEvent) => {
        if (event.type === 'circuit-state-change') recorder.transition(breaker, event.from, event.to);
      },
    });

  // One breaker for the ORDERS stream, shared by the inline publisher and the outbox relay.
  const streamBreaker = keyedCircuitBreaker({
    window: { type: 'time', durationMs: 1_000, buckets: 4 },
    minimumCalls: 5,
    failureRateThreshold: 0.5,
    openDuration: 300,
    isFailure: isJetStreamFailure,
  });

  return {
    mode: 'protected',
    usesKv: true,

    edge(checkoutUrl) {
      const checkout = policy({
        name: 'checkout',
        telemetry,
        deadline: CHECKOUT_DEADLINE_MS,
        retry: { maxAttempts: 2, backoff: quickBackoff, budget: budget() },
      });
      const agent = new Agent().compose(
        tracing.undici,
        httpInterceptor(checkout, { deadlineHeader: DEADLINE_HEADER }),
      );
      return {
        async placeOrder(cart) {
          try {
            const { statusCode, body } = await request(checkoutUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(cart),
              dispatcher: agent,
              // The order id: identical on a retry, so Checkout and Orders see one order.
              breakwater: { idempotencyKey: `order-${cart.seq}` },
            });
            await body.dump();
            return statusCode === 200;
          } catch {
            return false;
          }
        },
        close: () => agent.destroy(),
      };
    },

    checkout(addresses) {
      const discountPolicy = policy({
        name: 'discount',
        telemetry,
        deadline: CHECKOUT_DEADLINE_MS,
        retry: { maxAttempts: 2, backoff: quickBackoff, budget: budget() },
      });
      const ordersPolicy = policy({
        name: 'orders',
        telemetry,
        deadline: CHECKOUT_DEADLINE_MS,
        retry: { maxAttempts: 2, backoff: quickBackoff, budget: budget() },
      });
      const discount = new proto.Discount(addresses.discount, credentials.createInsecure(), {
        'grpc.enable_retries': 0,
        interceptors: [grpcInterceptor(discountPolicy), tracing.grpc],
      });
      const orders = new proto.Orders(addresses.orders, credentials.createInsecure(), {
        'grpc.enable_retries': 0,
        // CreateOrder is retried only because it carries an idempotency key (the order id).
        interceptors: [
          grpcInterceptor(ordersPolicy, { methods: { [CREATE_ORDER]: { idempotent: false } } }),
          tracing.grpc,
        ],
      });
      const until = (deadline: number | undefined, keep: number) =>
        deadline === undefined ? {} : { deadline: deadline - keep };
      return {
        discount: (req, incoming) =>
          unary(
            discount,
            discount.GetDiscount,
            req,
            new Metadata(),
            until(incoming.deadline, ORDERS_SHARE_MS),
            incoming.signal,
          ),
        createOrder(req, incoming) {
          const metadata = new Metadata();
          metadata.set('idempotency-key', req.orderId);
          return unary(
            orders,
            orders.CreateOrder,
            req,
            metadata,
            until(incoming.deadline, RESERVE_MS),
            incoming.signal,
          );
        },
        close() {
          discount.close();
          orders.close();
        },
      };
    },

    discount(loyaltyAddress) {
      const loyaltyPolicy = watched('Loyalty', {
        name: 'loyalty',
        attemptTimeout: 150,
        // No hand-set pool size: the limit is learned. Warm, Loyalty answers in a few ms (too
        // fast for latency to say much on a ms clock); cold, its attempts time out, and each
        // window with a timeout cuts the limit by 10% ('aimd'), so fewer calls wait on it.
        bulkhead: adaptiveLimit({ algorithm: 'aimd' }),
        retry: { maxAttempts: 2, backoff: quickBackoff, budget: budget() },
        circuitBreaker: circuitBreaker({
          window: { type: 'time', durationMs: 2_000, buckets: 4 },
          minimumCalls: 10,
          failureRateThreshold: 0.5,
          openDuration: backoff.exponential({ initialDelay: 500, maxDelay: 1_000, jitter: 'none' }),
          halfOpen: { maxProbes: 2, successThreshold: 2 },
          isFailure: isGrpcFailure,
        }),
      });
      const loyalty = new proto.Loyalty(loyaltyAddress, credentials.createInsecure(), {
        'grpc.enable_retries': 0,
        interceptors: [grpcInterceptor(loyaltyPolicy), tracing.grpc],
      });
      // When Loyalty cannot answer in time (its deadline, an open breaker, retries spent),
      // Discount prices without points: the fallback answers for every failure but the
      // caller's own abort. (The interceptor delivers gRPC statuses, not values, so the
      // fallback lives on a policy around the call.)
      const withoutPoints = policy({
        name: 'loyalty-points',
        retry: false,
        fallback: () => undefined,
      });
      return {
        // What is left of Checkout's deadline, minus what Discount keeps to answer without points.
        points: (req, call) =>
          withoutPoints.execute<PointsReply | undefined>(() =>
            unary(
              loyalty,
              loyalty.GetPoints,
              req,
              new Metadata(),
              callOptionsFrom(call, { reserve: RESERVE_MS }),
            ),
          ),
        close: () => loyalty.close(),
      };
    },

    publisher(js) {
      const inline = jetStreamPublisher(
        js,
        watched('JetStream', {
          name: 'publish',
          // One bounded try inside the checkout; the outbox does the retrying, same msgID.
          attemptTimeout: 250,
          retry: false,
          circuitBreaker: streamBreaker,
        }),
        { stream: 'ORDERS' },
      );
      const relay = jetStreamPublisher(
        js,
        watched('JetStream', {
          name: 'outbox',
          deadline: 2_000,
          attemptTimeout: 500,
          retry: { maxAttempts: 3, backoff: quickBackoff, budget: budget() },
          circuitBreaker: streamBreaker,
        }),
        { stream: 'ORDERS' },
      );
      return {
        async inline(event, call) {
          const deadline = deadlineFrom(call);
          await inline.publish(SUBJECT, JSON.stringify(event), {
            msgID: event.orderId,
            deadline: deadline === undefined ? undefined : deadline - RESERVE_MS,
          });
        },
        async relay(event) {
          await relay.publish(SUBJECT, JSON.stringify(event), { msgID: event.orderId });
        },
      };
    },

    consumer({ name, handler, kv, js, guarded, deadLettered }) {
      if (kv === undefined) throw new Error('the protected consumers need their KV bucket');
      const once = idempotentHandler((msg: JsMsg) => handler(msg), {
        store: kvStore(kv),
        claimTtl: 5_000,
        busyDelay: 500,
        nakDelay: (deliveries) => Math.min(1_000, 100 * 2 ** (deliveries - 1)),
      });
      if (name !== 'shipping') {
        return async (msg) => {
          const outcome = await once(msg);
          if (outcome.status === 'duplicate' || outcome.status === 'busy') guarded(msg);
        };
      }
      // Shipping: the whole consumer recipe. Failures are nak'ed with a growing delay, a
      // message that still fails on its 5th delivery (or can never be read) is copied to
      // dlq.ORDERS.shipping before it is terminated, and while the carrier hangs, working()
      // keeps the message in hand (every half of the consumer's ack_wait) instead of letting
      // the server deliver it again.
      const handle = resilientHandler(once, {
        publisher: jetStreamPublisher(
          js,
          policy({
            name: 'dead-letters',
            deadline: 2_000,
            attemptTimeout: 500,
            retry: { maxAttempts: 3, backoff: quickBackoff, budget: budget() },
          }),
        ),
        headers,
        maxDeliveries: 5,
        backoff: backoff.exponential({ initialDelay: 100, maxDelay: 1_000 }),
      });
      return async (msg) => {
        const outcome = await handle(msg);
        if (outcome.status === 'duplicate' || (outcome.status === 'retry' && outcome.reason === 'busy')) {
          guarded(msg);
        } else if (outcome.status === 'dead-lettered') {
          deadLettered(msg);
        }
      };
    },
  };
}
