/**
 * resilientHandler's decisions over stand-in messages and a recording publisher: what is
 * acked, nak'ed (with which delay), dead-lettered (with which copy) or terminated, and in
 * which order; the working() heartbeat on a manual clock; the breaker and the composition
 * with idempotentHandler. The real server's side is in test/integration/nats.
 */
import { describe, expect, it } from 'vitest';
import { backoff, bulkhead, circuitBreaker, policy } from '../../src/index.js';
import {
  DeadLetterHeaders,
  type IdempotencyStore,
  idempotentHandler,
  type MessageEvent,
  memoryStore,
  type PubAck,
  type ResilientHandlerOptions,
  resilientHandler,
} from '../../src/nats/index.js';
import { flush, ManualClock } from '../support/clock.js';
import { deferred } from '../support/events.js';
import {
  FakeHeaders,
  type FakeMsg,
  fakeMsg,
  fakePublisher,
  type PublishCall,
  parseError,
} from './consumer-fakes.js';

/** Exact delays: 100, 200, 400, ... capped at 1 000. */
const steps = backoff.exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'none' });

function options(extra: Partial<ResilientHandlerOptions<FakeMsg>> = {}): ResilientHandlerOptions<FakeMsg> & {
  events: MessageEvent[];
  calls: ReturnType<typeof fakePublisher>['calls'];
} {
  const { publisher, calls } = fakePublisher();
  const events: MessageEvent[] = [];
  return {
    publisher,
    headers: () => new FakeHeaders(),
    backoff: steps,
    ackWait: 30_000,
    clock: new ManualClock(),
    onEvent: (event) => events.push(event),
    ...extra,
    events,
    calls,
  };
}

/** The options object without the test's own fields (unknown keys are refused). */
function clean<T extends { events?: unknown; calls?: unknown }>(o: T): Omit<T, 'events' | 'calls'> {
  const { events: _e, calls: _c, ...rest } = o;
  return rest;
}

/** The headers a dead-letter copy was published with. */
function headersOf(call: PublishCall | undefined): FakeHeaders {
  const headers = call?.options?.headers;
  if (!(headers instanceof FakeHeaders)) throw new Error('the copy was published without headers');
  return headers;
}

const failing =
  (error: unknown = new Error('carrier unavailable')) =>
  (): never => {
    throw error;
  };

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
  });

  describe('with a policy', () => {
    it('naks with the time the breaker stays open, without calling the handler', async () => {
      const clock = new ManualClock();
      const breaker = circuitBreaker({
        clock,
        initialState: { state: 'open', openUntil: clock.now() + 4_321 },
      });
      const o = options({ clock, policy: policy({ clock, circuitBreaker: breaker }) });
      let calls = 0;
      const handle = resilientHandler(() => {
        calls++;
      }, clean(o));
      const msg = fakeMsg({ deliveryCount: 9 });
      expect(await handle(msg)).toEqual({
        status: 'retry',
        deliveryCount: 9,
        reason: 'circuit-open',
        delayMs: 4_321,
      });
      expect(msg.settled()).toEqual([{ nak: 4_321 }]);
      expect(calls).toBe(0);
      // Past the open period the handler runs again (a probe), and its success closes the breaker.
      clock.set(clock.now() + 4_321);
      expect(await handle(fakeMsg({ deliveryCount: 10 }))).toMatchObject({ status: 'handled' });
      expect(calls).toBe(1);
      expect(breaker.state).toBe('closed');
    });

    it("records the handler's outcomes: failures open the breaker, and the next message is held back", async () => {
      const clock = new ManualClock();
      const breaker = circuitBreaker({ clock, consecutiveFailures: 2, openDuration: 5_000 });
      const o = options({ clock, policy: policy({ clock, circuitBreaker: breaker }) });
      let calls = 0;
      const handle = resilientHandler(() => {
        calls++;
        throw new Error('carrier unavailable');
      }, clean(o));
      await handle(fakeMsg());
      await handle(fakeMsg());
      expect(breaker.state).toBe('open');
      const held = fakeMsg({ deliveryCount: 5 }); // the last allowed delivery: still not dead-lettered
      expect(await handle(held)).toMatchObject({ status: 'retry', reason: 'circuit-open', delayMs: 5_000 });
      expect(calls).toBe(2);
      expect(o.calls).toEqual([]);
    });

    it('an isolated breaker naks with the backoff maxDelay; a half-open one with its probe busy, briefly', async () => {
      const clock = new ManualClock();
      const isolated = circuitBreaker({ clock });
      isolated.isolate();
      const o = options({ clock, policy: policy({ clock, circuitBreaker: isolated }) });
      expect(await resilientHandler(() => 0, clean(o))(fakeMsg())).toMatchObject({
        reason: 'circuit-open',
        delayMs: 1_000,
      });

      const half = circuitBreaker({ clock, initialState: { state: 'half-open' } });
      const probe = deferred();
      const p = options({
        clock,
        policy: policy({ clock, circuitBreaker: half }),
        backoff: backoff.constant({ delay: 50, maxDelay: 5_000 }),
      });
      const handle = resilientHandler(() => probe.promise, clean(p));
      const probing = handle(fakeMsg());
      await flush();
      expect(await handle(fakeMsg({ seq: 8 }))).toMatchObject({ reason: 'circuit-open', delayMs: 1_000 });
      probe.resolve();
      expect(await probing).toMatchObject({ status: 'handled' });
    });

    it('runs the handler once per delivery (the policy does not retry it), with its signal', async () => {
      const clock = new ManualClock();
      const o = options({
        clock,
        policy: policy({ clock, retry: { maxAttempts: 5 }, attemptTimeout: 1_000 }),
      });
      const signals: AbortSignal[] = [];
      const handle = resilientHandler((_msg, context) => {
        signals.push(context.signal);
        throw new Error('down');
      }, clean(o));
      expect(await handle(fakeMsg())).toMatchObject({ status: 'retry', reason: 'handler-failed' });
      expect(signals).toHaveLength(1);
      expect(signals[0]?.aborted).toBe(false);
    });

    it('a full bulkhead naks with the backoff delay without calling the handler or dead-lettering', async () => {
      const clock = new ManualClock();
      const gate = deferred();
      const o = options({ clock, policy: policy({ clock, bulkhead: bulkhead({ maxConcurrent: 1 }) }) });
      const handle = resilientHandler(() => gate.promise, clean(o));
      const first = handle(fakeMsg());
      await flush();
      const second = fakeMsg({ deliveryCount: 5 });
      expect(await handle(second)).toMatchObject({
        status: 'retry',
        reason: 'bulkhead-full',
        delayMs: 1_000,
      });
      gate.resolve();
      await first;
      expect(o.calls).toEqual([]);
    });
  });

  describe('composed with idempotentHandler', () => {
    const keyed = (id: string, extra: Parameters<typeof fakeMsg>[0] = {}): FakeMsg =>
      fakeMsg({ headers: new FakeHeaders({ 'Nats-Msg-Id': id }), ...extra });

    it('handles each key once, acks copies, and dead-letters a poison one after releasing its claim', async () => {
      const store = memoryStore();
      const runs: string[] = [];
      const o = options();
      const handle = resilientHandler(
        idempotentHandler(
          (msg: FakeMsg, { key }) => {
            runs.push(key);
            return JSON.parse(new TextDecoder().decode(msg.data));
          },
          { store },
        ),
        clean(o),
      );
      const first = keyed('o-1');
      expect(await handle(first)).toEqual({
        status: 'handled',
        deliveryCount: 1,
        key: 'o-1',
        recorded: true,
      });
      const copy = keyed('o-1', { seq: 8 });
      expect(await handle(copy)).toEqual({ status: 'duplicate', deliveryCount: 1, key: 'o-1' });
      expect([first.settled(), copy.settled()]).toEqual([['ack'], ['ack']]);
      const poison = keyed('o-2', { data: 'garbage', seq: 9 });
      expect(await handle(poison)).toMatchObject({ status: 'dead-lettered', reason: 'poison' });
      expect(poison.settled()).toEqual(['term']);
      expect(runs).toEqual(['o-1', 'o-2']);
      // The poison key was released, not recorded as done: a fixed copy is handled.
      expect((await store.claim('o-2', 1_000)).status).toBe('claimed');
    });

    it('a key busy on another consumer is nak-ed with its delay, never dead-lettered', async () => {
      const store = memoryStore();
      await store.claim('o-3', 10_000);
      const o = options({ maxDeliveries: 1 });
      const handle = resilientHandler(
        idempotentHandler(() => undefined, { store, busyDelay: 700 }),
        clean(o),
      );
      const msg = keyed('o-3', { deliveryCount: 3 });
      expect(await handle(msg)).toEqual({
        status: 'retry',
        deliveryCount: 3,
        reason: 'busy',
        delayMs: 700,
        key: 'o-3',
      });
      expect(msg.settled()).toEqual([{ nak: 700 }]);
    });

    it('a store that cannot be asked naks with backoff and never dead-letters', async () => {
      const down = new TypeError('store client misconfigured');
      const inner = memoryStore();
      const store: IdempotencyStore = {
        claim: () => Promise.reject(down),
        renew: (token, ttl) => inner.renew(token, ttl),
        complete: (token) => inner.complete(token),
        release: (token) => inner.release(token),
      };
      const o = options({ maxDeliveries: 1 });
      const msg = keyed('o-4', { deliveryCount: 1 });
      const outcome = await resilientHandler(
        idempotentHandler(() => undefined, { store }),
        clean(o),
      )(msg);
      expect(outcome).toEqual({
        status: 'retry',
        deliveryCount: 1,
        reason: 'store-failed',
        delayMs: 100,
        error: down,
        key: 'o-4',
      });
      expect(o.calls).toEqual([]);
    });

    it('an open breaker holds the message back before the key is claimed', async () => {
      const clock = new ManualClock();
      let claims = 0;
      const inner = memoryStore();
      const store: IdempotencyStore = {
        claim: (key, ttl) => {
          claims++;
          return inner.claim(key, ttl);
        },
        renew: (token, ttl) => inner.renew(token, ttl),
        complete: (token) => inner.complete(token),
        release: (token) => inner.release(token),
      };
      const breaker = circuitBreaker({
        clock,
        initialState: { state: 'open', openUntil: clock.now() + 2_000 },
      });
      const o = options({ clock, policy: policy({ clock, circuitBreaker: breaker }) });
      const handle = resilientHandler(
        idempotentHandler(() => undefined, { store }),
        clean(o),
      );
      expect(await handle(keyed('o-5'))).toMatchObject({
        status: 'retry',
        reason: 'circuit-open',
        delayMs: 2_000,
      });
      expect(claims).toBe(0);
    });

    it('a handler the attempt timeout gave up on keeps its claim until it ends, so a redelivery is not run alongside', async () => {
      const clock = new ManualClock();
      const store = memoryStore({ clock });
      const late = deferred();
      let runs = 0;
      const o = options({ clock, policy: policy({ clock, attemptTimeout: 1_000 }) });
      const handle = resilientHandler(
        idempotentHandler(
          () => {
            runs++;
            return late.promise; // ignores its signal
          },
          { store, clock, claimTtl: 3_000 },
        ),
        clean(o),
      );
      const first = handle(keyed('o-6'));
      await clock.advance(1_000);
      expect(await first).toMatchObject({ status: 'retry', reason: 'handler-failed' });
      const redelivered = keyed('o-6', { deliveryCount: 2 });
      expect(await handle(redelivered)).toMatchObject({ status: 'retry', reason: 'busy' });
      await clock.advance(5_000); // renewed meanwhile: still busy
      expect(await handle(keyed('o-6', { deliveryCount: 3 }))).toMatchObject({ reason: 'busy' });
      late.resolve();
      await flush();
      expect(await handle(keyed('o-6', { deliveryCount: 4 }))).toMatchObject({ status: 'duplicate' });
      expect(runs).toBe(1);
      expect(clock.pending).toBe(0);
    });
  });
});
