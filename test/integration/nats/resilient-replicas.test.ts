/**
 * resilientHandler composed with idempotentHandler across two consumer processes (one on
 * the v2 client with consume(), one on the v3 client with fetch()) that pull from one
 * durable consumer and share one KV bucket: 500 orders, a seeded 5% of them poison, others
 * failing on their first delivery or losing their first ack. Every good order is handled
 * exactly once, every poison one is in the dead-letter stream exactly once, and nothing
 * is left pending.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import { DeadLetterHeaders } from '../../../src/nats/index.js';
import { type ClientKit, connectKit, until } from './clients.js';

const available = natsServerAvailable();
const root = fileURLToPath(new URL('../../..', import.meta.url));
const replicaScript = fileURLToPath(new URL('./fixtures/replica.ts', import.meta.url));

const ORDERS = 500;
const SEED = 17;
const STREAM = 'ORDERS_R';
const DLQ = 'DLQ_R';
const CONSUMER = 'shipping';
const BUCKET = 'shipping-processed';

/** mulberry32: a small seeded generator, so the poison orders are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Line {
  replica: string;
  event: 'ready' | 'handled' | 'outcome';
  key?: string;
  id?: number;
  seq?: number;
  count?: number;
  status?: string;
}

/** A replica process and the JSON lines it printed. */
class Replica {
  readonly lines: Line[] = [];
  readonly child: ChildProcess;
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', replicaScript, ...args], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        this.lines.push(JSON.parse(buffered.slice(0, newline)) as Line);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get ready(): boolean {
    return this.lines.some((l) => l.event === 'ready');
  }

  async stop(): Promise<number | null> {
    this.child.stdin?.end('stop\n');
    const guard = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(guard);
    }
  }
}

describe.skipIf(!available)(
  `resilientHandler + idempotentHandler in two consumer processes${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
  () => {
    let server: NatsServer;
    let admin: ClientKit;
    const replicas: Replica[] = [];
    beforeAll(async () => {
      server = await NatsServer.start();
      admin = await connectKit('v3', server.url);
    });
    afterAll(async () => {
      for (const replica of replicas) if (replica.child.exitCode === null) replica.child.kill('SIGKILL');
      await admin?.close();
      await server?.dispose();
    });

    it('500 orders, 5% poison (seeded): every good order handled exactly once, every poison one dead-lettered exactly once, nothing pending', async () => {
      await admin.addStream({ name: STREAM, subjects: ['replica.orders.>'] });
      await admin.addStream({ name: DLQ, subjects: [`dlq.${STREAM}.>`] });
      await admin.addConsumer(STREAM, CONSUMER, { ackWait: 1_000 });
      await admin.kv(BUCKET);

      const random = seeded(SEED);
      const poison = new Set<number>();
      const failFirst = new Set<number>();
      const loseAck = new Set<number>();
      for (let id = 0; id < ORDERS; id++) {
        if (random() < 0.05) poison.add(id);
        else {
          if (random() < 0.05) failFirst.add(id);
          if (random() < 0.05) loseAck.add(id);
        }
      }
      // The seed gives each kind of trouble some orders (else the test would prove nothing).
      expect(poison.size).toBeGreaterThan(10);
      expect(failFirst.size).toBeGreaterThan(5);
      expect(loseAck.size).toBeGreaterThan(5);

      replicas.push(new Replica([server.url, 'v2', 'consume', STREAM, CONSUMER, BUCKET]));
      replicas.push(new Replica([server.url, 'v3', 'fetch', STREAM, CONSUMER, BUCKET]));
      await until(() => replicas.every((r) => r.ready), {
        timeoutMs: 30_000,
        what: `both replicas to start (${replicas.map((r) => r.stderr).join(' | ')})`,
      });

      const seqOf = new Map<number, number>();
      for (let id = 0; id < ORDERS; id += 50) {
        const batch = Array.from({ length: Math.min(50, ORDERS - id) }, (_, j) => id + j);
        const acks = await Promise.all(
          batch.map((n) =>
            admin.js.publish(
              `replica.orders.${n}`,
              poison.has(n)
                ? `{"id": ${n}, truncated`
                : JSON.stringify({ id: n, failFirst: failFirst.has(n), loseAck: loseAck.has(n) }),
              { msgID: `order-${n}` },
            ),
          ),
        );
        acks.forEach((ack, j) => {
          seqOf.set(batch[j] as number, ack.seq);
        });
      }

      const handledLines = () => replicas.flatMap((r) => r.lines.filter((l) => l.event === 'handled'));
      await until(
        async () => {
          if (handledLines().length < ORDERS - poison.size) return false;
          if ((await admin.count(DLQ)) < poison.size) return false;
          const state = await admin.consumerState(STREAM, CONSUMER);
          return state.pending === 0 && state.ackPending === 0;
        },
        { timeoutMs: 45_000, everyMs: 100, what: 'every order handled or dead-lettered and acked' },
      );
      const codes = await Promise.all(replicas.map((r) => r.stop()));

      expect(codes).toEqual([0, 0]);
      // Every good order handled exactly once, across both processes.
      const runs = new Map<number, number>();
      for (const line of handledLines()) runs.set(line.id as number, (runs.get(line.id as number) ?? 0) + 1);
      const good = [...Array(ORDERS).keys()].filter((id) => !poison.has(id));
      expect(good.filter((id) => runs.get(id) !== 1)).toEqual([]);
      expect(runs.size).toBe(good.length);
      // Every poison order in the dead-letter stream exactly once, nothing else there.
      const copies = await admin.messages(DLQ);
      const copied = copies.map((c) => Number(c.headers[DeadLetterHeaders.sequence]));
      expect(copied.length).toBe(poison.size);
      expect(new Set(copied)).toEqual(new Set([...poison].map((id) => seqOf.get(id))));
      expect(copies.every((c) => c.headers[DeadLetterHeaders.errorType] === 'SyntaxError')).toBe(true);
      // Nothing left pending, and nothing arrived after the counts were taken.
      expect(await admin.consumerState(STREAM, CONSUMER)).toMatchObject({ pending: 0, ackPending: 0 });
      expect(await admin.count(DLQ)).toBe(poison.size);
      // Both processes did work, and the trouble was real: retried first deliveries, and
      // redeliveries of lost acks recognised as duplicates through the shared bucket.
      const outcomes = replicas.flatMap((r) => r.lines.filter((l) => l.event === 'outcome'));
      for (const replica of replicas) {
        expect(replica.lines.filter((l) => l.event === 'outcome').length).toBeGreaterThan(0);
      }
      expect(outcomes.filter((o) => o.status === 'retry').length).toBeGreaterThanOrEqual(failFirst.size);
      expect(outcomes.filter((o) => o.status === 'duplicate').length).toBeGreaterThanOrEqual(loseAck.size);
      expect(outcomes.filter((o) => o.status === 'dead-lettered').length).toBe(poison.size);
    }, 90_000);
  },
);
