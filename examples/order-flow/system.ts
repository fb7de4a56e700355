/**
 * One run's system: every service with its own server on a loopback port (Loyalty,
 * Discount and Orders over gRPC, Checkout over HTTP), Orders and the three consumers on
 * NATS connections of their own, and the shopper's client. All in this process, built
 * from a stack (the clients) and torn down completely at the end.
 *
 * @module
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClientLike } from 'breakwater/nats';
import type { Faults } from './faults.js';
import type { Recorder } from './metrics.js';
import {
  CONNECTION_OPTIONS,
  consumersCaughtUp,
  countStoredCopies,
  prepareStream,
  removeStream,
  type StreamCount,
} from './nats/streams.js';
import { orderFlowProto, startGrpcServer } from './proto.js';
import { startCheckout } from './services/checkout.js';
import { startConsumers } from './services/consumers.js';
import { discountService } from './services/discount.js';
import { loyaltyService } from './services/loyalty.js';
import { OrdersService } from './services/orders.js';
import type { Edge, Stack } from './stacks/types.js';
import { Timers } from './timers.js';

export interface System {
  readonly edge: Edge;
  /** Work in progress anywhere: checkouts, orders publishing or in the outbox, messages in handlers. */
  busy(): number;
  /** Waits until no work is in progress and every consumer caught up; false after `timeoutMs`. */
  drain(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Records how many copies of each order's event the stream holds. */
  countStored(): Promise<StreamCount>;
  /** Stops everything, removes the stream; safe to call twice. */
  close(): Promise<void>;
}

/** A JetStream client that counts every publish attempt and every duplicate the server dropped. */
function counting(js: JetStreamClientLike, recorder: Recorder): JetStreamClientLike {
  const cartOf = (payload: Uint8Array | string | undefined): number => {
    try {
      const text = typeof payload === 'string' ? payload : new TextDecoder().decode(payload);
      return (JSON.parse(text) as { cart: number }).cart;
    } catch {
      return 0;
    }
  };
  return {
    async publish(subject, payload, options) {
      const cart = cartOf(payload);
      recorder.count('publish', cart);
      const ack = await js.publish(subject, payload, options);
      if (ack.duplicate) recorder.count('duplicateRemoved', cart);
      return ack;
    },
    jetstreamManager: (checkAPI) => js.jetstreamManager(checkAPI),
    getOptions: () => js.getOptions(),
  };
}

export async function startSystem(
  stack: Stack,
  recorder: Recorder,
  faults: Faults,
  natsUrl: string,
): Promise<System> {
  const proto = orderFlowProto();
  const timers = new Timers();
  // Closed in reverse order of creation.
  const closers: (() => unknown)[] = [() => timers.clear()];
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      for (const closer of closers.reverse()) {
        try {
          await closer();
        } catch {
          // keep closing the rest
        }
      }
    })();
    return closed;
  };
  const natsConnection = async (name: string): Promise<NatsConnection> => {
    const nc = await connect({ ...CONNECTION_OPTIONS, servers: natsUrl, name: `order-flow-${name}` });
    closers.push(() => nc.close());
    return nc;
  };

  try {
    const admin = await natsConnection('admin');
    const jsm = await jetstreamManager(admin);
    await prepareStream(admin, stack.usesKv);
    closers.push(() => removeStream(jsm));

    const loyalty = await startGrpcServer(proto.Loyalty.service, loyaltyService(recorder, faults, timers));
    closers.push(() => loyalty.close());
    const loyaltyClients = stack.discount(loyalty.address);
    closers.push(() => loyaltyClients.close());
    const discount = await startGrpcServer(proto.Discount.service, discountService(recorder, loyaltyClients));
    closers.push(() => discount.close());

    const ordersNc = await natsConnection('orders');
    const orders = new OrdersService(recorder, stack.publisher(counting(jetstream(ordersNc), recorder)));
    closers.push(() => orders.close());
    const ordersServer = await startGrpcServer(proto.Orders.service, orders.implementation);
    closers.push(() => ordersServer.close());

    const checkoutClients = stack.checkout({ discount: discount.address, orders: ordersServer.address });
    closers.push(() => checkoutClients.close());
    const checkout = await startCheckout(recorder, checkoutClients);
    closers.push(() => checkout.close());

    const consumers = await startConsumers(natsUrl, stack, recorder, faults, timers);
    // Before the consumers stop: end the carrier's outage, so no handler waits on it.
    closers.push(() => consumers.close());
    closers.push(() => faults.clear());

    const edge = stack.edge(checkout.url);
    closers.push(() => edge.close());

    const busy = (): number => checkout.busy + orders.busy + consumers.busy;
    return {
      edge,
      busy,
      async drain(timeoutMs, signal) {
        const end = Date.now() + timeoutMs;
        while (Date.now() < end && !signal?.aborted) {
          if (busy() === 0 && (await consumersCaughtUp(jsm)) && busy() === 0) return true;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return false;
      },
      countStored: () => countStoredCopies(admin, recorder),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
