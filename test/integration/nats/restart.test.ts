/**
 * 1,000 distinct orders published one after another while the real nats-server is
 * restarted once (gracefully), and 1,000 more with 32 in flight while it is killed
 * (SIGKILL) and started again: afterwards the stream holds each order exactly once. Publishes that
 * were in flight during the restart time out and are retried with the same msgID; copies
 * the client had buffered during the outage are flushed on reconnect and de-duplicated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import { backoff, policy } from '../../../src/index.js';
import { jetStreamPublisher } from '../../../src/nats/index.js';
import { type ClientKit, connectKit, VERSIONS } from './clients.js';

const available = natsServerAvailable();
const ORDERS = 1_000;
const RESTART_AFTER = 300;
const IN_FLIGHT = 32;

describe.skipIf(!available)(
  `publishing through a server restart${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
  () => {
    let server: NatsServer;
    beforeAll(async () => {
      server = await NatsServer.start();
    });
    afterAll(async () => {
      await server?.dispose();
    });

    describe.each(VERSIONS)('%s client', (version) => {
      let kit: ClientKit;
      beforeAll(async () => {
        kit = await connectKit(version, server.url);
      });
      afterAll(async () => {
        await kit?.close();
      });

      it(`stores exactly ${ORDERS} of ${ORDERS} orders when the server restarts midway`, async () => {
        const stream = `RESTART_${version}`;
        await kit.addStream({ name: stream, subjects: [`restart.${version}.>`] });
        let retries = 0;
        const orders = policy({
          deadline: 30_000,
          attemptTimeout: 1_000,
          retry: {
            maxAttempts: 50,
            backoff: backoff.exponential({ initialDelay: 50, maxDelay: 500 }),
            budget: false,
          },
          onEvent: (event) => {
            if (event.type === 'retry-scheduled') retries++;
          },
        });
        // The default msgID: a new idempotency key per order, the same on its retries.
        const publisher = jetStreamPublisher(kit.js, orders);

        let restarted: Promise<void> | undefined;
        for (let i = 0; i < ORDERS; i++) {
          if (i === RESTART_AFTER) restarted = server.restart();
          await publisher.publish(`restart.${version}.created`, `order-${i}`);
        }
        await restarted;

        // The restart did get in the way of publishes (else this test would prove nothing).
        expect(retries).toBeGreaterThan(0);
        // Copies buffered by the client during the outage reach the server on reconnect;
        // one more acked publish after them makes sure they have all been handled.
        await kit.js.publish(`restart.${version}.fence`, 'fence', { timeout: 10_000 });
        const stored = await kit.payloads(stream);
        expect(stored.pop()).toBe('fence');
        expect(stored).toHaveLength(ORDERS);
        expect(new Set(stored).size).toBe(ORDERS);
        expect(stored).toEqual(Array.from({ length: ORDERS }, (_, i) => `order-${i}`));
      });

      it(`stores exactly ${ORDERS} orders published ${IN_FLIGHT} at a time when the server is killed and restarted`, async () => {
        const stream = `RESTART_C_${version}`;
        await kit.addStream({ name: stream, subjects: [`restartc.${version}.>`] });
        let retries = 0;
        const orders = policy({
          deadline: 30_000,
          attemptTimeout: 1_000,
          retry: {
            maxAttempts: 50,
            backoff: backoff.exponential({ initialDelay: 50, maxDelay: 500 }),
            budget: false,
          },
          onEvent: (event) => {
            if (event.type === 'retry-scheduled') retries++;
          },
        });
        const publisher = jetStreamPublisher(kit.js, orders);
        let next = 0;
        let restarted: Promise<void> | undefined;
        const worker = async (): Promise<void> => {
          while (next < ORDERS) {
            const i = next++;
            if (i === RESTART_AFTER) restarted = server.restart({ signal: 'SIGKILL' }); // a crash
            await publisher.publish(`restartc.${version}.created`, `order-${i}`, {
              msgID: `order-${version}-${i}`,
            });
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        await restarted;

        expect(retries).toBeGreaterThan(0);
        await kit.js.publish(`restartc.${version}.fence`, 'fence', { timeout: 10_000 });
        const stored = await kit.payloads(stream);
        expect(stored.pop()).toBe('fence');
        expect(stored).toHaveLength(ORDERS);
        expect(new Set(stored).size).toBe(ORDERS);
      });
    });
  },
);
