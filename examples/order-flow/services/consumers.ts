/**
 * Email, Shipping and Inventory: each consumes `orders.created` with a durable consumer of
 * its own, on a connection of its own, and handles messages concurrently (as a consume()
 * loop that does not await its handler commonly does), up to the consumer's
 * max_ack_pending. Shipping calls its carrier and records every package it ships.
 *
 * How a message is acknowledged (and whether it is guarded against a second delivery) is
 * the stack's business; what each service does with an order is the same in both runs.
 *
 * @module
 */
import { type ConsumerMessages, type JsMsg, jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Faults } from '../faults.js';
import type { Recorder } from '../metrics.js';
import { bucketName, CONNECTION_OPTIONS, CONSUMERS, type ConsumerName, STREAM } from '../nats/streams.js';
import type { OrderEvent, Stack } from '../stacks/types.js';
import { between, type Timers } from '../timers.js';

interface Running {
  readonly messages: ConsumerMessages;
  readonly loop: Promise<void>;
}

export interface Consumers {
  /** Messages being handled right now, across the three services. */
  readonly busy: number;
  /** Stops consuming, waits for the handlers in flight, closes the connections. */
  close(): Promise<void>;
}

/** The cart an orders.created message is for (0 when unreadable). */
export function cartOf(msg: JsMsg): number {
  try {
    return msg.json<OrderEvent>().cart;
  } catch {
    return 0;
  }
}

export async function startConsumers(
  url: string,
  stack: Stack,
  recorder: Recorder,
  faults: Faults,
  timers: Timers,
): Promise<Consumers> {
  const work: Record<ConsumerName, (msg: JsMsg) => Promise<void>> = {
    email: async (msg) => {
      await timers.sleep(between(1, 3));
      recorder.count('emailed', cartOf(msg));
    },
    inventory: async (msg) => {
      await timers.sleep(between(1, 3));
      recorder.count('reserved', cartOf(msg));
    },
    shipping: async (msg) => {
      const cart = cartOf(msg);
      recorder.count('carrier', cart);
      await faults.carrierAvailable(); // while the carrier is down, the call hangs
      await timers.sleep(between(2, 5));
      recorder.count('shipped', cart);
    },
  };

  let busy = 0;
  const inFlight = new Set<Promise<void>>();
  const running: Running[] = [];
  const connections: NatsConnection[] = [];
  try {
    for (const name of CONSUMERS) {
      const nc = await connect({ ...CONNECTION_OPTIONS, servers: url, name: `order-flow-${name}` });
      connections.push(nc);
      const js = jetstream(nc);
      // Each service opens its bucket on its own connection, as replicas on other machines would.
      const kv = stack.usesKv ? await new Kvm(js).open(bucketName(name)) : undefined;
      const handle = stack.consumer({
        name,
        handler: work[name],
        kv,
        js,
        guarded: (msg) => recorder.count('guarded', cartOf(msg)),
        deadLettered: (msg) => recorder.count('deadLettered', cartOf(msg)),
      });
      const consumer = await js.consumers.get(STREAM, name);
      const messages = await consumer.consume({ max_messages: 256 });
      const loop = (async () => {
        for await (const msg of messages) {
          busy++;
          const handled = handle(msg)
            .catch(() => {})
            .finally(() => {
              busy--;
              inFlight.delete(handled);
            });
          inFlight.add(handled);
        }
      })();
      running.push({ messages, loop });
    }
  } catch (error) {
    for (const r of running) r.messages.stop();
    await Promise.allSettled(connections.map((nc) => nc.close()));
    throw error;
  }

  return {
    get busy() {
      return busy;
    },
    async close() {
      for (const r of running) r.messages.stop();
      await Promise.allSettled(running.map((r) => r.loop));
      await Promise.allSettled([...inFlight]);
      await Promise.allSettled(connections.map((nc) => nc.close()));
    },
  };
}
