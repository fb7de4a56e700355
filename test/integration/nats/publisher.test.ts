/**
 * jetStreamPublisher against a real nats-server with JetStream, with the v2 (`nats`) and
 * v3 (`@nats-io/jetstream`) clients. Faults are real: the server is paused (SIGSTOP) so an
 * ack never comes in time, or streams are deleted under the publisher.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import {
  type BreakwaterEvent,
  backoff,
  CircuitOpenError,
  isBreakwaterError,
  keyedCircuitBreaker,
  policy,
} from '../../../src/index.js';
import {
  isJetStreamFailure,
  isNoResponders,
  isWrongLastSequence,
  type JetStreamClientLike,
  jetStreamPublisher,
  NoStreamError,
  retryHorizon,
} from '../../../src/nats/index.js';
import { type ClientKit, connectKit, VERSIONS } from './clients.js';

const available = natsServerAvailable();

/** The client with every publish call recorded (time and options), passed through unchanged. */
function recording(js: JetStreamClientLike): {
  js: JetStreamClientLike;
  calls: { at: number; subject: string; msgID: string | undefined; timeout: number | undefined }[];
} {
  const calls: { at: number; subject: string; msgID: string | undefined; timeout: number | undefined }[] = [];
  const wrapped: JetStreamClientLike = {
    publish(subject, payload, options) {
      calls.push({ at: Date.now(), subject, msgID: options?.msgID, timeout: options?.timeout });
      return js.publish(subject, payload, options);
    },
    jetstreamManager: (checkAPI) => js.jetstreamManager(checkAPI),
    getOptions: () => js.getOptions(),
  };
  return { js: wrapped, calls };
}

describe.skipIf(!available)(
  `jetStreamPublisher on nats-server${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
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
        if (server.running) server.resume(); // never leave a paused server behind a failed test
        await kit?.close();
      });

      it('publishes and resolves with the PubAck; msgID defaults to the idempotency key', async () => {
        const stream = `BASIC_${version}`;
        await kit.addStream({ name: stream, subjects: [`basic.${version}.>`] });
        const keyed = jetStreamPublisher(
          kit.js,
          policy({ idempotency: { generate: () => `key-${version}-1` } }),
        );
        const ack = await keyed.publish(`basic.${version}.a`, 'one');
        expect(ack).toMatchObject({ stream, seq: 1, duplicate: false });
        // Same generated key again: the server recognises the msgID.
        const again = await keyed.publish(`basic.${version}.a`, 'one again');
        expect(again).toMatchObject({ stream, seq: 1, duplicate: true });
        // The caller's own msgID wins over the policy's key.
        const own = await keyed.publish(`basic.${version}.a`, 'two', { msgID: `order-${version}-2` });
        expect(own).toMatchObject({ seq: 2, duplicate: false });
        // No idempotency in the policy: a random msgID per publish (retries are possible).
        const { js, calls } = recording(kit.js);
        const plain = jetStreamPublisher(js, policy());
        await plain.publish(`basic.${version}.b`, 'three');
        await plain.publish(`basic.${version}.b`, 'four');
        expect(calls[0]?.msgID).toMatch(/^[0-9a-f-]{36}$/);
        expect(calls[1]?.msgID).toMatch(/^[0-9a-f-]{36}$/);
        expect(calls[0]?.msgID).not.toBe(calls[1]?.msgID);
        expect(await kit.count(stream)).toBe(4);
        // A policy that never retries needs no msgID and sends none.
        const { js: js1, calls: calls1 } = recording(kit.js);
        await jetStreamPublisher(js1, policy({ retry: false })).publish(`basic.${version}.c`, 'five');
        expect(calls1[0]?.msgID).toBeUndefined();
      });

      it('lost ack: the retry carries the same msgID, the server answers duplicate, the stream holds one copy', async () => {
        const stream = `LOST_${version}`;
        await kit.addStream({ name: stream, subjects: [`lost.${version}.>`] });
        const events: BreakwaterEvent[] = [];
        let resumed = false;
        const orders = policy({
          deadline: 20_000,
          attemptTimeout: 1_000,
          retry: { maxAttempts: 5, backoff: backoff.constant(50), budget: false },
          onEvent: (event) => {
            events.push(event);
            // The first attempt timed out with the server frozen: let it run again. It then
            // stores that first copy and acks into an inbox nobody listens to any more.
            if (event.type === 'retry-scheduled' && !resumed) {
              resumed = true;
              server.resume();
            }
          },
        });
        const { js, calls } = recording(kit.js);
        const publisher = jetStreamPublisher(js, orders);
        await publisher.publish(`lost.${version}.warmup`, 'warmup'); // the stream is known now
        calls.length = 0;
        events.length = 0;

        await server.pause();
        const ack = await publisher.publish(`lost.${version}.created`, 'order-1', {
          msgID: `order-1-${version}`,
        });

        expect(resumed).toBe(true);
        // Two attempts (more only if the machine is slow enough to lose the second ack too),
        // every one with the caller's msgID.
        expect(calls.length).toBeGreaterThanOrEqual(2);
        expect(new Set(calls.map((c) => c.msgID))).toEqual(new Set([`order-1-${version}`]));
        // The first attempt ended without an ack (breakwater's attempt timeout or the client's
        // own request timeout, whichever fired first: both are set to the attempt deadline).
        const end = events.find((e) => e.type === 'attempt-end');
        expect(end?.type === 'attempt-end' && end.outcome).not.toBe('success');
        expect(ack).toMatchObject({ stream, seq: 2, duplicate: true });
        expect(await kit.count(stream)).toBe(2); // warmup + exactly one copy of the order
      });

      it('control: the same lost ack without a stable msgID stores the message twice', async () => {
        // Shows that pausing really loses an ack after the message was stored, so the test
        // above would fail if the retry did not carry the same msgID.
        const stream = `CONTROL_${version}`;
        await kit.addStream({ name: stream, subjects: [`control.${version}.>`] });
        await server.pause();
        const first = kit.js.publish(`control.${version}.a`, 'order', { timeout: 500 });
        await expect(first).rejects.toSatisfy((e: unknown) => !isBreakwaterError(e));
        server.resume();
        await kit.js.publish(`control.${version}.a`, 'order', { timeout: 5_000 });
        expect(await kit.count(stream)).toBe(2);
      });

      it('no stream captures the subject: fails at once with NoStreamError naming it, nothing sent', async () => {
        const { js, calls } = recording(kit.js);
        const events: BreakwaterEvent[] = [];
        const publisher = jetStreamPublisher(
          js,
          policy({
            deadline: 10_000,
            retry: { maxAttempts: 5, backoff: backoff.constant(200), budget: false },
            onEvent: (event) => events.push(event),
          }),
        );
        const started = Date.now();
        const error = await publisher.publish(`nowhere.${version}.x`, 'lost').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(Date.now() - started).toBeLessThan(1_000); // no backoff wait: not retried
        expect(error).toBeInstanceOf(NoStreamError);
        expect(error).toMatchObject({
          code: 'BREAKWATER_NO_STREAM',
          name: 'NoStreamError',
          subject: `nowhere.${version}.x`,
          stream: undefined,
        });
        expect((error as Error).message).toContain(
          `No JetStream stream captures the subject "nowhere.${version}.x"`,
        );
        expect(calls).toHaveLength(0);
        expect(events.filter((e) => e.type === 'retry-scheduled')).toEqual([]);

        // The subject gets a stream: the same publisher finds it on the next publish.
        await kit.addStream({ name: `LATE_${version}`, subjects: [`nowhere.${version}.>`] });
        await expect(publisher.publish(`nowhere.${version}.x`, 'found')).resolves.toMatchObject({
          stream: `LATE_${version}`,
        });
      });

      it('a stream named by the caller that does not exist: NoStreamError naming both', async () => {
        const { js, calls } = recording(kit.js);
        const publisher = jetStreamPublisher(js, policy({ retry: { maxAttempts: 5, budget: false } }));
        const error = await publisher
          .publish(`named.${version}.x`, 'lost', { stream: `MISSING_${version}` })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toBeInstanceOf(NoStreamError);
        expect(error).toMatchObject({ subject: `named.${version}.x`, stream: `MISSING_${version}` });
        expect((error as Error).message).toContain(`No JetStream stream named "MISSING_${version}"`);
        expect(calls).toHaveLength(0);
      });

      it('wrong last sequence (expect) is not retried', async () => {
        const stream = `EXPECT_${version}`;
        await kit.addStream({ name: stream, subjects: [`expect.${version}.>`] });
        const { js, calls } = recording(kit.js);
        const publisher = jetStreamPublisher(js, policy({ retry: { maxAttempts: 5, budget: false } }));
        await publisher.publish(`expect.${version}.a`, 'first', { expect: { lastSequence: 0 } });
        calls.length = 0;
        const error = await publisher
          .publish(`expect.${version}.a`, 'second', { expect: { lastSequence: 7 } })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(isWrongLastSequence(error)).toBe(true);
        if (version === 'v2')
          expect(error).toMatchObject({ name: 'NatsError', api_error: { err_code: 10071 } });
        else expect(error).toMatchObject({ name: 'JetStreamApiError', code: 10071 });
        expect(calls).toHaveLength(1);
        const ok = await publisher.publish(`expect.${version}.a`, 'second', { expect: { lastSequence: 1 } });
        expect(ok.seq).toBe(2);
      });

      it('keyed breaker: a dead stream fails fast, a healthy one is unaffected, recovery closes it', async () => {
        const dead = `DEAD_${version}`;
        const live = `LIVE_${version}`;
        await kit.addStream({ name: dead, subjects: [`dead.${version}.>`] });
        await kit.addStream({ name: live, subjects: [`live.${version}.>`] });
        const perStream = keyedCircuitBreaker({
          consecutiveFailures: 3,
          openDuration: 500,
          isFailure: isJetStreamFailure,
        });
        const changes: string[] = [];
        perStream.onStateChange((c) => changes.push(`${c.key}:${c.from}->${c.to}`));
        const { js, calls } = recording(kit.js);
        const publisher = jetStreamPublisher(js, policy({ retry: false, circuitBreaker: perStream }));
        await publisher.publish(`dead.${version}.a`, 'before');
        await publisher.publish(`live.${version}.a`, 'before');

        await kit.deleteStream(dead);
        for (let i = 0; i < 3; i++) {
          await expect(publisher.publish(`dead.${version}.a`, `x${i}`)).rejects.toSatisfy(isNoResponders);
        }
        expect(perStream.peek(dead)?.state).toBe('open');
        const sent = calls.length;
        const rejection = await publisher.publish(`dead.${version}.b`, 'fast').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(rejection).toBeInstanceOf(CircuitOpenError);
        expect((rejection as CircuitOpenError).key).toBe(dead);
        expect(calls.length).toBe(sent); // rejected without a request
        // The healthy stream behind the same policy is untouched.
        await expect(publisher.publish(`live.${version}.b`, 'during')).resolves.toMatchObject({
          stream: live,
        });
        expect(perStream.peek(live)?.state).toBe('closed');

        // Recovery: the stream is back; after openDuration a probe succeeds and closes it.
        await kit.addStream({ name: dead, subjects: [`dead.${version}.>`] });
        await new Promise((resolve) =>
          setTimeout(resolve, (rejection as CircuitOpenError).retryAfterMs + 20),
        );
        await expect(publisher.publish(`dead.${version}.c`, 'after')).resolves.toMatchObject({
          stream: dead,
        });
        expect(perStream.peek(dead)?.state).toBe('closed');
        expect(changes).toEqual([
          `${dead}:closed->open`,
          `${dead}:open->half-open`,
          `${dead}:half-open->closed`,
        ]);
      });

      it('keeps every retry inside the stream duplicate window (clamps the deadline)', async () => {
        const stream = `WINDOW_${version}`;
        const windowMs = 1_500;
        await kit.addStream({ name: stream, subjects: [`window.${version}.>`], duplicateWindow: windowMs });
        const { js, calls } = recording(kit.js);
        // Left alone this policy would retry for a minute, far past the 1.5 s window.
        const publisher = jetStreamPublisher(
          js,
          policy({
            deadline: 60_000,
            attemptTimeout: 300,
            retry: { maxAttempts: 200, backoff: backoff.constant(50), budget: false },
          }),
        );
        await publisher.publish(`window.${version}.warmup`, 'warmup');
        calls.length = 0;
        await server.pause();
        let error: unknown;
        try {
          await publisher.publish(`window.${version}.a`, 'late', { msgID: `late-${version}` });
        } catch (e) {
          error = e;
        } finally {
          server.resume();
        }
        expect(error).toBeDefined();
        expect(calls.length).toBeGreaterThan(1);
        const first = calls[0]?.at ?? 0;
        const last = calls[calls.length - 1]?.at ?? 0;
        expect(last - first).toBeLessThanOrEqual(retryHorizon(windowMs));
        // Every copy that reached the server was within the window of the first: one stored.
        await kit.js.publish(`window.${version}.flush`, 'flush', { timeout: 5_000 });
        expect(await kit.count(stream)).toBe(3);
      });

      it('bad options throw at construction with the option name', () => {
        expect(() => jetStreamPublisher({} as never, policy())).toThrow(/js must be a JetStream client/);
        expect(() => jetStreamPublisher(kit.js, {} as never)).toThrow(/policy must be a breakwater policy/);
        expect(() => jetStreamPublisher(kit.js, policy(), { timeout: 0 })).toThrow(
          /timeout must be a number above 0/,
        );
        expect(() => jetStreamPublisher(kit.js, policy(), { stream: '' })).toThrow(
          /stream must be a stream name/,
        );
        expect(() => jetStreamPublisher(kit.js, policy(), { retries: 3 } as never)).toThrow(
          /unknown option "retries"/,
        );
      });
    });
  },
);
