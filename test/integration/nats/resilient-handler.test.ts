/**
 * resilientHandler on real JetStream consumers (nats-server 2.9), with the v2 and v3
 * clients, pulling with consume() and with fetch(): the redeliveries, their delays, the
 * terminations and the dead-letter copies are the server's own; the dead-letter stream is
 * missing until the test creates it. Lost acks, the breaker and the heartbeat are in
 * resilient-faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import { backoff, policy } from '../../../src/index.js';
import {
  DeadLetterHeaders,
  jetStreamPublisher,
  type MessageEvent,
  resilientHandler,
} from '../../../src/nats/index.js';
import {
  type ClientKit,
  type ClientVersion,
  connectKit,
  type KitMsg,
  PULL_MODES,
  type PullMode,
  until,
  VERSIONS,
} from './clients.js';
import { dlqPublisher, drained, runConsumer as run, sleep } from './consumer-harness.js';

const available = natsServerAvailable();

/** Every (client, pull mode) pair. */
const COMBOS: readonly (readonly [ClientVersion, PullMode])[] = VERSIONS.flatMap((v) =>
  PULL_MODES.map((m) => [v, m] as const),
);

describe.skipIf(!available)(
  `resilientHandler on nats-server${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
  () => {
    let server: NatsServer;
    const kits = new Map<ClientVersion, ClientKit>();
    beforeAll(async () => {
      server = await NatsServer.start();
      for (const version of VERSIONS) kits.set(version, await connectKit(version, server.url));
    });
    afterAll(async () => {
      if (server?.running) server.resume(); // never leave a paused server behind a failed test
      for (const kit of kits.values()) await kit.close();
      await server?.dispose();
    });
    const kitFor = (version: ClientVersion): ClientKit => kits.get(version) as ClientKit;

    describe.each(COMBOS)('%s client, %s()', (version, mode) => {
      it('a handler failing 3 times then succeeding: 4 deliveries, growing delays between them, one success', async () => {
        const kit = kitFor(version);
        const stream = `RETRY_${version}_${mode}`;
        await kit.addStream({ name: stream, subjects: [`retry.${version}.${mode}`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 5_000 });
        await kit.js.publish(`retry.${version}.${mode}`, '{"order":"o-1"}');
        let calls = 0;
        const handle = resilientHandler(
          () => {
            calls++;
            if (calls <= 3) throw new Error(`carrier unavailable (${calls})`);
          },
          {
            publisher: dlqPublisher(kit),
            headers: kit.headers,
            backoff: backoff.exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'none' }),
          },
        );
        const deliveries = await run(
          kit,
          stream,
          mode,
          handle,
          (d) => d.some((x) => x.outcome?.status === 'handled'),
          'the success',
        );

        expect(deliveries.map((d) => d.count)).toEqual([1, 2, 3, 4]);
        expect(deliveries.map((d) => d.outcome?.status)).toEqual(['retry', 'retry', 'retry', 'handled']);
        const delays = deliveries
          .slice(0, 3)
          .map((d) => (d.outcome?.status === 'retry' ? d.outcome.delayMs : 0));
        expect(delays).toEqual([100, 200, 400]);
        // The server held each redelivery back for the nak's delay (a bare nak redelivers at
        // once). Its timer and ours are not the same clock: allow 5 ms of skew (seen: 1.5 ms).
        for (let i = 0; i < 3; i++) {
          const gap = (deliveries[i + 1]?.at ?? 0) - (deliveries[i]?.settledAt ?? 0);
          expect(gap).toBeGreaterThanOrEqual((delays[i] ?? 0) - 5);
        }
        expect(calls).toBe(4);
        await until(async () => (await kit.consumerState(stream, 'worker')).ackPending === 0, {
          what: 'the ack',
        });
      });
    });

    describe.each(VERSIONS)('%s client', (version) => {
      it('a poison message is dead-lettered on its first delivery: one copy with the headers, the original terminated', async () => {
        const kit = kitFor(version);
        const stream = `POISON_${version}`;
        const dlq = `DLQ_POISON_${version}`;
        await kit.addStream({ name: stream, subjects: [`poison.${version}.>`] });
        await kit.addStream({ name: dlq, subjects: [`dlq.${stream}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 300 });
        const msgId = `order-${version}-7`;
        await kit.js.publish(`poison.${version}.created`, '{"order": o-7', { msgID: msgId });
        const events: MessageEvent[] = [];
        const handle = resilientHandler((msg: KitMsg) => JSON.parse(msg.string()), {
          publisher: dlqPublisher(kit),
          headers: kit.headers,
          onEvent: (event) => events.push(event),
        });
        const deliveries = await run(
          kit,
          stream,
          'consume',
          handle,
          (d) => d.length > 0 && d[0]?.outcome !== undefined,
          'the first delivery',
        );
        // Two ack waits more: a terminated message is not delivered again.
        await sleep(700);

        expect(deliveries).toHaveLength(1);
        expect(deliveries[0]?.outcome).toMatchObject({
          status: 'dead-lettered',
          reason: 'poison',
          deliveryCount: 1,
          subject: `dlq.${stream}.worker`,
          ack: { stream: dlq, seq: 1, duplicate: false },
        });
        const copies = await kit.messages(dlq);
        expect(copies).toHaveLength(1);
        const copy = copies[0];
        expect(copy?.subject).toBe(`dlq.${stream}.worker`);
        expect(copy?.data).toBe('{"order": o-7');
        expect(copy?.headers).toMatchObject({
          [DeadLetterHeaders.subject]: `poison.${version}.created`,
          [DeadLetterHeaders.stream]: stream,
          [DeadLetterHeaders.sequence]: '1',
          [DeadLetterHeaders.consumer]: 'worker',
          [DeadLetterHeaders.msgId]: msgId,
          [DeadLetterHeaders.deliveryCount]: '1',
          [DeadLetterHeaders.reason]: 'poison',
          [DeadLetterHeaders.errorType]: 'SyntaxError',
          'Nats-Msg-Id': `dlq:${stream}:worker:1`,
        });
        expect(copy?.headers[DeadLetterHeaders.errorMessage]).toMatch(/JSON/);
        const state = await drained(kit, stream);
        expect(state).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
        expect(events.map((e) => e.type)).toEqual(['message-dead-lettered']);
      });

      it('no dead-letter stream: nothing is terminated, the message comes back until the stream exists, then the copy lands', async () => {
        const kit = kitFor(version);
        const stream = `NODLQ_${version}`;
        const dlq = `DLQ_NODLQ_${version}`;
        await kit.addStream({ name: stream, subjects: [`nodlq.${version}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 5_000 });
        await kit.js.publish(`nodlq.${version}.created`, 'not json');
        const publisher = jetStreamPublisher(
          kit.js,
          policy({
            deadline: 1_000,
            retry: { maxAttempts: 2, backoff: backoff.constant(10), budget: false },
          }),
        );
        let created = false;
        const handle = resilientHandler((msg: KitMsg) => JSON.parse(msg.string()), {
          publisher,
          headers: kit.headers,
          backoff: backoff.constant(50),
        });
        const deliveries = await run(
          kit,
          stream,
          'fetch',
          async (msg) => {
            const outcome = await handle(msg);
            // After three failed copies, an operator creates the dead-letter stream.
            if (!created && msg.info.deliveryCount === 3) {
              created = true;
              await kit.addStream({ name: dlq, subjects: [`dlq.${stream}.>`] });
            }
            return outcome;
          },
          (d) => d.some((x) => x.outcome?.status === 'dead-lettered'),
          'the copy to land',
        );

        const statuses = deliveries.map((d) =>
          d.outcome?.status === 'retry' ? d.outcome.reason : d.outcome?.status,
        );
        expect(statuses).toEqual([
          'dead-letter-failed',
          'dead-letter-failed',
          'dead-letter-failed',
          'dead-lettered',
        ]);
        expect(deliveries.map((d) => d.count)).toEqual([1, 2, 3, 4]);
        const failed = deliveries[0]?.outcome;
        expect(failed?.status === 'retry' && failed.deadLetterError).toBeTruthy();
        expect(await kit.count(dlq)).toBe(1);
        await drained(kit, stream);
      });
    });
  },
);
