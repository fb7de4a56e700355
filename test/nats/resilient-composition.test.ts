/**
 * resilientHandler with a policy (its breaker, bulkhead and attempt timeout) and composed
 * with idempotentHandler, over stand-in messages and a recording publisher.
 */
import { describe, expect, it } from 'vitest';
import { backoff, bulkhead, circuitBreaker, policy } from '../../src/index.js';
import {
  type IdempotencyStore,
  idempotentHandler,
  memoryStore,
  resilientHandler,
} from '../../src/nats/index.js';
import { flush, ManualClock } from '../support/clock.js';
import { deferred } from '../support/events.js';
import { clean, FakeHeaders, type FakeMsg, fakeMsg, options } from './consumer-fakes.js';

describe('resilientHandler', () => {
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
