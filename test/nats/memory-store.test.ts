import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../src/index.js';
import type { ClaimResult, ClaimToken } from '../../src/nats/index.js';
import { memoryStore } from '../../src/nats/index.js';
import { ManualClock } from '../support/clock.js';

function tokenOf(result: ClaimResult): ClaimToken {
  if (result.status !== 'claimed') throw new Error(`expected a claim, got ${result.status}`);
  return result.token;
}

describe('memoryStore', () => {
  it('claims a key once; others see it busy, then done', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    const first = await store.claim('k', 1_000);
    expect(first).toMatchObject({ status: 'claimed', takenOver: false });
    await clock.advance(400);
    expect(await store.claim('k', 1_000)).toEqual({ status: 'busy', retryAfterMs: 600 });
    expect(await store.complete(tokenOf(first))).toBe(true);
    expect(await store.claim('k', 1_000)).toEqual({ status: 'done' });
  });

  it('a released key can be claimed again', async () => {
    const store = memoryStore({ clock: new ManualClock() });
    const first = tokenOf(await store.claim('k', 1_000));
    await store.release(first);
    expect(await store.claim('k', 1_000)).toMatchObject({ status: 'claimed', takenOver: false });
  });

  it('an expired claim is taken over, and its old token loses', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    const crashed = tokenOf(await store.claim('k', 1_000));
    await clock.advance(1_000);
    const next = await store.claim('k', 1_000);
    expect(next).toMatchObject({ status: 'claimed', takenOver: true });
    expect(await store.renew(crashed, 1_000)).toBe(false);
    await store.release(crashed); // a no-op: not its claim any more
    expect(await store.claim('k', 1_000)).toMatchObject({ status: 'busy' });
    // The late finisher still records the work as done, and learns it had lost the claim.
    expect(await store.complete(crashed)).toBe(false);
    expect(await store.claim('k', 1_000)).toEqual({ status: 'done' });
  });

  it('renewing keeps a claim alive past its first TTL', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    const token = tokenOf(await store.claim('k', 1_000));
    for (let i = 0; i < 5; i++) {
      await clock.advance(600);
      expect(await store.renew(token, 1_000)).toBe(true);
      expect((await store.claim('k', 1_000)).status).toBe('busy');
    }
  });

  it('forgets done keys after the retention', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock, retention: 10_000 });
    await store.complete(tokenOf(await store.claim('k', 1_000)));
    await clock.advance(9_999);
    expect(await store.claim('k', 1_000)).toEqual({ status: 'done' });
    await clock.advance(1);
    expect(await store.claim('k', 1_000)).toMatchObject({ status: 'claimed', takenOver: false });
  });

  it('stays within maxKeys, evicting done keys before live claims', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock, maxKeys: 3 });
    const live = tokenOf(await store.claim('live', 60_000));
    await store.complete(tokenOf(await store.claim('a', 60_000)));
    await store.complete(tokenOf(await store.claim('b', 60_000)));
    await store.claim('c', 60_000);
    expect(store.size).toBe(3);
    // 'live' is the oldest entry but a live claim: the oldest done key ('a') went instead.
    expect((await store.claim('live', 60_000)).status).toBe('busy');
    expect((await store.claim('a', 60_000)).status).toBe('claimed');
    expect(store.size).toBe(3);
    expect(await store.renew(live, 60_000)).toBe(true);
  });

  it('drops expired entries as new keys arrive', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock, retention: 100 });
    for (let i = 0; i < 5; i++) await store.complete(tokenOf(await store.claim(`k${i}`, 100)));
    expect(store.size).toBe(5);
    await clock.advance(100);
    await store.claim('fresh', 100);
    expect(store.size).toBe(1);
  });

  it('rejects bad options with the option name and range', () => {
    expect(() => memoryStore({ maxKeys: 0 })).toThrow(InvalidOptionsError);
    expect(() => memoryStore({ maxKeys: 0 })).toThrow(/memoryStore.maxKeys must be an integer from 1 to/);
    expect(() => memoryStore({ retention: -1 })).toThrow(/memoryStore.retention must be a number above 0/);
    expect(() => memoryStore({ ttl: 5 } as never)).toThrow(/unknown option "ttl"/);
  });
});
