/**
 * The unprotected stack: what services commonly do today. Plain clients; the same fixed
 * timeout at every hop, whatever the caller has left of its own; p-retry's retries (three
 * attempts, exponential backoff) at every hop, with no retry budget and no circuit breaker;
 * publishes without a stable Nats-Msg-Id; consumers that ack after the handler and nak on
 * failure, with no idempotency guard.
 *
 * Nothing here is a strawman: each choice is a reasonable local default. The cascade comes
 * from putting them together.
 *
 * @module
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import pRetry, { type Options as RetryOptions } from 'p-retry';
import { Agent, request } from 'undici';
import { SUBJECT } from '../nats/streams.js';
import { orderFlowProto, unary } from '../proto.js';
import type { Stack } from './types.js';

/** Every hop's timeout, in ms. */
export const HOP_TIMEOUT_MS = 1_000;

/** p-retry at every hop: 3 attempts, 100 ms then 200 ms apart. */
const RETRY: RetryOptions = { retries: 2, minTimeout: 100, factor: 2 };

/** Runs `work` with a signal that aborts after `ms`; the timer is cleared either way. */
async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms);
  try {
    return await work(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

export function unprotectedStack(): Stack {
  const proto = orderFlowProto();
  return {
    mode: 'unprotected',
    usesKv: false,

    edge(checkoutUrl) {
      const agent = new Agent();
      return {
        async placeOrder(cart) {
          const place = (): Promise<void> =>
            withTimeout(HOP_TIMEOUT_MS, async (signal) => {
              const { statusCode, body } = await request(checkoutUrl, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(cart),
                dispatcher: agent,
                signal,
              });
              await body.dump();
              if (statusCode !== 200) throw new Error(`checkout answered ${statusCode}`);
            });
          return pRetry(place, RETRY).then(
            () => true,
            () => false,
          );
        },
        close: () => agent.destroy(),
      };
    },

    checkout(addresses) {
      const discount = new proto.Discount(addresses.discount, credentials.createInsecure());
      const orders = new proto.Orders(addresses.orders, credentials.createInsecure());
      return {
        // The caller's deadline and disconnect are ignored: a fixed timeout per attempt.
        discount: (req) =>
          pRetry(
            () =>
              unary(discount, discount.GetDiscount, req, new Metadata(), {
                deadline: Date.now() + HOP_TIMEOUT_MS,
              }),
            RETRY,
          ),
        createOrder: (req) =>
          pRetry(
            () =>
              unary(orders, orders.CreateOrder, req, new Metadata(), {
                deadline: Date.now() + HOP_TIMEOUT_MS,
              }),
            RETRY,
          ),
        close() {
          discount.close();
          orders.close();
        },
      };
    },

    discount(loyaltyAddress) {
      const loyalty = new proto.Loyalty(loyaltyAddress, credentials.createInsecure());
      return {
        // Any failure, after the retries: price without points (by hand, as is common today).
        points: (req) =>
          pRetry(
            () =>
              unary(loyalty, loyalty.GetPoints, req, new Metadata(), {
                deadline: Date.now() + HOP_TIMEOUT_MS,
              }),
            RETRY,
          ).catch(() => undefined),
        close: () => loyalty.close(),
      };
    },

    publisher(js) {
      // No msgID: a retried publish whose ack was lost is stored a second time.
      const publish = async (payload: string): Promise<void> => {
        await pRetry(() => js.publish(SUBJECT, payload, { timeout: HOP_TIMEOUT_MS }), RETRY);
      };
      return {
        inline: (event) => publish(JSON.stringify(event)),
        relay: (event) => publish(JSON.stringify(event)),
      };
    },

    consumer({ handler }) {
      return async (msg) => {
        try {
          await handler(msg);
          msg.ack();
        } catch {
          msg.nak();
        }
      };
    },
  };
}
