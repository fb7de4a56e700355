/**
 * A breaker per key (a host, a channel target, a stream), created on first use, with
 * bounded memory: at most `maxKeys` breakers, and closed breakers idle for `idleMs`
 * are dropped.
 *
 * @module
 */
import { invalid, num } from '../validate.js';
import { Breaker, reportListenerError } from './circuit-breaker.js';
import { type BreakerConfig, resolveBreakerOptions } from './options.js';
import type {
  CircuitBreaker,
  CircuitBreakerMetrics,
  CircuitBreakerOptions,
  CircuitStateChange,
  CircuitStateListener,
} from './types.js';

/** Options of {@link keyedCircuitBreaker}: a breaker's options, applied to each key, plus bounds. */
export interface KeyedCircuitBreakerOptions extends Omit<CircuitBreakerOptions, 'initialState'> {
  /**
   * At most this many keys are tracked; past it, the least recently used key is dropped
   * (a closed one when one of the 8 oldest is closed, so an open breaker is dropped only
   * when the 8 least recently used keys are all open, half-open or isolated; its key then
   * starts again closed).
   * @default 1_000
   */
  maxKeys?: number | undefined;
  /**
   * A closed breaker unused for this long is dropped, in ms. Idle keys are looked for when
   * a new key is created (no timer runs), so an idle breaker may live on until then; open,
   * half-open and isolated breakers are never dropped for being idle.
   * @default 600_000 (10 minutes)
   */
  idleMs?: number | undefined;
}

/** One breaker state per key. Pass it as a policy's `circuitBreaker`; adapters supply the key. */
export interface KeyedCircuitBreaker {
  /** Distinguishes it from a plain breaker. */
  readonly keyed: true;
  /** The breaker for `key`, created on first use. */
  get(key: string): CircuitBreaker;
  /** The breaker for `key` if one is tracked now. */
  peek(key: string): CircuitBreaker | undefined;
  /** Number of keys tracked now. */
  readonly size: number;
  /**
   * The keys tracked now, least recently used first: a copy, so calling {@link get} while
   * walking it is safe. Use {@link peek} to read a key's breaker without marking it used.
   */
  keys(): string[];
  /** Subscribes to every key's state changes (`change.key` tells which); returns the unsubscribe function. */
  onStateChange(listener: CircuitStateListener): () => void;
  /** Snapshots of every tracked key that is not closed. */
  toJSON(): Record<string, ReturnType<CircuitBreaker['toJSON']>>;
  /**
   * The counts of `key`'s breaker now (see {@link CircuitBreaker.metrics}), or undefined
   * when the key is not tracked (never used, or evicted). Does not create a breaker and
   * does not count as a use of the key.
   */
  metrics(key: string): CircuitBreakerMetrics | undefined;
}

interface Entry {
  readonly breaker: Breaker;
  lastUsed: number;
}

const EVICTION_SCAN = 8;

class KeyedBreaker implements KeyedCircuitBreaker {
  readonly keyed = true as const;
  readonly #config: BreakerConfig;
  readonly #maxKeys: number;
  readonly #idleMs: number;
  /** Insertion order is recency order: a used key is moved to the end. */
  readonly #entries = new Map<string, Entry>();
  #listeners: CircuitStateListener[] = [];
  #lastKey: string | undefined;
  #lastEntry: Entry | undefined;
  readonly #emit = (change: CircuitStateChange): void => {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        reportListenerError(error);
      }
    }
  };

  constructor(config: BreakerConfig, maxKeys: number, idleMs: number) {
    this.#config = config;
    this.#maxKeys = maxKeys;
    this.#idleMs = idleMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): CircuitBreaker {
    // The same key as last time: the common case behind one policy, kept free of map work.
    if (key === this.#lastKey && this.#lastEntry !== undefined) return this.#lastEntry.breaker;
    if (typeof key !== 'string') invalid('key', 'a string', key);
    const now = this.#config.clock.now();
    // Calls on the same key skip the clock, so the previous key may have been used until
    // now: record that before looking for idle keys, or a key in constant use would be
    // dropped as idle (and its window lost). It is already the newest entry in the map.
    if (this.#lastEntry !== undefined) this.#lastEntry.lastUsed = now;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#evict(now);
      entry = { breaker: new Breaker(this.#config, undefined, key, this.#emit), lastUsed: now };
    } else {
      this.#entries.delete(key);
      entry.lastUsed = now;
    }
    this.#entries.set(key, entry);
    this.#lastKey = key;
    this.#lastEntry = entry;
    return entry.breaker;
  }

  peek(key: string): CircuitBreaker | undefined {
    return this.#entries.get(key)?.breaker;
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  #evict(now: number): void {
    const hot = this.#lastKey;
    // Idle, closed breakers from the least recently used end. `current`, not `state`:
    // looking for victims must not turn an open breaker half-open (and emit a change).
    for (const [key, entry] of this.#entries) {
      if (now - entry.lastUsed < this.#idleMs) break;
      if (key !== hot && entry.breaker.current === 'closed') this.#delete(key);
    }
    if (this.#entries.size < this.#maxKeys) return;
    // Still full: drop the least recently used, preferring a closed breaker among the oldest.
    let victim: string | undefined;
    let scanned = 0;
    for (const [key, entry] of this.#entries) {
      victim ??= key;
      if (entry.breaker.current === 'closed') {
        victim = key;
        break;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (victim !== undefined) this.#delete(victim);
  }

  #delete(key: string): void {
    this.#entries.delete(key);
    if (key === this.#lastKey) {
      this.#lastKey = undefined;
      this.#lastEntry = undefined;
    }
  }

  onStateChange(listener: CircuitStateListener): () => void {
    if (typeof listener !== 'function') invalid('onStateChange(listener)', 'a function', listener);
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  metrics(key: string): CircuitBreakerMetrics | undefined {
    return this.#entries.get(key)?.breaker.metrics();
  }

  toJSON(): Record<string, ReturnType<CircuitBreaker['toJSON']>> {
    const out: Record<string, ReturnType<CircuitBreaker['toJSON']>> = {};
    for (const [key, entry] of this.#entries) {
      const snapshot = entry.breaker.toJSON();
      if (snapshot.state !== 'closed') out[key] = snapshot;
    }
    return out;
  }
}

/**
 * Creates a keyed circuit breaker: one independent breaker state per key, so a failing
 * host does not open the breaker for a healthy one behind the same policy.
 *
 * @example
 * ```ts
 * import { keyedCircuitBreaker, policy } from 'breakwater';
 * const perHost = keyedCircuitBreaker({ failureRateThreshold: 0.5, maxKeys: 500 });
 * const api = policy({ circuitBreaker: perHost });
 * await api.execute(async () => 'ok', { key: 'https://payments.internal' });
 * ```
 */
export function keyedCircuitBreaker(options: KeyedCircuitBreakerOptions = {}): KeyedCircuitBreaker {
  const initialState = (options as { initialState?: unknown } | null)?.initialState;
  if (initialState !== undefined) {
    // A snapshot is one breaker's state; silently dropping it would leave the user believing
    // every key was restored.
    invalid(
      'keyedCircuitBreaker.initialState',
      'absent: a keyed breaker starts every key closed',
      initialState,
    );
  }
  const { config } = resolveBreakerOptions(options, 'keyedCircuitBreaker', ['maxKeys', 'idleMs']);
  const o: KeyedCircuitBreakerOptions = options ?? {};
  const maxKeys = num('keyedCircuitBreaker.maxKeys', o.maxKeys, 1_000, {
    min: 1,
    max: 10_000_000,
    integer: true,
  });
  const idleMs = num('keyedCircuitBreaker.idleMs', o.idleMs, 600_000, {
    min: 0,
    max: 2_147_483_647,
  });
  return new KeyedBreaker(config, maxKeys, idleMs);
}

/** True when `value` is a {@link KeyedCircuitBreaker}. */
export function isKeyedCircuitBreaker(value: unknown): value is KeyedCircuitBreaker {
  return typeof value === 'object' && value !== null && (value as { keyed?: unknown }).keyed === true;
}
