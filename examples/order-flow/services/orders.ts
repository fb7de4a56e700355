/**
 * Orders: stores an order (once per order id) and publishes `orders.created`. The publish
 * is tried inline; when it fails, the event goes to an outbox that a relay keeps
 * publishing until it is acked, so no stored order goes without its event. The same logic
 * in both runs; the stack decides how a publish is made (timeouts, retries, Nats-Msg-Id).
 *
 * Orders stores its orders in memory: the example counts them, nothing more.
 *
 * @module
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Recorder } from '../metrics.js';
import type { CreateOrderReply, CreateOrderRequest } from '../proto.js';
import type { EventPublisher, OrderEvent } from '../stacks/types.js';

/** How often the relay looks at the outbox, and how many events it publishes at once. */
const RELAY_EVERY_MS = 100;
const RELAY_CONCURRENCY = 32;

export class OrdersService {
  readonly #recorder: Recorder;
  readonly #publisher: EventPublisher;
  readonly #orders = new Set<string>();
  readonly #outbox = new Map<string, OrderEvent>();
  readonly #relaying = new Set<Promise<void>>();
  readonly #inRelay = new Set<string>();
  #handling = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(recorder: Recorder, publisher: EventPublisher) {
    this.#recorder = recorder;
    this.#publisher = publisher;
    this.#schedule();
  }

  /** The gRPC implementation. */
  readonly implementation = {
    CreateOrder: (
      call: ServerUnaryCall<CreateOrderRequest, CreateOrderReply>,
      callback: sendUnaryData<CreateOrderReply>,
    ): void => {
      void this.#create(call, callback);
    },
  };

  /** Calls being handled plus events not yet acked (for the end-of-run drain). */
  get busy(): number {
    return this.#handling + this.#outbox.size + this.#relaying.size;
  }

  async #create(
    call: ServerUnaryCall<CreateOrderRequest, CreateOrderReply>,
    callback: sendUnaryData<CreateOrderReply>,
  ): Promise<void> {
    const { orderId, cart, customer, totalCents } = call.request;
    this.#recorder.count('orders', cart);
    if (this.#orders.has(orderId)) {
      callback(null, { orderId, created: false }); // a retry: the order exists
      return;
    }
    this.#orders.add(orderId);
    this.#recorder.count('created', cart);
    this.#handling++;
    const event: OrderEvent = { orderId, cart, customer, totalCents };
    try {
      await this.#publisher.inline(event, call);
    } catch {
      this.#outbox.set(orderId, event); // the relay takes it from here
    } finally {
      this.#handling--;
    }
    callback(null, { orderId, created: true });
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#relay();
      this.#schedule();
    }, RELAY_EVERY_MS);
  }

  #relay(): void {
    for (const [orderId, event] of this.#outbox) {
      if (this.#relaying.size >= RELAY_CONCURRENCY) return;
      if (this.#inRelay.has(orderId)) continue;
      this.#inRelay.add(orderId);
      const attempt = this.#publisher.relay(event).then(
        () => {
          this.#outbox.delete(orderId);
        },
        () => {}, // stays in the outbox for the next round
      );
      const tracked = attempt.finally(() => {
        this.#inRelay.delete(orderId);
        this.#relaying.delete(tracked);
      });
      this.#relaying.add(tracked);
    }
  }

  /** Stops the relay and waits for the publishes in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#relaying]);
  }
}
