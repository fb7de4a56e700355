/**
 * idempotentHandler on real JetStream consumers and real KV buckets (nats-server 2.9),
 * with the v2 and v3 clients: redeliveries are the server's own (a lost ack, a nak),
 * and the KV store's claims race on the real bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import {
  type HandleOutcome,
  type IdempotencyStore,
  idempotentHandler,
  type JsMsgLike,
  kvStore,
  memoryStore,
} from '../../../src/nats/index.js';
import { type ClientKit, connectKit, type TestMsg, until, VERSIONS } from './clients.js';

const available = natsServerAvailable();
type StoreKind = 'memory' | 'kv';
const STORES: readonly StoreKind[] = ['memory', 'kv'];

/** The message as delivered, except that its ack is lost on the way (never sent). */
function withLostAck(msg: TestMsg): TestMsg {
  return {
    seq: msg.seq,
    headers: msg.headers,
    info: msg.info,
    ack() {},
    nak: (millis) => msg.nak(millis),
    string: () => msg.string(),
  };
}

/** A stand-in message for driving handlers directly (the store under them is real). */
function fakeMsg(id: string): JsMsgLike & { acks: number; naks: (number | undefined)[] } {
  return {
    seq: 1,
    headers: { get: (name: string) => (name === 'Nats-Msg-Id' ? id : '') },
    info: { stream: 'FAKE' },
    acks: 0,
    naks: [],
    ack() {
      this.acks++;
    },
    nak(millis?: number) {
      this.naks.push(millis);
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!available)(
  `idempotentHandler on nats-server${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
  () => {
    let server: NatsServer;
    const kits = new Map<string, ClientKit>();
    beforeAll(async () => {
      server = await NatsServer.start();
      for (const version of VERSIONS) kits.set(version, await connectKit(version, server.url));
    });
    afterAll(async () => {
      for (const kit of kits.values()) await kit.close();
      await server?.dispose();
    });
    const kitFor = (version: string): ClientKit => kits.get(version) as ClientKit;

    async function storeFor(kit: ClientKit, kind: StoreKind, bucket: string): Promise<IdempotencyStore> {
      return kind === 'memory' ? memoryStore() : kvStore(await kit.kv(bucket));
    }

    describe.each(VERSIONS)('%s client', (version) => {
      it.each(STORES)('the same message delivered twice is handled once (%s store)', async (kind) => {
        const kit = kitFor(version);
        const stream = `TWICE_${version}_${kind}`;
        await kit.addStream({ name: stream, subjects: [`twice.${version}.${kind}.>`] });
        await kit.addConsumer(stream, 'worker', { ackWait: 1_000 });
        await kit.js.publish(`twice.${version}.${kind}.created`, 'order-1', { msgID: `order-1` });
        const store = await storeFor(kit, kind, `twice-${version}-${kind}`);

        let runs = 0;
        const handle = idempotentHandler(
          async () => {
            runs++;
          },
          { store },
        );
        const outcomes: HandleOutcome[] = [];
        const deliveries: number[] = [];
        let second!: () => void;
        const twoDeliveries = new Promise<void>((resolve) => {
          second = resolve;
        });
        const loop = await kit.consume(stream, 'worker', async (msg) => {
          deliveries.push(msg.info.deliveryCount ?? 0);
          // The first ack is lost: the server redelivers after ack_wait.
          outcomes.push(await handle(outcomes.length === 0 ? withLostAck(msg) : msg));
          if (outcomes.length === 2) second();
        });
        await twoDeliveries;
        await loop.stop();

        expect(runs).toBe(1);
        expect(outcomes.map((o) => o.status)).toEqual(['handled', 'duplicate']);
        expect(outcomes.map((o) => o.key)).toEqual(['order-1', 'order-1']);
        expect(deliveries).toEqual([1, 2]);
        await until(async () => (await kit.outstanding(stream, 'worker')) === 0, { what: 'the ack' });
      });

      it.each(STORES)(
        'a failing handler is retried on redelivery and handled once (%s store)',
        async (kind) => {
          const kit = kitFor(version);
          const stream = `FAIL_${version}_${kind}`;
          await kit.addStream({ name: stream, subjects: [`fail.${version}.${kind}.>`] });
          await kit.addConsumer(stream, 'worker');
          await kit.js.publish(`fail.${version}.${kind}.created`, 'order-2', { msgID: 'order-2' });
          const store = await storeFor(kit, kind, `fail-${version}-${kind}`);

          let runs = 0;
          const handle = idempotentHandler(
            async () => {
              runs++;
              if (runs < 3) throw new Error(`transient failure ${runs}`);
            },
            { store },
          );
          const outcomes: HandleOutcome[] = [];
          let handled!: () => void;
          const success = new Promise<void>((resolve) => {
            handled = resolve;
          });
          const loop = await kit.consume(stream, 'worker', async (msg) => {
            const outcome = await handle(msg);
            outcomes.push(outcome);
            if (outcome.status === 'handled') handled();
          });
          await success;
          await until(async () => (await kit.outstanding(stream, 'worker')) === 0, { what: 'the ack' });
          await loop.stop();

          expect(runs).toBe(3);
          expect(outcomes.map((o) => o.status)).toEqual(['failed', 'failed', 'handled']);
          const failed = outcomes[0];
          expect(failed?.status === 'failed' && (failed.error as Error).message).toBe('transient failure 1');
          // Recorded as done: another copy of the key is not processed again.
          const again = fakeMsg('order-2');
          expect(await handle(again as never)).toEqual({ status: 'duplicate', key: 'order-2' });
          expect(runs).toBe(3);
        },
      );

      it("a crashed consumer's claim expires and another consumer takes the key over", async () => {
        const kit = kitFor(version);
        const stream = `CRASH_${version}`;
        await kit.addStream({ name: stream, subjects: [`crash.${version}.>`] });
        await kit.addConsumer(stream, 'worker');
        const bucket = await kit.kv(`crash-${version}`);
        const ttl = 600;

        // A consumer claims the key and dies: no renewal, no release.
        const crashed = kvStore(bucket, { owner: 'crashed-consumer' });
        const stale = await crashed.claim('order-3', ttl);
        expect(stale.status).toBe('claimed');

        await kit.js.publish(`crash.${version}.created`, 'order-3', { msgID: 'order-3' });
        let runs = 0;
        let takenOver: boolean | undefined;
        const handle = idempotentHandler(
          async (_msg, context) => {
            runs++;
            takenOver = context.takenOver;
          },
          { store: kvStore(bucket), claimTtl: ttl, busyDelay: 200 },
        );
        const outcomes: HandleOutcome[] = [];
        let handled!: () => void;
        const success = new Promise<void>((resolve) => {
          handled = resolve;
        });
        const loop = await kit.consume(stream, 'worker', async (msg) => {
          const outcome = await handle(msg);
          outcomes.push(outcome);
          if (outcome.status === 'handled') handled();
        });
        await success;
        await loop.stop();

        expect(outcomes[0]?.status).toBe('busy');
        expect(outcomes.at(-1)?.status).toBe('handled');
        expect(outcomes.filter((o) => o.status === 'handled')).toHaveLength(1);
        expect(runs).toBe(1);
        expect(takenOver).toBe(true);
        // The crashed consumer's token is worthless now.
        if (stale.status === 'claimed') expect(await crashed.renew(stale.token, ttl)).toBe(false);
      });

      it('a live claim is renewed while its handler outlasts the TTL, and not taken over', async () => {
        const kit = kitFor(version);
        const bucket = await kit.kv(`renew-${version}`);
        const ttl = 600;
        let busySeen = 0;
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const slow = idempotentHandler(() => gate, { store: kvStore(bucket), claimTtl: ttl });
        let otherRuns = 0;
        const other = idempotentHandler(
          async () => {
            otherRuns++;
          },
          { store: kvStore(bucket), claimTtl: ttl, busyDelay: 100 },
        );

        const slowMsg = fakeMsg('order-4');
        const running = slow(slowMsg);
        const started = Date.now();
        const otherMsg = fakeMsg('order-4');
        let outcome: HandleOutcome;
        for (;;) {
          outcome = await other(otherMsg);
          if (outcome.status !== 'busy') break;
          busySeen++;
          // Hold the slow handler until the other consumer has been kept out for 3 TTLs.
          if (Date.now() - started > 3 * ttl) release();
          await sleep(outcome.retryAfterMs); // what the nak delay does on a real consumer
        }
        const slowOutcome = await running;

        expect(busySeen).toBeGreaterThan(3);
        expect(otherRuns).toBe(0);
        expect(outcome.status).toBe('duplicate');
        expect(slowOutcome).toEqual({ status: 'handled', key: 'order-4', recorded: true });
        expect(slowMsg.acks).toBe(1);
        expect(otherMsg.acks).toBe(1);
        expect(otherMsg.naks).toHaveLength(busySeen);
      });
    });

    it('two consumers (v2 and v3) sharing one KV bucket, each given a copy of the same 500 keys, handle each key once', async () => {
      const KEYS = 500;
      const v2 = kitFor('v2');
      const v3 = kitFor('v3');
      const stream = 'SHARED';
      await v3.addStream({ name: stream, subjects: ['shared.>'] });
      // Two durable consumers: each receives its own copy of every message.
      await v3.addConsumer(stream, 'replica-a');
      await v3.addConsumer(stream, 'replica-b');
      for (let i = 0; i < KEYS; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            v3.js.publish(`shared.orders.${i + j}`, `order-${i + j}`, { msgID: `key-${i + j}` }),
          ),
        );
      }
      const bucketA = await v2.kv('shared-orders');
      const bucketB = await v3.openKv('shared-orders'); // the same bucket, through the other client

      const runs = new Map<string, number>();
      const work = async (_msg: unknown, context: { key: string }): Promise<void> => {
        runs.set(context.key, (runs.get(context.key) ?? 0) + 1);
        await sleep(2); // long enough for the other replica to race for the same key
      };
      const handleA = idempotentHandler(work, { store: kvStore(bucketA), busyDelay: 50 });
      const handleB = idempotentHandler(work, { store: kvStore(bucketB), busyDelay: 50 });
      const tally = new Map<string, number>();
      const count = (o: HandleOutcome): void => {
        tally.set(o.status, (tally.get(o.status) ?? 0) + 1);
      };
      const loopA = await v2.consume(stream, 'replica-a', async (msg) => count(await handleA(msg)));
      const loopB = await v3.consume(stream, 'replica-b', async (msg) => count(await handleB(msg)));
      await until(
        async () =>
          (tally.get('handled') ?? 0) + (tally.get('duplicate') ?? 0) === 2 * KEYS &&
          (await v3.outstanding(stream, 'replica-a')) === 0 &&
          (await v3.outstanding(stream, 'replica-b')) === 0,
        { timeoutMs: 60_000, what: 'both replicas to ack every copy' },
      );
      await loopA.stop();
      await loopB.stop();

      expect(runs.size).toBe(KEYS);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(tally.get('handled')).toBe(KEYS);
      expect(tally.get('duplicate')).toBe(KEYS);
      expect(tally.get('failed')).toBeUndefined();
    }, 90_000);
  },
);
