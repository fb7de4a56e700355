/**
 * The KV store's decisions (claim, busy, stale takeover, revision checks) over a small
 * in-memory bucket with JetStream's revision semantics, so the timing of staleness can be
 * driven exactly. test/integration/nats/consumer.test.ts runs the same store on real
 * buckets of nats-server with both clients.
 */
import { describe, expect, it } from 'vitest';
import type { ClaimResult, ClaimToken, KvEntryLike, KvLike } from '../../src/nats/index.js';
import { kvStore } from '../../src/nats/index.js';
import { storedKey } from '../../src/nats/stores/kv.js';

/** What the clients throw when a revision check fails (v3 shape; v2's has api_error). */
function wrongLastSequence(): Error {
  const error = new Error('wrong last sequence') as Error & { api_error: unknown };
  error.name = 'NatsError';
  error.api_error = { code: 400, err_code: 10071, description: 'wrong last sequence: 1' };
  return error;
}

/** One revision counter for the bucket, like a stream's sequence; deletes leave a marker. */
class Bucket implements KvLike {
  seq = 0;
  readonly entries = new Map<string, KvEntryLike>();
  readonly keys: string[] = [];

  async create(key: string, value: Uint8Array): Promise<number> {
    const last = this.entries.get(key);
    if (last !== undefined && last.operation === 'PUT') throw wrongLastSequence();
    return this.#write(key, value, 'PUT');
  }
  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (this.entries.get(key)?.revision !== revision) throw wrongLastSequence();
    return this.#write(key, value, 'PUT');
  }
  async get(key: string): Promise<KvEntryLike | null> {
    return this.entries.get(key) ?? null;
  }
  async delete(key: string, options?: { previousSeq: number }): Promise<void> {
    if (options !== undefined && this.entries.get(key)?.revision !== options.previousSeq)
      throw wrongLastSequence();
    this.#write(key, new Uint8Array(), 'DEL');
  }
  value(key: string): unknown {
    const entry = this.entries.get(key);
    return entry === undefined || entry.operation !== 'PUT'
      ? undefined
      : JSON.parse(new TextDecoder().decode(entry.value));
  }
  #write(key: string, value: Uint8Array, operation: KvEntryLike['operation']): number {
    this.keys.push(key);
    const revision = ++this.seq;
    this.entries.set(key, { value, revision, operation });
    return revision;
  }
}

function tokenOf(result: ClaimResult): ClaimToken {
  if (result.status !== 'claimed') throw new Error(`expected a claim, got ${result.status}`);
  return result.token;
}

describe('kvStore', () => {
  it('claims with create; a second consumer sees busy; done after complete', async () => {
    const bucket = new Bucket();
    let now = 0;
    const a = kvStore(bucket, { owner: 'a', now: () => now });
    const b = kvStore(bucket, { owner: 'b', now: () => now });
    const claim = await a.claim('order-1', 1_000);
    expect(claim).toMatchObject({ status: 'claimed', takenOver: false });
    expect(bucket.value('order-1')).toMatchObject({ s: 'claimed', owner: 'a', ttl: 1_000 });
    expect(await b.claim('order-1', 1_000)).toEqual({ status: 'busy', retryAfterMs: 1_000 });
    now = 400;
    expect(await b.claim('order-1', 1_000)).toEqual({ status: 'busy', retryAfterMs: 600 });
    expect(await a.complete(tokenOf(claim))).toBe(true);
    expect(bucket.value('order-1')).toMatchObject({ s: 'done', owner: 'a' });
    expect(await b.claim('order-1', 1_000)).toEqual({ status: 'done' });
  });

  it('takes a claim over only after seeing the same revision for a whole TTL', async () => {
    const bucket = new Bucket();
    let now = 0;
    const crashed = kvStore(bucket, { owner: 'crashed' });
    const b = kvStore(bucket, { owner: 'b', now: () => now });
    const stale = tokenOf(await crashed.claim('order-2', 1_000));
    // b first sees the claim at t=5000: however old the claim, b's own clock decides.
    now = 5_000;
    expect((await b.claim('order-2', 1_000)).status).toBe('busy');
    now = 5_999;
    expect((await b.claim('order-2', 1_000)).status).toBe('busy');
    now = 6_000;
    expect(await b.claim('order-2', 1_000)).toMatchObject({ status: 'claimed', takenOver: true });
    expect(bucket.value('order-2')).toMatchObject({ owner: 'b' });
    // The crashed owner's token is void: it cannot renew, release or overwrite.
    expect(await crashed.renew(stale, 1_000)).toBe(false);
    await crashed.release(stale);
    expect(bucket.value('order-2')).toMatchObject({ s: 'claimed', owner: 'b' });
  });

  it('a renewed claim is never taken over', async () => {
    const bucket = new Bucket();
    let now = 0;
    const a = kvStore(bucket, { owner: 'a' });
    const b = kvStore(bucket, { owner: 'b', now: () => now });
    const token = tokenOf(await a.claim('order-3', 1_000));
    for (let i = 0; i < 10; i++) {
      expect((await b.claim('order-3', 1_000)).status).toBe('busy');
      now += 400;
      expect(await a.renew(token, 1_000)).toBe(true); // a new revision: b starts counting again
    }
    now += 999;
    expect((await b.claim('order-3', 1_000)).status).toBe('busy');
  });

  it('release deletes with a revision check, so the key can be claimed again', async () => {
    const bucket = new Bucket();
    const a = kvStore(bucket, { owner: 'a' });
    const b = kvStore(bucket, { owner: 'b' });
    await a.release(tokenOf(await a.claim('order-4', 1_000)));
    expect(bucket.entries.get('order-4')?.operation).toBe('DEL');
    expect(await b.claim('order-4', 1_000)).toMatchObject({ status: 'claimed', takenOver: false });
  });

  it('takes back its own leftover claim at once when no local handler holds it', async () => {
    const bucket = new Bucket();
    const a = kvStore(bucket, { owner: 'a' });
    const token = tokenOf(await a.claim('order-5', 60_000));
    // The handler finished with a failure but the release never reached the bucket.
    const broken = bucket.delete.bind(bucket);
    bucket.delete = () => Promise.reject(new Error('timeout'));
    await expect(a.release(token)).rejects.toThrow('timeout');
    bucket.delete = broken;
    expect(await a.claim('order-5', 60_000)).toMatchObject({ status: 'claimed', takenOver: true });
    // But a key a local handler holds right now is busy, even for the same owner.
    expect((await a.claim('order-5', 60_000)).status).toBe('busy');
  });

  it('a late complete after a takeover still records the key as done', async () => {
    const bucket = new Bucket();
    let now = 0;
    const slow = kvStore(bucket, { owner: 'slow' });
    const b = kvStore(bucket, { owner: 'b', now: () => now });
    const token = tokenOf(await slow.claim('order-6', 1_000));
    await b.claim('order-6', 1_000);
    now = 1_000;
    const taken = tokenOf(await b.claim('order-6', 1_000));
    expect(await slow.complete(token)).toBe(false);
    expect(bucket.value('order-6')).toMatchObject({ s: 'done', owner: 'slow' });
    expect(await b.complete(taken)).toBe(false);
    expect(bucket.value('order-6')).toMatchObject({ s: 'done', owner: 'slow' });
  });

  it('of many consumers racing for a key, exactly one wins', async () => {
    const bucket = new Bucket();
    const stores = Array.from({ length: 20 }, (_, i) => kvStore(bucket, { owner: `c${i}` }));
    const results = await Promise.all(stores.map((s) => s.claim('order-7', 1_000)));
    expect(results.filter((r) => r.status === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'busy')).toHaveLength(19);
  });

  it('passes other bucket errors through', async () => {
    const bucket = new Bucket();
    bucket.create = () => Promise.reject(new Error('no responders'));
    await expect(kvStore(bucket).claim('k', 1_000)).rejects.toThrow('no responders');
  });

  it('stores keys the bucket accepts as they are, and encodes the others without collisions', () => {
    expect(storedKey('order-1')).toBe('order-1');
    expect(storedKey('a.b/c=d_e')).toBe('a.b/c=d_e');
    const odd = ['orders:1', 'with space', '.leading', 'trailing.', 'a..b', 'ünï', '*', '>', '_b64.x', ''];
    const encoded = odd.map(storedKey);
    for (const key of encoded) expect(key).toMatch(/^_b64\.k[-\w]*$/);
    expect(new Set(encoded).size).toBe(odd.length);
    expect(storedKey('_b64.x')).not.toBe('_b64.x');
  });

  it('rejects what is not a bucket, and bad options', () => {
    expect(() => kvStore({} as never)).toThrow(/kv must be a JetStream KV bucket/);
    expect(() => kvStore(new Bucket(), { owner: '' })).toThrow(/kvStore.owner must be a non-empty string/);
    expect(() => kvStore(new Bucket(), { ttl: 5 } as never)).toThrow(/unknown option "ttl"/);
  });
});
