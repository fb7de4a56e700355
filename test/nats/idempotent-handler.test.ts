import { describe, expect, it } from 'vitest';
import type { IdempotencyStore, JsMsgLike } from '../../src/nats/index.js';
import { idempotentHandler, memoryStore } from '../../src/nats/index.js';
import { flush, ManualClock } from '../support/clock.js';

interface FakeMsg extends JsMsgLike {
  acks: number;
  naks: (number | undefined)[];
}

function msg(id: string | undefined, seq = 1, deliveryCount = 1): FakeMsg {
  return {
    seq,
    headers: id === undefined ? undefined : { get: (name: string) => (name === 'Nats-Msg-Id' ? id : '') },
    info: { stream: 'ORDERS', deliveryCount },
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

/** A store whose methods can be made to fail, over a real memory store. */
function faulty(
  inner: IdempotencyStore,
  fail: Partial<Record<keyof IdempotencyStore, Error>>,
): IdempotencyStore {
  return {
    claim: (key, ttl) => (fail.claim ? Promise.reject(fail.claim) : inner.claim(key, ttl)),
    renew: (token, ttl) => (fail.renew ? Promise.reject(fail.renew) : inner.renew(token, ttl)),
    complete: (token) => (fail.complete ? Promise.reject(fail.complete) : inner.complete(token)),
    release: (token) => (fail.release ? Promise.reject(fail.release) : inner.release(token)),
  };
}

describe('idempotentHandler', () => {
  it('runs the handler once per key, acks every copy', async () => {
    const seen: string[] = [];
    const handle = idempotentHandler(
      (_m, context) => {
        seen.push(context.key);
      },
      { store: memoryStore() },
    );
    const first = msg('order-1');
    const copy = msg('order-1', 2);
    expect(await handle(first)).toEqual({ status: 'handled', key: 'order-1', recorded: true });
    expect(await handle(copy)).toEqual({ status: 'duplicate', key: 'order-1' });
    expect(seen).toEqual(['order-1']);
    expect([first.acks, copy.acks]).toEqual([1, 1]);
    expect([first.naks, copy.naks]).toEqual([[], []]);
  });

  it('on failure releases the claim and naks, so the redelivery runs it again', async () => {
    let runs = 0;
    const handle = idempotentHandler(
      () => {
        runs++;
        if (runs === 1) throw new Error('boom');
      },
      { store: memoryStore() },
    );
    const first = msg('order-2');
    const outcome = await handle(first);
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && (outcome.error as Error).message).toBe('boom');
    expect(first.naks).toEqual([undefined]);
    expect(first.acks).toBe(0);
    const redelivery = msg('order-2', 1, 2);
    expect((await handle(redelivery)).status).toBe('handled');
    expect(runs).toBe(2);
    expect(redelivery.acks).toBe(1);
  });

  it('naks after a failure with the configured delay, or one computed from the delivery count', async () => {
    const fixed = idempotentHandler(
      () => {
        throw new Error('x');
      },
      { store: memoryStore(), nakDelay: 250 },
    );
    const a = msg('a');
    await fixed(a);
    expect(a.naks).toEqual([250]);
    const growing = idempotentHandler(
      () => {
        throw new Error('x');
      },
      { store: memoryStore(), nakDelay: (count) => count * 1_000 },
    );
    const b = msg('b', 1, 3);
    await growing(b);
    expect(b.naks).toEqual([3_000]);
  });

  it('a key held by another consumer is nak-ed with a delay, the handler not run', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    await store.claim('order-3', 5_000); // another consumer holds it
    let runs = 0;
    const handle = idempotentHandler(
      () => {
        runs++;
      },
      { store, busyDelay: 1_000 },
    );
    const copy = msg('order-3');
    expect(await handle(copy)).toEqual({ status: 'busy', key: 'order-3', retryAfterMs: 1_000 });
    await clock.advance(4_700);
    const later = msg('order-3');
    expect(await handle(later)).toEqual({ status: 'busy', key: 'order-3', retryAfterMs: 300 });
    expect([copy.naks, later.naks]).toEqual([[1_000], [300]]);
    expect(runs).toBe(0);
  });

  it('keys by the Nats-Msg-Id header, else by stream and sequence, or by the key option', async () => {
    const keys: string[] = [];
    const record = (_m: JsMsgLike, context: { key: string }): void => {
      keys.push(context.key);
    };
    const byDefault = idempotentHandler(record, { store: memoryStore() });
    await byDefault(msg('id-1'));
    await byDefault(msg(undefined, 42));
    await byDefault(msg('', 43));
    const custom = idempotentHandler(record, {
      store: memoryStore(),
      key: (m) => (m.seq === 7 ? 'custom-7' : undefined),
    });
    await custom(msg('id-2', 7));
    await custom(msg('id-3', 8));
    expect(keys).toEqual(['id-1', 'ORDERS.42', 'ORDERS.43', 'custom-7', 'id-3']);
  });

  it('renews the claim every third of its TTL while the handler runs, and leaves no timer behind', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    let finish!: () => void;
    const handle = idempotentHandler(
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
      { store, claimTtl: 3_000, clock },
    );
    const running = handle(msg('order-4'));
    await flush();
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_000);
      // Another consumer asking now still finds it held: the claim never lapses.
      expect((await store.claim('order-4', 3_000)).status).toBe('busy');
    }
    finish();
    expect(await running).toEqual({ status: 'handled', key: 'order-4', recorded: true });
    expect(clock.pending).toBe(0);
  });

  it('aborts the handler signal when the claim was lost', async () => {
    const clock = new ManualClock();
    const inner = memoryStore({ clock });
    let lost = false;
    const store: IdempotencyStore = {
      claim: (key, ttl) => inner.claim(key, ttl),
      renew: (token, ttl) => (lost ? Promise.resolve(false) : inner.renew(token, ttl)),
      complete: (token) => inner.complete(token),
      release: (token) => inner.release(token),
    };
    let signal: AbortSignal | undefined;
    const handle = idempotentHandler(
      (_m, context) => {
        signal = context.signal;
        return new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      },
      { store, claimTtl: 3_000, clock },
    );
    const running = handle(msg('order-5'));
    await clock.advance(1_000);
    expect(signal?.aborted).toBe(false);
    lost = true;
    await clock.advance(1_000);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ name: 'ClaimLostError' });
    await running;
    expect(clock.pending).toBe(0);
  });

  it('when the store cannot claim, naks without running the handler', async () => {
    let runs = 0;
    const down = new Error('store unreachable');
    const handle = idempotentHandler(
      () => {
        runs++;
      },
      { store: faulty(memoryStore(), { claim: down }) },
    );
    const m = msg('order-6');
    expect(await handle(m)).toEqual({ status: 'failed', key: 'order-6', error: down });
    expect(m.naks).toEqual([undefined]);
    expect(runs).toBe(0);
  });

  it('acks a handled message even when recording it fails, and says so', async () => {
    const down = new Error('store unreachable');
    const handle = idempotentHandler(() => undefined, { store: faulty(memoryStore(), { complete: down }) });
    const m = msg('order-7');
    expect(await handle(m)).toEqual({ status: 'handled', key: 'order-7', recorded: false, error: down });
    expect(m.acks).toBe(1);
  });

  it('still naks a failed message when releasing the claim fails', async () => {
    const handle = idempotentHandler(
      () => {
        throw new Error('boom');
      },
      { store: faulty(memoryStore(), { release: new Error('store unreachable') }) },
    );
    const m = msg('order-8');
    expect((await handle(m)).status).toBe('failed');
    expect(m.naks).toEqual([undefined]);
  });

  it('rejects bad options at construction, naming the option and the range', () => {
    const store = memoryStore();
    expect(() => idempotentHandler(undefined as never, { store })).toThrow(/handler must be a function/);
    expect(() => idempotentHandler(() => 0, {} as never)).toThrow(/store must be an idempotency store/);
    expect(() => idempotentHandler(() => 0, { store, claimTtl: 0 })).toThrow(
      /claimTtl must be a number from 3 to 2147483647/,
    );
    expect(() => idempotentHandler(() => 0, { store, busyDelay: -1 })).toThrow(
      /busyDelay must be a number from 0/,
    );
    expect(() => idempotentHandler(() => 0, { store, nakDelay: -5 })).toThrow(
      /nakDelay must be a number from 0/,
    );
    expect(() => idempotentHandler(() => 0, { store, key: 'id' as never })).toThrow(/key must be a function/);
    expect(() => idempotentHandler(() => 0, { store, ttl: 1 } as never)).toThrow(/unknown option "ttl"/);
  });
});
