/**
 * resilientHandler's decisions over stand-in messages and a recording publisher: what is
 * acked, nak'ed (with which delay), dead-lettered (with which copy) or terminated, and in
 * which order; the working() heartbeat on a manual clock. The policy and the composition
 * with idempotentHandler are in resilient-composition.test.ts; the real server's side is in
 * test/integration/nats.
 */
import { describe, expect, it } from 'vitest';
import { policy } from '../../src/index.js';
import { DeadLetterHeaders, type PubAck, resilientHandler } from '../../src/nats/index.js';
import { flush, ManualClock } from '../support/clock.js';
import { deferred } from '../support/events.js';
import {
  clean,
  FakeHeaders,
  failing,
  fakeMsg,
  fakePublisher,
  headersOf,
  options,
  parseError,
} from './consumer-fakes.js';

describe('resilientHandler', () => {
  it('acks a message whose handler succeeds, and tells no listener', async () => {
    const o = options();
    const seen: number[] = [];
    const handle = resilientHandler((_msg, context) => {
      seen.push(context.deliveryCount);
    }, clean(o));
    const msg = fakeMsg({ deliveryCount: 2 });
    expect(await handle(msg)).toEqual({ status: 'handled', deliveryCount: 2 });
    expect(msg.settled()).toEqual(['ack']);
    expect(seen).toEqual([2]);
    expect(o.events).toEqual([]);
  });

  it('naks a failure with the backoff delay for its delivery count while deliveries are left', async () => {
    const o = options({ maxDeliveries: 5 });
    const handle = resilientHandler(failing(), clean(o));
    const delays: number[] = [];
    for (let count = 1; count <= 4; count++) {
      const msg = fakeMsg({ deliveryCount: count });
      const outcome = await handle(msg);
      expect(outcome).toMatchObject({ status: 'retry', reason: 'handler-failed', deliveryCount: count });
      delays.push(outcome.status === 'retry' ? outcome.delayMs : -1);
      expect(msg.settled()).toEqual([{ nak: delays.at(-1) }]);
    }
    expect(delays).toEqual([100, 200, 400, 800]);
    expect(o.calls).toEqual([]);
    expect(o.events.map((e) => [e.type, e.deliveryCount])).toEqual([
      ['message-retry', 1],
      ['message-retry', 2],
      ['message-retry', 3],
      ['message-retry', 4],
    ]);
    expect(o.events[0]).toMatchObject({
      type: 'message-retry',
      reason: 'handler-failed',
      delayMs: 100,
      subject: 'orders.created',
      stream: 'ORDERS',
      consumer: 'shipping',
      seq: 7,
    });
  });

  it('on the last allowed delivery, stores a copy on the dead-letter subject, then terms the original', async () => {
    const stored = deferred<PubAck>();
    const { publisher, calls } = fakePublisher(() => stored.promise);
    const o = options({ publisher, maxDeliveries: 5 });
    const error = new Error('carrier unavailable');
    const handle = resilientHandler(failing(error), clean(o));
    const msg = fakeMsg({
      deliveryCount: 5,
      data: 'the payload',
      headers: new FakeHeaders({ 'Nats-Msg-Id': 'o-1', traceparent: '00-abc-def-01' }),
    });
    const pending = handle(msg);
    await flush();
    // The copy is not acknowledged yet: the original is neither terminated nor nak'ed.
    expect(calls).toHaveLength(1);
    expect(msg.settled()).toEqual([]);
    stored.resolve({ stream: 'DLQ', seq: 1, duplicate: false });
    const outcome = await pending;
    expect(outcome).toEqual({
      status: 'dead-lettered',
      deliveryCount: 5,
      reason: 'max-deliveries',
      error,
      subject: 'dlq.ORDERS.shipping',
      ack: { stream: 'DLQ', seq: 1, duplicate: false },
    });
    expect(msg.settled()).toEqual(['term']);
    const call = calls[0];
    expect(call?.subject).toBe('dlq.ORDERS.shipping');
    expect(call?.payload).toBe('the payload');
    expect(call?.options?.msgID).toBe('dlq:ORDERS:shipping:7');
    expect(headersOf(call).toObject()).toEqual({
      traceparent: ['00-abc-def-01'],
      [DeadLetterHeaders.subject]: ['orders.created'],
      [DeadLetterHeaders.stream]: ['ORDERS'],
      [DeadLetterHeaders.sequence]: ['7'],
      [DeadLetterHeaders.consumer]: ['shipping'],
      [DeadLetterHeaders.msgId]: ['o-1'],
      [DeadLetterHeaders.deliveryCount]: ['5'],
      [DeadLetterHeaders.reason]: ['max-deliveries'],
      [DeadLetterHeaders.errorType]: ['Error'],
      [DeadLetterHeaders.errorMessage]: ['carrier unavailable'],
    });
    expect(o.events).toEqual([
      expect.objectContaining({
        type: 'message-dead-lettered',
        reason: 'max-deliveries',
        deadLetterSubject: 'dlq.ORDERS.shipping',
        duplicate: false,
        deliveryCount: 5,
        error,
      }),
    ]);
  });

  it('dead-letters a payload that does not parse on its first delivery (poison)', async () => {
    const o = options();
    const handle = resilientHandler((msg) => JSON.parse(new TextDecoder().decode(msg.data)), clean(o));
    const msg = fakeMsg({ data: '{not json', deliveryCount: 1 });
    const outcome = await handle(msg);
    expect(outcome).toMatchObject({ status: 'dead-lettered', reason: 'poison', deliveryCount: 1 });
    expect(msg.settled()).toEqual(['term']);
    const headers = headersOf(o.calls[0]);
    expect(headers.get(DeadLetterHeaders.errorType)).toBe('SyntaxError');
    expect(headers.get(DeadLetterHeaders.reason)).toBe('poison');
  });

  it("retries fetch's network TypeError (it has a cause), dead-letters a plain TypeError", async () => {
    const o = options();
    const network = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    const retried = await resilientHandler(failing(network), clean(o))(fakeMsg());
    expect(retried).toMatchObject({ status: 'retry', reason: 'handler-failed' });
    const typed = await resilientHandler(
      failing(new TypeError("Cannot read properties of undefined (reading 'id')")),
      clean(o),
    )(fakeMsg());
    expect(typed).toMatchObject({ status: 'dead-lettered', reason: 'poison' });
  });

  it("classify 'drop' acks the message and reports it; a classifier that throws means retry", async () => {
    const o = options({ classify: () => 'drop' });
    const dropped = fakeMsg();
    const error = new Error('stale order');
    expect(await resilientHandler(failing(error), clean(o))(dropped)).toEqual({
      status: 'dropped',
      deliveryCount: 1,
      error,
    });
    expect(dropped.settled()).toEqual(['ack']);
    expect(o.events).toEqual([expect.objectContaining({ type: 'message-dropped', error })]);

    const throwing = options({
      classify: () => {
        throw new Error('classifier bug');
      },
    });
    const kept = fakeMsg();
    expect(await resilientHandler(failing(), clean(throwing))(kept)).toMatchObject({
      status: 'retry',
      reason: 'handler-failed',
    });
    expect(kept.settled()).toEqual([{ nak: 100 }]);
  });

  it('when the copy cannot be stored, naks with a delay and terminates nothing', async () => {
    const down = Object.assign(new Error('no responders'), { name: 'NoRespondersError' });
    const { publisher } = fakePublisher(() => Promise.reject(down));
    const o = options({ publisher });
    const msg = fakeMsg({ deliveryCount: 3 });
    const poison = parseError();
    const outcome = await resilientHandler(failing(poison), clean(o))(msg);
    expect(outcome).toEqual({
      status: 'retry',
      deliveryCount: 3,
      reason: 'dead-letter-failed',
      delayMs: 400,
      error: poison,
      deadLetterError: down,
    });
    expect(msg.settled()).toEqual([{ nak: 400 }]);
    expect(o.events).toEqual([
      expect.objectContaining({ type: 'message-retry', reason: 'dead-letter-failed', deadLetterError: down }),
    ]);
  });

  it('takes the dead-letter subject from the option; a function returning no subject keeps the message', async () => {
    const fixed = options({ deadLetterSubject: 'dlq.all' });
    await resilientHandler(failing(parseError()), clean(fixed))(fakeMsg());
    expect(fixed.calls[0]?.subject).toBe('dlq.all');
    const routed = options({ deadLetterSubject: (msg) => `dlq.${msg.info.consumer}.${msg.subject}` });
    await resilientHandler(failing(parseError()), clean(routed))(fakeMsg());
    expect(routed.calls[0]?.subject).toBe('dlq.shipping.orders.created');
    const broken = options({ deadLetterSubject: () => '' });
    const msg = fakeMsg();
    expect(await resilientHandler(failing(parseError()), clean(broken))(msg)).toMatchObject({
      status: 'retry',
      reason: 'dead-letter-failed',
    });
    expect(broken.calls).toEqual([]);
    expect(msg.settled()).toEqual([{ nak: 100 }]);
  });

  it('a copy carries the error on one line, shortened, and no Nats-* header of the original', async () => {
    const o = options();
    const long = new Error(`line one\r\nline two ${'x'.repeat(2_000)}`);
    const msg = fakeMsg({
      deliveryCount: 5,
      headers: new FakeHeaders({
        'Nats-Msg-Id': 'o-9',
        'Nats-Expected-Last-Sequence': '3',
        'Breakwater-Reason': 'old',
        'X-Tenant': ['a', 'b'],
      }),
    });
    await resilientHandler(failing(Object.assign(long, { code: 'E_CARRIER' })), clean(o))(msg);
    const headers = headersOf(o.calls[0]).toObject();
    const message = headers[DeadLetterHeaders.errorMessage]?.[0] ?? '';
    expect(message.startsWith('line one line two xxx')).toBe(true);
    expect(message.length).toBeLessThanOrEqual(1_000);
    expect(headers[DeadLetterHeaders.errorCode]).toEqual(['E_CARRIER']);
    expect(headers['X-Tenant']).toEqual(['a', 'b']);
    expect(Object.keys(headers).filter((k) => /^nats-/i.test(k))).toEqual([]);
    expect(headers['Breakwater-Reason']).toBeUndefined();
  });

  describe('working() heartbeat', () => {
    it('calls working() every half of ackWait while the handler runs, through the dead-letter publish, and leaves no timer', async () => {
      const clock = new ManualClock();
      const gate = deferred();
      const stored = deferred<PubAck>();
      const { publisher } = fakePublisher(() => stored.promise);
      const o = options({ clock, ackWait: 1_000, publisher });
      const handle = resilientHandler(async () => {
        await gate.promise;
        throw parseError();
      }, clean(o));
      const msg = fakeMsg();
      const pending = handle(msg);
      await clock.advance(2_400);
      expect(msg.workings()).toBe(4); // at 500, 1 000, 1 500, 2 000
      gate.resolve();
      await clock.advance(1_000); // the dead-letter publish is in flight: still working
      expect(msg.workings()).toBe(6);
      stored.resolve({ stream: 'DLQ', seq: 1, duplicate: false });
      await pending;
      expect(msg.log.at(-1)).toBe('term');
      expect(clock.pending).toBe(0);
      await clock.advance(10_000);
      expect(msg.workings()).toBe(6);
    });

    it("reads the consumer's ack_wait from the server once, through the publisher's client", async () => {
      const { jetStreamPublisher } = await import('../../src/nats/index.js');
      const asked: string[] = [];
      const js = {
        publish: async () => ({ stream: 'DLQ', seq: 1, duplicate: false }),
        getOptions: () => ({ timeout: 1_000 }),
        jetstreamManager: async () => ({
          streams: {
            info: async () => ({ config: { name: 'DLQ', subjects: ['dlq.>'] } }),
            names: async function* () {},
          },
          consumers: {
            info: async (stream: string, consumer: string) => {
              asked.push(`${stream}/${consumer}`);
              return { config: { ack_wait: 800 * 1_000_000 } };
            },
          },
        }),
      };
      const clock = new ManualClock();
      const o = options({ clock, publisher: jetStreamPublisher(js, policy()) });
      const { ackWait: _unset, ...rest } = clean(o);
      const gates = [deferred(), deferred()];
      let n = 0;
      const handle = resilientHandler(() => gates[n++]?.promise, rest);
      const first = fakeMsg();
      const running = handle(first);
      await clock.advance(1_000);
      expect(first.workings()).toBe(2); // every 400 ms
      gates[0]?.resolve();
      await running;
      const second = fakeMsg({ seq: 8 });
      const again = handle(second);
      await clock.advance(450);
      expect(second.workings()).toBe(1);
      gates[1]?.resolve();
      await again;
      expect(asked).toEqual(['ORDERS/shipping']);
      expect(clock.pending).toBe(0);
    });

    it('when the ack wait is learned late, sends working() at once if half of it has passed, then on time', async () => {
      const { jetStreamPublisher } = await import('../../src/nats/index.js');
      const answer = deferred<{ config: { ack_wait: number } }>();
      const js = {
        publish: async () => ({ stream: 'DLQ', seq: 1, duplicate: false }),
        getOptions: () => ({ timeout: 1_000 }),
        jetstreamManager: async () => ({
          streams: { info: async () => ({ config: { name: 'DLQ' } }), names: async function* () {} },
          consumers: { info: () => answer.promise },
        }),
      };
      const clock = new ManualClock();
      const { ackWait: _unset, ...rest } = clean(
        options({ clock, publisher: jetStreamPublisher(js, policy()) }),
      );
      const gate = deferred();
      const msg = fakeMsg();
      const running = resilientHandler(() => gate.promise, rest)(msg);
      await clock.advance(700); // the server has not answered yet: no heartbeat can be timed
      expect(msg.workings()).toBe(0);
      answer.resolve({ config: { ack_wait: 800 * 1_000_000 } });
      await clock.advance(0);
      expect(msg.workings()).toBe(1); // 700 ms had passed, more than half of 800: at once
      await clock.advance(400);
      expect(msg.workings()).toBe(2);
      gate.resolve();
      await running;
      expect(clock.pending).toBe(0);
    });
  });
});
