/**
 * resilientHandler on a real nats-server under faults, with the v2 and v3 clients: the
 * dead-letter copy's ack is lost for real (the server is paused with SIGSTOP while the copy
 * waits for it), once inside the publisher's retries and once across a redelivery; a circuit
 * breaker holds messages back; a handler outlasts the consumer's ack_wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import { type BreakwaterEvent, backoff, circuitBreaker, policy } from '../../../src/index.js';
import { DeadLetterHeaders, jetStreamPublisher, resilientHandler } from '../../../src/nats/index.js';
import { type ClientKit, type ClientVersion, connectKit, VERSIONS } from './clients.js';
import { dlqPublisher, drained, runConsumer as run, sleep } from './consumer-harness.js';

const available = natsServerAvailable();

describe.skipIf(!available)(
  `resilientHandler under faults on nats-server${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
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

    describe.each(VERSIONS)('%s client', (version) => {
      it("maxDeliveries 5, always failing: 5 deliveries, then exactly one copy, though the copy's first ack is lost (server paused) and the publisher retries it", async () => {
        const kit = kitFor(version);
        const stream = `EXHAUST_${version}`;
        const dlq = `DLQ_EXHAUST_${version}`;
        await kit.addStream({ name: stream, subjects: [`exhaust.${version}.>`] });
        await kit.addStream({ name: dlq, subjects: [`dlq.${stream}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 5_000 });
        const publisherEvents: BreakwaterEvent[] = [];
        let resumed = false;
        const publisher = dlqPublisher(kit, (event) => {
          publisherEvents.push(event);
          // The copy's first attempt timed out with the server frozen: let it run again. It
          // stores that first copy and acks into an inbox nobody listens to any more.
          if (event.type === 'retry-scheduled' && !resumed) {
            resumed = true;
            server.resume();
          }
        });
        // The publisher learns the dead-letter stream first, so the frozen request is the copy itself.
        await publisher.publish(`dlq.${stream}.warmup`, 'warm-up');
        await kit.js.publish(`exhaust.${version}.created`, '{"order":"o-5"}');
        let calls = 0;
        const handle = resilientHandler(
          async () => {
            calls++;
            if (calls === 5) await server.pause(); // the last delivery: its copy's ack will be lost
            throw new Error('carrier unavailable');
          },
          { publisher, headers: kit.headers, maxDeliveries: 5, backoff: backoff.constant(30) },
        );
        const deliveries = await run(
          kit,
          stream,
          'consume',
          handle,
          (d) => d.some((x) => x.outcome?.status === 'dead-lettered'),
          'the dead-letter copy',
        );
        await sleep(300); // a sixth delivery would come 30 ms after a nak

        expect(resumed).toBe(true);
        expect(deliveries.map((d) => d.count)).toEqual([1, 2, 3, 4, 5]);
        expect(deliveries.map((d) => d.outcome?.status)).toEqual([
          'retry',
          'retry',
          'retry',
          'retry',
          'dead-lettered',
        ]);
        // The copy was stored by the attempt whose ack was lost; the retry was answered "duplicate".
        expect(deliveries[4]?.outcome).toMatchObject({ reason: 'max-deliveries', ack: { duplicate: true } });
        expect(publisherEvents.filter((e) => e.type === 'retry-scheduled').length).toBeGreaterThanOrEqual(1);
        const copies = (await kit.messages(dlq)).filter(
          (m) => m.headers[DeadLetterHeaders.stream] === stream,
        );
        expect(copies).toHaveLength(1);
        expect(copies[0]?.headers[DeadLetterHeaders.deliveryCount]).toBe('5');
        expect(calls).toBe(5);
        await drained(kit, stream);
      });

      it('a copy whose ack is lost and whose publisher gives up: the message comes back, the second copy is dropped as a duplicate', async () => {
        const kit = kitFor(version);
        const stream = `GIVEUP_${version}`;
        const dlq = `DLQ_GIVEUP_${version}`;
        await kit.addStream({ name: stream, subjects: [`giveup.${version}.>`] });
        await kit.addStream({ name: dlq, subjects: [`dlq.${stream}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 5_000 });
        // One attempt per copy: a lost ack fails the dead-letter step, and only the
        // redelivery tries again, with the msgID made from stream, consumer and sequence.
        const publisher = jetStreamPublisher(kit.js, policy({ attemptTimeout: 300, retry: false }));
        await publisher.publish(`dlq.${stream}.warmup`, 'warm-up');
        await kit.js.publish(`giveup.${version}.created`, '{"order":"o-6"}');
        let calls = 0;
        const handle = resilientHandler(
          async () => {
            calls++;
            if (calls === 5) await server.pause();
            throw new Error('carrier unavailable');
          },
          { publisher, headers: kit.headers, maxDeliveries: 5, backoff: backoff.constant(30) },
        );
        const deliveries = await run(
          kit,
          stream,
          'consume',
          async (msg) => {
            const outcome = await handle(msg);
            if (outcome.status === 'retry' && outcome.reason === 'dead-letter-failed') server.resume();
            return outcome;
          },
          (d) => d.some((x) => x.outcome?.status === 'dead-lettered'),
          'the dead-letter copy',
        );
        await sleep(300);

        const statuses = deliveries.map((d) =>
          d.outcome?.status === 'retry' ? d.outcome.reason : d.outcome?.status,
        );
        expect(statuses).toEqual([
          'handler-failed',
          'handler-failed',
          'handler-failed',
          'handler-failed',
          'dead-letter-failed',
          'dead-lettered',
        ]);
        expect(deliveries[5]?.outcome).toMatchObject({ deliveryCount: 6, ack: { duplicate: true } });
        const copies = (await kit.messages(dlq)).filter(
          (m) => m.headers[DeadLetterHeaders.stream] === stream,
        );
        expect(copies).toHaveLength(1);
        expect(copies[0]?.headers[DeadLetterHeaders.deliveryCount]).toBe('5');
        await drained(kit, stream);
      });

      it('an open breaker: no handler call while it is open, one delivery per message per open period, none dead-lettered', async () => {
        const kit = kitFor(version);
        const stream = `OPEN_${version}`;
        await kit.addStream({ name: stream, subjects: [`open.${version}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 5_000 });
        const MESSAGES = 10;
        for (let i = 0; i < MESSAGES; i++) await kit.js.publish(`open.${version}.${i}`, `{"order":${i}}`);
        // The carrier fails once: the breaker opens for 1 s, and the rest wait it out.
        const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 1_000 });
        let failedAt: number | undefined;
        const succeededAt: number[] = [];
        const handle = resilientHandler(
          () => {
            if (failedAt === undefined) {
              failedAt = Date.now();
              throw new Error('carrier down');
            }
            succeededAt.push(Date.now());
          },
          {
            publisher: dlqPublisher(kit),
            headers: kit.headers,
            policy: policy({ circuitBreaker: breaker }),
            backoff: backoff.constant(50),
            maxDeliveries: 2, // held-back deliveries must not count as failed ones
          },
        );
        const bySeq = new Map<number, string[]>();
        const deliveries = await run(
          kit,
          stream,
          'consume',
          async (msg) => {
            const outcome = await handle(msg);
            const seen = bySeq.get(msg.seq) ?? [];
            seen.push(outcome.status === 'retry' ? outcome.reason : outcome.status);
            bySeq.set(msg.seq, seen);
            return outcome;
          },
          (d) => d.filter((x) => x.outcome?.status === 'handled').length === MESSAGES,
          'every message handled',
        );

        // No handler call while the breaker was open (it opened after the failure, for 1 s).
        expect(succeededAt).toHaveLength(MESSAGES);
        expect(Math.min(...succeededAt)).toBeGreaterThanOrEqual((failedAt ?? Number.NaN) + 1_000);
        // One delivery per message in the open period; the failed one had its nak'ed redelivery too.
        const histories = [...bySeq.values()];
        expect(histories.filter((h) => h.join() === 'circuit-open,handled')).toHaveLength(MESSAGES - 1);
        expect(histories.filter((h) => h.join() === 'handler-failed,circuit-open,handled')).toHaveLength(1);
        expect(deliveries).toHaveLength(2 * MESSAGES + 1);
        expect(breaker.state).toBe('closed');
        await drained(kit, stream);
      });

      it("a handler that outlasts ack_wait keeps its message: working() every half of the consumer's ack_wait, read from the server", async () => {
        const kit = kitFor(version);
        const stream = `SLOW_${version}`;
        await kit.addStream({ name: stream, subjects: [`slow.${version}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 1_000 });
        await kit.js.publish(`slow.${version}.created`, '{"order":"o-8"}');
        let calls = 0;
        const handle = resilientHandler(
          async () => {
            calls++;
            await sleep(2_600); // more than two and a half ack waits
          },
          { publisher: dlqPublisher(kit), headers: kit.headers },
        );
        const deliveries = await run(
          kit,
          stream,
          'consume',
          handle,
          (d) => d.some((x) => x.outcome?.status === 'handled'),
          'the slow success',
        );
        await sleep(300); // a redelivery made while the handler ran would be in hand by now

        expect(deliveries.map((d) => d.outcome?.status)).toEqual(['handled']);
        expect(calls).toBe(1);
        expect(await drained(kit, stream)).toEqual({
          pending: 0,
          ackPending: 0,
          redelivered: 0,
        });
      });
    });
  },
);
