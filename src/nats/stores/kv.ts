/**
 * An {@link IdempotencyStore} on a JetStream KV bucket, shared by consumer replicas on many
 * machines: this is how an idempotent consumer scales past one process.
 *
 * Design (it must hold with several consumers racing for one key, and on nats-server 2.9,
 * which has no per-key TTL):
 * - **Claim = `create`.** `kv.create(key)` succeeds for exactly one of several concurrent
 *   callers (it is a publish with "expected last subject sequence 0"); the others get
 *   "wrong last sequence" and read the entry instead.
 * - **Every later change is revision-checked** (`update(key, value, revision)`,
 *   `delete(key, { previousSeq })`): renewing, completing, releasing and taking over only
 *   succeed against the revision the caller last saw, so two consumers can never both
 *   believe they hold a key.
 * - **Claims expire by observation, not by comparing clocks.** A claim records its owner,
 *   its TTL and the owner's wall-clock time (for people reading the bucket). The owner
 *   renews it (a new revision) every third of the TTL while its handler runs. Another
 *   consumer judges a claim stale when it has seen the *same revision* for a whole TTL on
 *   its own monotonic clock: no renewal came, so the owner is gone. Wall clocks on
 *   different machines disagree; a takeover judged from a stored timestamp would steal a
 *   live claim whenever the judge's clock runs ahead. Observation costs at most one TTL of
 *   extra wait after a crash, and never steals a claim that is being renewed.
 * - A stale claim of this store's own owner id that no local handler holds (a release that
 *   failed) is taken back at once.
 * - Done keys stay in the bucket until the bucket's own `ttl` (its max age) removes them:
 *   create the bucket with a `ttl` longer than any redelivery or duplicate can arrive.
 *   With nats-server 2.11 per-key TTLs could expire claims server-side; this store does not
 *   need them.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { invalid, obj } from '../../validate.js';
import { isWrongLastSequence } from '../classify.js';
import type { ClaimResult, ClaimToken, IdempotencyStore } from '../store.js';
import type { KvEntryLike, KvLike } from '../types.js';

/** Options of {@link kvStore}. */
export interface KvStoreOptions {
  /**
   * This consumer's id in the claims it writes (visible to anyone reading the bucket).
   * @default a random UUID per store
   */
  owner?: string | undefined;
  /**
   * Monotonic time in ms, to measure how long a claim went without renewal.
   * @default performance.now
   */
  now?: (() => number) | undefined;
}

interface ClaimValue {
  readonly s: 'claimed';
  readonly owner: string;
  /** The owner's wall-clock time of the write, ms since the epoch (informational). */
  readonly at: number;
  readonly ttl: number;
}

interface DoneValue {
  readonly s: 'done';
  readonly owner: string;
  readonly at: number;
}

class KvToken implements ClaimToken {
  constructor(
    readonly key: string,
    /** The key as stored in the bucket. */
    readonly stored: string,
    public revision: number,
  ) {}
}

/** Observed claims remembered at most (for staleness); the oldest are forgotten first. */
const MAX_OBSERVED = 10_000;
/** Rounds of create / read / take over before answering "busy" under heavy contention. */
const MAX_ROUNDS = 4;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * KV keys allow `[-/_=.a-zA-Z0-9]` in dot-separated non-empty tokens. Other keys (and keys
 * that look encoded) are stored base64url-encoded behind a prefix, so no two keys collide.
 */
const PLAIN_KEY = /^[-/=\w]+(\.[-/=\w]+)*$/;
const ENCODED_PREFIX = '_b64.';

/** @internal The bucket key for an idempotency key. */
export function storedKey(key: string): string {
  if (PLAIN_KEY.test(key) && !key.startsWith(ENCODED_PREFIX)) return key;
  // The `k` keeps the last token non-empty for the empty key.
  return `${ENCODED_PREFIX}k${Buffer.from(key, 'utf8').toString('base64url')}`;
}

class KvStore implements IdempotencyStore {
  readonly #kv: KvLike;
  readonly #owner: string;
  readonly #now: () => number;
  /** Keys (as stored) that a handler of this store holds right now. */
  readonly #held = new Set<string>();
  /** Claims of others seen: stored key → revision and when first seen with it. */
  readonly #observed = new Map<string, { revision: number; since: number }>();

  constructor(kv: KvLike, owner: string, now: () => number) {
    this.#kv = kv;
    this.#owner = owner;
    this.#now = now;
  }

  async claim(key: string, ttlMs: number): Promise<ClaimResult> {
    const stored = storedKey(key);
    let busyFor = ttlMs;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        const revision = await this.#kv.create(stored, this.#claimValue(ttlMs));
        return this.#won(key, stored, revision, false);
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const entry = await this.#kv.get(stored);
      if (entry === null || entry.operation !== 'PUT') continue; // released meanwhile: create again
      const value = parse(entry);
      if (value?.s === 'done') {
        this.#observed.delete(stored);
        return { status: 'done' };
      }
      const ttl = value !== undefined && value.ttl > 0 ? value.ttl : ttlMs;
      const waited = this.#staleFor(stored, entry.revision, value);
      if (waited < ttl) {
        busyFor = ttl - waited;
        break;
      }
      try {
        const revision = await this.#kv.update(stored, this.#claimValue(ttlMs), entry.revision);
        return this.#won(key, stored, revision, true);
      } catch (error) {
        // Another consumer renewed, completed or took it over first: look again.
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    return { status: 'busy', retryAfterMs: busyFor };
  }

  async renew(token: ClaimToken, ttlMs: number): Promise<boolean> {
    const t = this.#own(token);
    try {
      t.revision = await this.#kv.update(t.stored, this.#claimValue(ttlMs), t.revision);
      return true;
    } catch (error) {
      if (isWrongLastSequence(error)) return false;
      throw error;
    }
  }

  async complete(token: ClaimToken): Promise<boolean> {
    const t = this.#own(token);
    this.#held.delete(t.stored);
    const done = this.#doneValue();
    try {
      t.revision = await this.#kv.update(t.stored, done, t.revision);
      return true;
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
    }
    // Taken over meanwhile: the work did happen, so record it as done unless it is already.
    const entry = await this.#kv.get(t.stored);
    if (entry !== null && entry.operation === 'PUT' && parse(entry)?.s !== 'done') {
      try {
        await this.#kv.update(t.stored, done, entry.revision);
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    return false;
  }

  async release(token: ClaimToken): Promise<void> {
    const t = this.#own(token);
    this.#held.delete(t.stored);
    try {
      await this.#kv.delete(t.stored, { previousSeq: t.revision });
    } catch (error) {
      // Someone else's now: nothing of ours to release.
      if (!isWrongLastSequence(error)) throw error;
    }
  }

  #won(key: string, stored: string, revision: number, takenOver: boolean): ClaimResult {
    this.#observed.delete(stored);
    this.#held.add(stored);
    return { status: 'claimed', token: new KvToken(key, stored, revision), takenOver };
  }

  /**
   * For how long (ms, on our monotonic clock) this claim is known to have gone without a
   * renewal: 0 on first sight of a revision. Infinity for our own claim no handler holds.
   */
  #staleFor(stored: string, revision: number, value: ClaimValue | undefined): number {
    if (value?.owner === this.#owner && !this.#held.has(stored)) return Number.POSITIVE_INFINITY;
    const now = this.#now();
    const seen = this.#observed.get(stored);
    if (seen !== undefined && seen.revision === revision) return now - seen.since;
    if (seen === undefined && this.#observed.size >= MAX_OBSERVED) {
      const oldest = this.#observed.keys().next();
      if (oldest.done !== true) this.#observed.delete(oldest.value);
    }
    this.#observed.set(stored, { revision, since: now });
    return 0;
  }

  #own(token: ClaimToken): KvToken {
    if (!(token instanceof KvToken)) invalid('token', 'a claim token from this store', token);
    return token;
  }

  #claimValue(ttl: number): Uint8Array {
    const value: ClaimValue = { s: 'claimed', owner: this.#owner, at: Date.now(), ttl };
    return encoder.encode(JSON.stringify(value));
  }

  #doneValue(): Uint8Array {
    const value: DoneValue = { s: 'done', owner: this.#owner, at: Date.now() };
    return encoder.encode(JSON.stringify(value));
  }
}

/** The entry's value, or undefined when it is not one of ours (treated as a claim). */
function parse(entry: KvEntryLike): ClaimValue | DoneValue | undefined {
  try {
    const value = JSON.parse(decoder.decode(entry.value)) as { s?: unknown };
    if (value.s === 'done') return value as DoneValue;
    if (value.s === 'claimed') return value as ClaimValue;
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * An idempotency store on a JetStream KV bucket, shared by every consumer replica that
 * uses the same bucket. Use one bucket per consuming service (Email and Shipping each
 * process every order once, so they must not share records).
 *
 * @example
 * ```ts
 * import { connect } from '@nats-io/transport-node';
 * import { jetstream } from '@nats-io/jetstream';
 * import { Kvm } from '@nats-io/kv';
 * import { kvStore } from 'breakwater/nats';
 *
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * // history 1; `ttl` (ms) is how long a done key is remembered.
 * const kv = await new Kvm(jetstream(nc)).create('shipping-processed', { history: 1, ttl: 86_400_000 });
 * const store = kvStore(kv);
 * ```
 */
export function kvStore(kv: KvLike, options: KvStoreOptions = {}): IdempotencyStore {
  if (
    typeof kv !== 'object' ||
    kv === null ||
    typeof kv.create !== 'function' ||
    typeof kv.update !== 'function' ||
    typeof kv.get !== 'function' ||
    typeof kv.delete !== 'function'
  ) {
    invalid('kv', 'a JetStream KV bucket (js.views.kv(name) from nats, or new Kvm(js).create(name))', kv);
  }
  const o = obj<KvStoreOptions>('kvStore', options, ['owner', 'now']) ?? {};
  const owner = o.owner ?? randomUUID();
  if (typeof owner !== 'string' || owner.length === 0) invalid('kvStore.owner', 'a non-empty string', owner);
  const now = o.now ?? (() => performance.now());
  if (typeof now !== 'function') invalid('kvStore.now', 'a function', now);
  return new KvStore(kv, owner, now);
}
