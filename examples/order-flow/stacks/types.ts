/**
 * A "stack" is everything that differs between the two runs: the clients each service uses
 * to call the next one, how Orders publishes, and how consumers acknowledge. The services'
 * own logic (what Checkout, Discount, Orders, Shipping... do with an answer or a failure) is
 * the same in both runs, so the difference in the numbers is the clients' doing.
 *
 * @module
 */

import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { JetStreamClientLike } from 'breakwater/nats';
import type {
  CreateOrderReply,
  CreateOrderRequest,
  DiscountReply,
  DiscountRequest,
  PointsReply,
  PointsRequest,
} from '../proto.js';

export type Mode = 'unprotected' | 'protected';

/** The header in which a caller may tell Checkout how many ms it has left. */
export const DEADLINE_HEADER = 'x-request-timeout-ms';

/** One order the load generator places. */
export interface Cart {
  readonly seq: number;
  readonly customer: string;
  readonly amountCents: number;
}

/** The shopper's HTTP client. */
export interface Edge {
  /** Places the order for `cart`: true when Checkout answered 200 (after any retries). */
  placeOrder(cart: Cart): Promise<boolean>;
  close(): Promise<void>;
}

/** An HTTP request as Checkout sees it. */
export interface Incoming {
  /** The caller's deadline (ms since the epoch), when it sent one. */
  readonly deadline: number | undefined;
  /** Aborted when the caller went away (gave up, or its deadline passed). */
  readonly signal: AbortSignal;
  /** The caller's idempotency key, when it sent one. */
  readonly idempotencyKey: string | undefined;
}

export interface CheckoutClients {
  discount(request: DiscountRequest, incoming: Incoming): Promise<DiscountReply>;
  createOrder(request: CreateOrderRequest, incoming: Incoming): Promise<CreateOrderReply>;
  close(): void;
}

export interface LoyaltyClients {
  /**
   * Called by Discount while it handles `call`. Resolves with undefined when Loyalty cannot
   * answer (in time): Discount then prices without points.
   */
  points(
    request: PointsRequest,
    call: ServerUnaryCall<DiscountRequest, DiscountReply>,
  ): Promise<PointsReply | undefined>;
  close(): void;
}

/** The orders.created event. */
export interface OrderEvent {
  readonly orderId: string;
  readonly cart: number;
  readonly customer: string;
  readonly totalCents: number;
}

export interface EventPublisher {
  /** Publishes inside CreateOrder; `call` is the incoming CreateOrder call. */
  inline(event: OrderEvent, call: ServerUnaryCall<CreateOrderRequest, CreateOrderReply>): Promise<void>;
  /** Publishes from the outbox, for an event whose inline publish failed. */
  relay(event: OrderEvent): Promise<void>;
}

/** What a consumer does with one message, given the business handler. */
export type MessageHandler = (msg: JsMsg) => Promise<void>;

/** One consuming service, as its stack's consumer wrapper sees it. */
export interface ConsumerService {
  /** The service: `email`, `shipping` or `inventory`. */
  readonly name: string;
  /** Its business handler. */
  readonly handler: (msg: JsMsg) => Promise<void>;
  /** Its idempotency bucket (protected). */
  readonly kv: KV | undefined;
  /** Its JetStream client (on its own connection), for dead-letter copies. */
  readonly js: JetStreamClient;
  /** Told about a delivery that was acked or nak'ed without running the handler (the guard's doing). */
  guarded(msg: JsMsg): void;
  /** Told about a message copied to the dead-letter stream and terminated. */
  deadLettered(msg: JsMsg): void;
}

export interface Stack {
  readonly mode: Mode;
  /** Whether consumers keep their idempotency records in a KV bucket (one per service). */
  readonly usesKv: boolean;
  edge(checkoutUrl: string): Edge;
  checkout(addresses: { discount: string; orders: string }): CheckoutClients;
  discount(loyaltyAddress: string): LoyaltyClients;
  publisher(js: JetStreamClientLike): EventPublisher;
  /**
   * Wraps a consumer's business handler: acks on success, naks on failure, and (protected)
   * runs it once per order whatever the deliveries, and (protected Shipping) retries with
   * backoff and dead-letters what it can never handle.
   */
  consumer(service: ConsumerService): MessageHandler;
}
