/**
 * The publisher's own logic over a scripted JetStream client: stream discovery, the
 * per-attempt timeout, msgID stability, classification hand-over, validation. The real
 * server behaviour (lost acks, restarts, breakers) is in test/integration/nats.
 */
import { describe, expect, it } from 'vitest';
import { backoff, circuitBreaker, InvalidOptionsError, policy } from '../../src/index.js';
import {
  type ClientPublishOptions,
  type JetStreamClientLike,
  type JetStreamManagerLike,
  jetStreamPublisher,
  NoStreamError,
  type PubAck,
  type StreamInfoLike,
} from '../../src/nats/index.js';

const timeoutError = (): Error => Object.assign(new Error('timeout'), { name: 'TimeoutError' });
const wrongLastSequence = (): Error =>
  Object.assign(new Error('wrong last sequence: 1'), {
    name: 'NatsError',
    code: '400',
    api_error: { code: 400, err_code: 10071, description: 'wrong last sequence: 1' },
  });

interface Script {
  streams: StreamInfoLike['config'][];
  /** Answers publish call n (0-based); default: an ack. */
  answer?: (n: number, subject: string) => Promise<PubAck> | undefined;
  managerFailures?: number;
  namesFailures?: number;
  clientTimeout?: number;
}

function scripted(script: Script) {
  const log = {
    publishes: [] as { subject: string; options: ClientPublishOptions | undefined }[],
    managers: 0,
    names: [] as string[],
    infos: [] as string[],
  };
  let seq = 0;
  const streamFor = (subject: string): string =>
    script.streams.find((s) => s.subjects?.some((p) => subject.startsWith(p.replace('>', ''))))?.name ?? '';
  const jsm: JetStreamManagerLike = {
    streams: {
      async info(name) {
        log.infos.push(name);
        const config = script.streams.find((s) => s.name === name);
        if (config === undefined) throw new Error('stream not found');
        return { config };
      },
      names(subject) {
        log.names.push(subject ?? '');
        const failing = (script.namesFailures ?? 0) > 0;
        if (failing && script.namesFailures !== undefined) script.namesFailures--;
        return (async function* () {
          if (failing) throw timeoutError();
          const name = streamFor(subject ?? '');
          if (name) yield name;
        })();
      },
    },
  };
  const js: JetStreamClientLike = {
    publish(subject, _payload, options) {
      const n = log.publishes.length;
      log.publishes.push({ subject, options });
      const scriptedAnswer = script.answer?.(n, subject);
      if (scriptedAnswer !== undefined) return scriptedAnswer;
      return Promise.resolve({ stream: streamFor(subject), seq: ++seq, duplicate: false });
    },
    async jetstreamManager() {
      log.managers++;
      if ((script.managerFailures ?? 0) > 0) {
        script.managerFailures = (script.managerFailures ?? 0) - 1;
        throw timeoutError();
      }
      return jsm;
    },
    getOptions: () => ({ timeout: script.clientTimeout ?? 5_000 }),
  };
  return { js, log };
}

const ORDERS = { name: 'ORDERS', subjects: ['orders.>'], duplicate_window: 120_000_000_000 };
const EVENTS = { name: 'EVENTS', subjects: ['events.>'], duplicate_window: 120_000_000_000 };

describe('jetStreamPublisher (scripted client)', () => {
  it('asks the server once per stream, then matches subjects locally', async () => {
    const { js, log } = scripted({ streams: [ORDERS, EVENTS] });
    const publisher = jetStreamPublisher(js, policy());
    await Promise.all(Array.from({ length: 10 }, () => publisher.publish('orders.created', 'x')));
    for (let i = 0; i < 50; i++) await publisher.publish(`orders.created.${i}`, 'x');
    await publisher.publish('events.a', 'x');
    expect(log.names).toEqual(['orders.created', 'events.a']);
    expect(log.infos).toEqual(['ORDERS', 'EVENTS']);
    expect(log.managers).toBe(1);
  });

  it('with a stream option, reads that stream once and never searches', async () => {
    const { js, log } = scripted({ streams: [ORDERS] });
    const publisher = jetStreamPublisher(js, policy(), { stream: 'ORDERS' });
    await publisher.publish('orders.a', 'x');
    await publisher.publish('orders.b', 'x');
    expect(log.names).toEqual([]);
    expect(log.infos).toEqual(['ORDERS']);
  });

  it('no stream holds the subject: rejects with NoStreamError at once, publishes nothing, asks again next time', async () => {
    const { js, log } = scripted({ streams: [ORDERS] });
    const publisher = jetStreamPublisher(js, policy({ retry: { maxAttempts: 5, budget: false } }));
    const error = await publisher.publish('unknown.a', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoStreamError);
    expect(error).toMatchObject({ code: 'BREAKWATER_NO_STREAM', subject: 'unknown.a', stream: undefined });
    expect(log.names).toEqual(['unknown.a']); // asked once: an empty answer is not retried
    expect(log.publishes).toEqual([]);
    await publisher.publish('unknown.a', 'x').catch(() => {});
    expect(log.names).toEqual(['unknown.a', 'unknown.a']); // not cached: the stream may be created
  });

  it("the caller's abort of a publish in flight rejects with its reason and does not count against the breaker", async () => {
    const { js, log } = scripted({ streams: [ORDERS], answer: () => new Promise<PubAck>(() => {}) });
    const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000 });
    const publisher = jetStreamPublisher(js, policy({ retry: false, circuitBreaker: breaker }), {
      stream: 'ORDERS',
    });
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const pending = publisher.publish('orders.a', 'x', { signal: controller.signal });
      while (log.publishes.length <= i) await new Promise((resolve) => setImmediate(resolve));
      const reason = new Error(`gave up ${i}`);
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
    }
    expect(breaker.state).toBe('closed'); // one failure would have opened it
  });

  it('retries discovery when the server cannot answer yet', async () => {
    const { js, log } = scripted({ streams: [ORDERS], managerFailures: 1, namesFailures: 1 });
    const publisher = jetStreamPublisher(
      js,
      policy({ retry: { maxAttempts: 3, backoff: backoff.constant(1), budget: false } }),
    );
    await expect(publisher.publish('orders.a', 'x')).resolves.toMatchObject({ stream: 'ORDERS' });
    expect(log.managers).toBe(2);
    expect(log.names).toHaveLength(2);
  });

  it('sends one msgID on every attempt and retries a timeout', async () => {
    const { js, log } = scripted({
      streams: [ORDERS],
      answer: (n) => (n < 2 ? Promise.reject(timeoutError()) : undefined),
    });
    const publisher = jetStreamPublisher(
      js,
      policy({ retry: { maxAttempts: 3, backoff: backoff.constant(1), budget: false } }),
    );
    await publisher.publish('orders.a', 'x');
    const ids = log.publishes.map((p) => p.options?.msgID);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('each attempt times out at its own deadline; without one, at the client timeout', async () => {
    const { js, log } = scripted({ streams: [ORDERS], clientTimeout: 1_234 });
    await jetStreamPublisher(js, policy()).publish('orders.a', 'x');
    await jetStreamPublisher(js, policy(), { timeout: 777 }).publish('orders.a', 'x');
    await jetStreamPublisher(js, policy({ attemptTimeout: 500 })).publish('orders.a', 'x');
    await jetStreamPublisher(js, policy({ attemptTimeout: 500, deadline: 200 })).publish('orders.a', 'x');
    const timeouts = log.publishes.map((p) => p.options?.timeout ?? 0);
    expect(timeouts.slice(0, 2)).toEqual([1_234, 777]);
    expect(timeouts[2]).toBeGreaterThan(400);
    expect(timeouts[2]).toBeLessThanOrEqual(500);
    expect(timeouts[3]).toBeGreaterThan(100);
    expect(timeouts[3]).toBeLessThanOrEqual(200);
  });

  it('hands its classification to execute only when the policy has none', async () => {
    const failing = (n: number): Promise<PubAck> | undefined =>
      n % 10 < 9 ? Promise.reject(wrongLastSequence()) : undefined;
    const adapter = scripted({ streams: [ORDERS], answer: failing });
    const quick = { maxAttempts: 3, backoff: backoff.constant(1), budget: false as const };
    await expect(
      jetStreamPublisher(adapter.js, policy({ retry: quick })).publish('orders.a', 'x'),
    ).rejects.toMatchObject({ api_error: { err_code: 10071 } });
    expect(adapter.log.publishes).toHaveLength(1);
    const own = scripted({ streams: [ORDERS], answer: failing });
    await expect(
      jetStreamPublisher(own.js, policy({ retry: { ...quick, retryOn: () => true } })).publish(
        'orders.a',
        'x',
      ),
    ).rejects.toMatchObject({ api_error: { err_code: 10071 } });
    expect(own.log.publishes).toHaveLength(3);
  });

  it('passes expect and headers through, and the caller msgID', async () => {
    const { js, log } = scripted({ streams: [ORDERS] });
    const headers = { get: () => '', set: () => undefined };
    await jetStreamPublisher(js, policy()).publish('orders.a', 'x', {
      msgID: 'order-9',
      expect: { lastSequence: 3 },
      headers,
    });
    expect(log.publishes[0]?.options).toMatchObject({ msgID: 'order-9', expect: { lastSequence: 3 } });
    expect(log.publishes[0]?.options?.headers).toBe(headers);
  });

  it('rejects (never throws) a publish with bad arguments', async () => {
    const { js, log } = scripted({ streams: [ORDERS] });
    const publisher = jetStreamPublisher(js, policy());
    await expect(publisher.publish('', 'x')).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(publisher.publish('orders.a', 'x', { msgID: '' })).rejects.toThrow(
      /msgID must be a non-empty string/,
    );
    await expect(publisher.publish('orders.a', 'x', { retries: 2 } as never)).rejects.toThrow(
      /unknown option/,
    );
    expect(log.publishes).toHaveLength(0);
  });

  it("rejects at once with the caller's abort reason", async () => {
    const { js } = scripted({ streams: [ORDERS], answer: () => new Promise<PubAck>(() => {}) });
    const publisher = jetStreamPublisher(js, policy());
    const controller = new AbortController();
    const pending = publisher.publish('orders.a', 'x', { stream: 'ORDERS', signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
  });
});
