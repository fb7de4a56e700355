/**
 * resilientHandler on real JetStream consumers (nats-server 2.9), with the v2 and v3
 * clients, pulling with consume() and with fetch(): the redeliveries, their delays, the
 * terminations and the dead-letter copies are the server's own. Faults are real: the
 * server is paused (SIGSTOP) while the dead-letter copy waits for its ack; the dead-letter
 * stream is missing until the test creates it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import { type BreakwaterEvent, backoff, circuitBreaker, policy } from '../../../src/index.js';
import {
  DeadLetterHeaders,
  jetStreamPublisher,
  type MessageEvent,
  type ResilientOutcome,
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

const available = natsServerAvailable();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every (client, pull mode) pair. */
const COMBOS: readonly (readonly [ClientVersion, PullMode])[] = VERSIONS.flatMap((v) =>
  PULL_MODES.map((m) => [v, m] as const),
);

/** A delivery as the test saw it. */
interface Delivery {
  readonly count: number;
  /** performance.now() when it arrived. */
  readonly at: number;
  /** performance.now() when handle() resolved (after the ack, nak or term). */
  settledAt: number;
  outcome?: ResilientOutcome;
}

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

    /** A DLQ publisher with a short, bounded policy. */
    const dlqPublisher = (kit: ClientKit, onEvent?: (event: BreakwaterEvent) => void) =>
      jetStreamPublisher(
        kit.js,
        policy({
          deadline: 5_000,
          attemptTimeout: 300,
          retry: { maxAttempts: 10, backoff: backoff.constant(20), budget: false },
          ...(onEvent === undefined ? {} : { onEvent }),
        }),
      );

    /** Runs `handle` over the consumer until `done(deliveries)`; returns the deliveries. */
    async function run(
      kit: ClientKit,
      stream: string,
      mode: PullMode,
      handle: (msg: KitMsg) => Promise<ResilientOutcome>,
      done: (deliveries: Delivery[]) => boolean,
      what: string,
    ): Promise<Delivery[]> {
      const deliveries: Delivery[] = [];
      const loop = await kit.consume(
        stream,
        'worker',
        async (msg) => {
          const delivery: Delivery = {
            count: msg.info.deliveryCount ?? 0,
            at: performance.now(),
            settledAt: 0,
          };
          deliveries.push(delivery);
          delivery.outcome = await handle(msg);
          delivery.settledAt = performance.now();
        },
        mode,
      );
      try {
        await until(() => done(deliveries), { what, timeoutMs: 15_000 });
      } finally {
        await loop.stop();
      }
      return deliveries;
    }

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
        // The server held each redelivery back for at least the nak's delay (measured from
        // after the nak was sent, so never early).
        for (let i = 0; i < 3; i++) {
          const gap = (deliveries[i + 1]?.at ?? 0) - (deliveries[i]?.settledAt ?? 0);
          expect(gap).toBeGreaterThanOrEqual((delays[i] ?? 0) - 1);
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
        const state = await kit.consumerState(stream, 'worker');
        expect(state).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
        expect(events.map((e) => e.type)).toEqual(['message-dead-lettered']);
      });

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
        expect(await kit.consumerState(stream, 'worker')).toMatchObject({ pending: 0, ackPending: 0 });
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
        expect(await kit.consumerState(stream, 'worker')).toMatchObject({ pending: 0, ackPending: 0 });
      });

      it("a handler that outlasts ack_wait keeps its message: working() every half of the consumer's ack_wait, read from the server", async () => {
        const kit = kitFor(version);
        const stream = `SLOW_${version}`;
        await kit.addStream({ name: stream, subjects: [`slow.${version}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 400 });
        await kit.js.publish(`slow.${version}.created`, '{"order":"o-8"}');
        let calls = 0;
        const handle = resilientHandler(
          async () => {
            calls++;
            await sleep(1_300); // more than three ack waits
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
        await sleep(600); // a redelivery made while the handler ran would be in hand by now

        expect(deliveries.map((d) => d.outcome?.status)).toEqual(['handled']);
        expect(calls).toBe(1);
        expect(await kit.consumerState(stream, 'worker')).toEqual({
          pending: 0,
          ackPending: 0,
          redelivered: 0,
        });
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
        expect(await kit.consumerState(stream, 'worker')).toMatchObject({ pending: 0, ackPending: 0 });
      });

      it('an open breaker: no handler call while it is open, one delivery per message per open period, none dead-lettered', async () => {
        const kit = kitFor(version);
        const stream = `OPEN_${version}`;
        await kit.addStream({ name: stream, subjects: [`open.${version}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 5_000 });
        const MESSAGES = 10;
        for (let i = 0; i < MESSAGES; i++) await kit.js.publish(`open.${version}.${i}`, `{"order":${i}}`);
        const openUntil = Date.now() + 800;
        const breaker = circuitBreaker({ initialState: { state: 'open', openUntil } });
        const calledAt: number[] = [];
        const handle = resilientHandler(
          () => {
            calledAt.push(Date.now());
          },
          {
            publisher: dlqPublisher(kit),
            headers: kit.headers,
            policy: policy({ circuitBreaker: breaker }),
            maxDeliveries: 1, // a held-back delivery must not count as a failed one
          },
        );
        const deliveries = await run(
          kit,
          stream,
          'consume',
          handle,
          (d) => d.filter((x) => x.outcome?.status === 'handled').length === MESSAGES,
          'every message handled',
        );

        expect(calledAt).toHaveLength(MESSAGES);
        expect(Math.min(...calledAt)).toBeGreaterThanOrEqual(openUntil);
        const held = deliveries.filter((d) => d.outcome?.status === 'retry');
        expect(held).toHaveLength(MESSAGES);
        for (const d of held) expect(d.outcome).toMatchObject({ reason: 'circuit-open', deliveryCount: 1 });
        expect(deliveries).toHaveLength(2 * MESSAGES);
        expect(breaker.state).toBe('closed');
        expect(await kit.consumerState(stream, 'worker')).toMatchObject({ pending: 0, ackPending: 0 });
      });
    });
  },
);
