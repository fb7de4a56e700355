/**
 * An in-memory {@link IdempotencyStore}: for a single consumer process, or for tests.
 * Bounded (at most `maxKeys` entries) and with expiry (claims after their TTL, done keys
 * after `retention`), without timers: expired entries are dropped as new keys arrive.
 *
 * @module
 */
import { type Clock, systemClock } from '../../index.js';
import { invalid, num, obj } from '../../validate.js';
import type { ClaimResult, ClaimToken, IdempotencyStore } from '../store.js';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Keys remembered at most. Past it the oldest entry is dropped (a done key before a live
   * claim where one of the oldest few is done); a dropped done key can be processed again.
   * @default 100_000
   */
  maxKeys?: number | undefined;
  /**
   * How long a done key is remembered, in ms: a redelivery or a duplicate arriving later
   * than this is processed again.
   * @default 86_400_000 (24 hours)
   */
  retention?: number | undefined;
  /** Source of time. @default systemClock */
  clock?: Pick<Clock, 'now'> | undefined;
}

class MemoryToken implements ClaimToken {
  constructor(readonly key: string) {}
}

type Entry =
  | { readonly state: 'claimed'; readonly token: MemoryToken; expiresAt: number }
  | { readonly state: 'done'; readonly expiresAt: number };

/** Entries examined per call to drop expired ones, and when choosing whom to evict. */
const SWEEP = 8;

class MemoryStore implements IdempotencyStore {
  readonly #maxKeys: number;
  readonly #retention: number;
  readonly #clock: Pick<Clock, 'now'>;
  /** Insertion order is write order: every write moves the key to the end. */
  readonly #entries = new Map<string, Entry>();

  constructor(maxKeys: number, retention: number, clock: Pick<Clock, 'now'>) {
    this.#maxKeys = maxKeys;
    this.#retention = retention;
    this.#clock = clock;
  }

  /** Entries held now (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  claim(key: string, ttlMs: number): Promise<ClaimResult> {
    const now = this.#clock.now();
    const entry = this.#entries.get(key);
    let takenOver = false;
    if (entry !== undefined && entry.expiresAt > now) {
      if (entry.state === 'done') return Promise.resolve({ status: 'done' });
      return Promise.resolve({ status: 'busy', retryAfterMs: entry.expiresAt - now });
    }
    if (entry !== undefined) {
      takenOver = entry.state === 'claimed';
      this.#entries.delete(key);
    } else {
      this.#makeRoom(now);
    }
    const token = new MemoryToken(key);
    this.#entries.set(key, { state: 'claimed', token, expiresAt: now + ttlMs });
    return Promise.resolve({ status: 'claimed', token, takenOver });
  }

  renew(token: ClaimToken, ttlMs: number): Promise<boolean> {
    const entry = this.#entries.get(token.key);
    if (entry?.state !== 'claimed' || entry.token !== token) return Promise.resolve(false);
    entry.expiresAt = this.#clock.now() + ttlMs;
    return Promise.resolve(true);
  }

  complete(token: ClaimToken): Promise<boolean> {
    const entry = this.#entries.get(token.key);
    const ours = entry?.state === 'claimed' && entry.token === token;
    // Recorded as done even when the claim was taken over: the work did happen.
    this.#entries.delete(token.key);
    this.#entries.set(token.key, { state: 'done', expiresAt: this.#clock.now() + this.#retention });
    return Promise.resolve(ours);
  }

  release(token: ClaimToken): Promise<void> {
    const entry = this.#entries.get(token.key);
    if (entry?.state === 'claimed' && entry.token === token) this.#entries.delete(token.key);
    return Promise.resolve();
  }

  /** Drops expired entries from the old end, then evicts one if still full. */
  #makeRoom(now: number): void {
    const entries = this.#entries;
    let examined = 0;
    for (const [key, entry] of entries) {
      if (++examined > SWEEP) break;
      if (entry.expiresAt <= now) entries.delete(key);
    }
    if (entries.size < this.#maxKeys) return;
    let victim: string | undefined;
    examined = 0;
    for (const [key, entry] of entries) {
      victim ??= key;
      if (entry.state === 'done') {
        victim = key;
        break;
      }
      if (++examined >= SWEEP) break;
    }
    if (victim !== undefined) entries.delete(victim);
  }
}

/**
 * An in-memory idempotency store, for one consumer process (several handlers in it may
 * share it). Use {@link kvStore} when consumers run on several machines.
 *
 * @example
 * ```ts
 * import type { JsMsg } from '@nats-io/jetstream';
 * import { idempotentHandler, memoryStore } from 'breakwater/nats';
 * // Your side effect, which must not happen twice for one order.
 * const ship = async (order: { id: string }): Promise<void> => console.log(`shipping ${order.id}`);
 * const handle = idempotentHandler(async (msg: JsMsg) => ship(msg.json<{ id: string }>()), {
 *   store: memoryStore({ maxKeys: 50_000, retention: 3_600_000 }),
 * });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): IdempotencyStore & { readonly size: number } {
  const o = obj<MemoryStoreOptions>('memoryStore', options, ['maxKeys', 'retention', 'clock']) ?? {};
  const maxKeys = num('memoryStore.maxKeys', o.maxKeys, 100_000, { min: 1, max: 100_000_000, integer: true });
  const retention = num('memoryStore.retention', o.retention, 86_400_000, {
    min: 0,
    exclusiveMin: true,
    max: Number.MAX_SAFE_INTEGER,
  });
  const clock = o.clock ?? systemClock;
  if (typeof clock.now !== 'function') invalid('memoryStore.clock', 'a Clock with now()', clock);
  return new MemoryStore(maxKeys, retention, clock);
}
