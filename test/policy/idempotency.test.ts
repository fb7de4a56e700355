/** Rules of idempotency keys. */
import { describe, expect, it, vi } from 'vitest';
import { backoff, newIdempotencyKey, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function keysOf(
  p: ReturnType<typeof policy>,
  clock: ManualClock,
  key?: string,
): Promise<(string | undefined)[]> {
  const keys: (string | undefined)[] = [];
  await clock.settle(
    p.execute(
      async (ctx) => {
        keys.push(ctx.idempotencyKey);
        throw new Error('x');
      },
      key === undefined ? undefined : { idempotencyKey: key },
    ),
  );
  return keys;
}

describe('idempotency key', () => {
  it('is identical across the attempts of one operation', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, idempotency: true, retry: { maxAttempts: 4, backoff: backoff.constant(1) } });
    const keys = await keysOf(p, clock);
    expect(keys).toHaveLength(4);
    expect(keys[0]).toMatch(UUID);
    expect(new Set(keys).size).toBe(1);
  });

  it('differs between operations', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, idempotency: true, retry: { maxAttempts: 2, backoff: backoff.constant(1) } });
    const a = await keysOf(p, clock);
    const b = await keysOf(p, clock);
    expect(a[0]).not.toBe(b[0]);
  });

  it("the caller's own key wins, even over a generator", async () => {
    const clock = new ManualClock();
    const generate = vi.fn(() => 'generated');
    const p = policy({
      clock,
      idempotency: { generate },
      retry: { maxAttempts: 3, backoff: backoff.constant(1) },
    });
    expect(await keysOf(p, clock, 'order-42')).toEqual(['order-42', 'order-42', 'order-42']);
    expect(generate).not.toHaveBeenCalled();
    const off = policy({ clock, retry: { maxAttempts: 2, backoff: backoff.constant(1) } });
    expect(await keysOf(off, clock, 'order-43')).toEqual(['order-43', 'order-43']);
  });

  it('is undefined when idempotency is off', async () => {
    const clock = new ManualClock();
    for (const idempotency of [undefined, false] as const) {
      const p = policy({
        clock,
        ...(idempotency === undefined ? {} : { idempotency }),
        retry: { maxAttempts: 2, backoff: backoff.constant(1) },
      });
      expect(await keysOf(p, clock)).toEqual([undefined, undefined]);
    }
  });

  it('a custom generator is called once per operation, however often the key is read', async () => {
    const clock = new ManualClock();
    let n = 0;
    const p = policy({
      clock,
      idempotency: { generate: () => `key-${++n}` },
      retry: { maxAttempts: 3, backoff: backoff.constant(1) },
    });
    const seen: (string | undefined)[] = [];
    await clock.settle(
      p.execute(async (ctx) => {
        seen.push(ctx.idempotencyKey, ctx.idempotencyKey);
        throw new Error('x');
      }),
    );
    expect(seen).toEqual(Array(6).fill('key-1'));
    expect(n).toBe(1);
  });

  it('newIdempotencyKey makes random v4 UUIDs', () => {
    const keys = new Set(Array.from({ length: 1_000 }, () => newIdempotencyKey()));
    expect(keys.size).toBe(1_000);
    for (const key of keys) expect(key).toMatch(UUID);
  });
});
