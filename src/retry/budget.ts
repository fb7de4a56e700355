/**
 * Retry budgets: shared objects that cap retries as a share of traffic, so that when a
 * dependency fails, retries add a bounded amount of load instead of multiplying it.
 *
 * @module
 */
import { type Clock, systemClock } from '../clock.js';
import { InvalidOptionsError } from '../errors.js';
import { invalid, num, obj, requireNum } from '../validate.js';

const mod = (n: number, m: number): number => ((n % m) + m) % m;

/**
 * A retry budget. One budget may be shared by several policies; it is consulted before
 * every retry, never before a first attempt.
 */
export interface RetryBudget {
  /** Which rule the budget applies. */
  readonly kind: 'ratio' | 'tokens';
  /** @internal An operation started (its first attempt). */
  onRequest(): void;
  /** @internal An attempt succeeded. */
  onSuccess(): void;
  /** @internal An attempt failed. */
  onFailure(): void;
  /** @internal Asks for one retry; true (and the retry is spent) when the budget allows it. */
  tryRetry(): boolean;
  /** How many retries the budget would allow right now (a snapshot, for metrics). */
  available(): number;
}

/** Options of the default, ratio-based budget (Finagle and the SRE book). */
export interface RatioBudgetOptions {
  /**
   * Retries may be at most this share of the requests seen in the window.
   * @default 0.1
   */
  ratio?: number | undefined;
  /**
   * A floor: this many retries per second are allowed even with little traffic.
   * @default 10
   */
  minPerSecond?: number | undefined;
  /**
   * Length of the sliding window, in ms.
   * @default 10_000
   */
  windowMs?: number | undefined;
  /** Source of time. @default systemClock */
  clock?: Clock | undefined;
}

/**
 * Options of the token-bucket budget, identical to gRPC's `retryThrottling`: every failed
 * attempt takes a token, every successful one returns `tokenRatio` tokens, and retries are
 * allowed while more than `maxTokens / 2` tokens remain.
 */
export interface TokenBudgetOptions {
  /** Size of the bucket, in (0, 1000] with at most 3 decimals (gRPC counts milli-tokens). */
  maxTokens: number;
  /** Tokens returned per successful attempt, in (0, 1] with at most 3 decimals. */
  tokenRatio: number;
}

/**
 * Options of {@link retryBudget}: ratio mode, or token mode when `maxTokens` or `tokenRatio`
 * is given. The two modes do not mix: `{ ratio, maxTokens }` is a type error (and throws).
 */
export type RetryBudgetOptions =
  | (RatioBudgetOptions & { maxTokens?: never; tokenRatio?: never })
  | (TokenBudgetOptions & { ratio?: never; minPerSecond?: never; windowMs?: never; clock?: never });

const RATIO_KEYS: readonly string[] = ['ratio', 'minPerSecond', 'windowMs', 'clock'];
const BUCKETS = 10;
/**
 * Under heavy traffic requests are folded into the window in batches of this many, so most
 * requests never read the clock.
 */
const FOLD_EVERY = 32;

/**
 * Sliding window of (requests, retries) in 10 buckets with running sums, so every
 * operation is O(1).
 *
 * To keep the promise "within any window of `windowMs` ending at a granted retry, retries
 * ≤ ratio × requests + floor", the two sums cover different spans: requests are counted
 * only in buckets that lie wholly inside the window (so none older than `windowMs`
 * counts), retries in one bucket more (so every retry younger than `windowMs` counts).
 */
class RatioBudget implements RetryBudget {
  readonly kind = 'ratio' as const;
  readonly #ratio: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  // Ring of BUCKETS + 1 buckets; #epoch is the index (time / bucketMs) of the newest.
  readonly #requests = new Float64Array(BUCKETS + 1);
  readonly #retries = new Float64Array(BUCKETS + 1);
  #epoch = Number.NEGATIVE_INFINITY;
  #requestSum = 0; // newest BUCKETS buckets
  #retrySum = 0; // all BUCKETS + 1 buckets
  /** Requests not yet in a bucket, and the bucket they are booked to: the last fold's. */
  #pending = 0;
  #pendingEpoch: number;
  /**
   * Requests per fold: 1 (every request reads the clock and is booked to its own bucket)
   * until a bucket holds FOLD_EVERY requests, then FOLD_EVERY until a batch spans more than
   * one bucket. A batch is booked to the bucket it started in, so at low traffic a batch
   * would span many buckets (2 requests/s: 16 s for 32) and leave the window before it was
   * ever counted; with no floor the budget would then refuse every retry.
   */
  #batch = 1;

  constructor(ratio: number, minPerSecond: number, windowMs: number, clock: Clock) {
    this.#ratio = ratio;
    this.#floor = (minPerSecond * windowMs) / 1000;
    this.#bucketMs = windowMs / BUCKETS;
    this.#clock = clock;
    this.#pendingEpoch = Math.floor(clock.now() / this.#bucketMs);
  }

  /**
   * Books pending requests. They happened at some time since the last fold; booking them
   * to the last fold's bucket makes them leave the window early, never late, so the
   * budget errs on the side of fewer retries.
   */
  #fold(now: number): number {
    const slot = this.#advance(now);
    const pending = this.#pending;
    if (pending > 0) {
      this.#pending = 0;
      const epoch = this.#pendingEpoch;
      if (epoch > this.#epoch - BUCKETS && epoch <= this.#epoch) {
        const s = mod(epoch, BUCKETS + 1);
        this.#requests[s] = (this.#requests[s] ?? 0) + pending;
        this.#requestSum += pending;
      }
    }
    this.#pendingEpoch = this.#epoch;
    return slot;
  }

  #advance(now: number): number {
    const epoch = Math.floor(now / this.#bucketMs);
    const behind = epoch - this.#epoch;
    if (behind <= 0) return mod(this.#epoch, BUCKETS + 1); // same bucket, or a clock that stepped back
    if (behind > BUCKETS) {
      this.#requests.fill(0);
      this.#retries.fill(0);
      this.#requestSum = 0;
      this.#retrySum = 0;
    } else {
      for (let e = this.#epoch + 1; e <= epoch; e++) {
        // The bucket of epoch e − BUCKETS leaves the request span; the one of e − BUCKETS − 1
        // (the slot e reuses) leaves the retry span.
        this.#requestSum -= this.#requests[mod(e - BUCKETS, BUCKETS + 1)] ?? 0;
        const slot = mod(e, BUCKETS + 1);
        this.#retrySum -= this.#retries[slot] ?? 0;
        this.#requests[slot] = 0;
        this.#retries[slot] = 0;
      }
    }
    this.#epoch = epoch;
    return mod(epoch, BUCKETS + 1);
  }

  onRequest(): void {
    // Small enough to be inlined into the caller; the fold is out of line.
    if (++this.#pending >= this.#batch) this.#book();
  }

  /** A batch of requests is complete: folds it into the window, and sizes the next batch. */
  #book(): void {
    const now = this.#clock.now();
    if (this.#batch === 1) {
      // This very request, made now: it belongs to the current bucket.
      this.#pendingEpoch = Math.floor(now / this.#bucketMs);
      const slot = this.#fold(now);
      // A bucket that already holds a batch's worth: traffic is heavy enough to batch.
      if ((this.#requests[slot] ?? 0) >= FOLD_EVERY) this.#batch = FOLD_EVERY;
    } else {
      const started = this.#pendingEpoch;
      this.#fold(now);
      // The batch spanned buckets: traffic is too light to batch without losing requests.
      if (this.#epoch !== started) this.#batch = 1;
    }
  }

  onSuccess(): void {}
  onFailure(): void {}

  tryRetry(): boolean {
    // The budget's own clock, not the caller's: a budget shared by policies keeps one time.
    const slot = this.#fold(this.#clock.now());
    if (this.#retrySum + 1 > this.#ratio * this.#requestSum + this.#floor) return false;
    this.#retries[slot] = (this.#retries[slot] ?? 0) + 1;
    this.#retrySum++;
    return true;
  }

  available(): number {
    this.#fold(this.#clock.now());
    return Math.max(0, Math.floor(this.#ratio * this.#requestSum + this.#floor - this.#retrySum));
  }
}

/**
 * gRPC's retryThrottling. Tokens are kept in integer milli-tokens, as gRPC core keeps them:
 * with floating-point tokens, repeated additions of a ratio such as 0.1 drift, and a count
 * that should sit exactly at maxTokens / 2 (retries refused) lands just above it (allowed).
 */
class TokenBudget implements RetryBudget {
  readonly kind = 'tokens' as const;
  readonly #max: number;
  readonly #ratio: number;
  #milli: number;

  constructor(maxTokens: number, tokenRatio: number) {
    this.#max = Math.round(maxTokens * 1000);
    this.#ratio = Math.round(tokenRatio * 1000);
    this.#milli = this.#max;
  }

  onRequest(): void {}

  onSuccess(): void {
    this.#milli = Math.min(this.#milli + this.#ratio, this.#max);
  }

  onFailure(): void {
    this.#milli = Math.max(this.#milli - 1000, 0);
  }

  tryRetry(): boolean {
    return this.#milli * 2 > this.#max;
  }

  available(): number {
    return this.#milli * 2 > this.#max ? Number.POSITIVE_INFINITY : 0;
  }

  /** Current token count (for tests and metrics). */
  get tokens(): number {
    return this.#milli / 1000;
  }
}

/** A token setting: in range, and with at most 3 decimals (gRPC counts milli-tokens). */
function tokenSetting(option: string, value: unknown, max: number): number {
  const n = requireNum(option, value, { min: 0, exclusiveMin: true, max });
  const milli = n * 1000;
  if (Math.abs(milli - Math.round(milli)) > 1e-6 * Math.max(1, milli)) {
    invalid(
      option,
      `a number above 0 and at most ${max}, with at most 3 decimals (gRPC counts milli-tokens)`,
      n,
    );
  }
  return n;
}

/**
 * Creates a retry budget to share between policies.
 *
 * With no options: retries may be at most 10% of requests plus 10 retries per second,
 * over a sliding 10 s window. With `{ maxTokens, tokenRatio }`: gRPC's retryThrottling.
 *
 * @example
 * ```ts
 * import { retryBudget } from 'breakwater';
 * const shared = retryBudget({ ratio: 0.2, minPerSecond: 5 });
 * const grpcStyle = retryBudget({ maxTokens: 10, tokenRatio: 0.1 });
 * ```
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  if (
    typeof options === 'object' &&
    options !== null &&
    ('maxTokens' in options || 'tokenRatio' in options)
  ) {
    const mixed = Object.keys(options).find((key) => RATIO_KEYS.includes(key));
    if (mixed !== undefined) {
      const other = 'maxTokens' in options ? 'maxTokens' : 'tokenRatio';
      throw new InvalidOptionsError(
        `retryBudget.${mixed}`,
        `retryBudget.${mixed} cannot be given with ${other}: retryBudget takes either ratio mode ` +
          "{ ratio?, minPerSecond?, windowMs?, clock? } or token mode { maxTokens, tokenRatio } (gRPC's " +
          'retryThrottling), not both',
      );
    }
    const o = obj<TokenBudgetOptions>('retryBudget', options, ['maxTokens', 'tokenRatio']);
    const maxTokens = tokenSetting('retryBudget.maxTokens', o?.maxTokens, 1000);
    const tokenRatio = tokenSetting('retryBudget.tokenRatio', o?.tokenRatio, 1);
    return new TokenBudget(maxTokens, tokenRatio);
  }
  const o = obj<RatioBudgetOptions>('retryBudget', options, RATIO_KEYS);
  const ratio = num('retryBudget.ratio', o?.ratio, 0.1, { min: 0, max: 1000 });
  const minPerSecond = num('retryBudget.minPerSecond', o?.minPerSecond, 10, { min: 0, max: 1e9 });
  const windowMs = num('retryBudget.windowMs', o?.windowMs, 10_000, {
    min: 10,
    max: 86_400_000,
  });
  const clock = o?.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    invalid('retryBudget.clock', 'a Clock (an object with now())', clock);
  }
  return new RatioBudget(ratio, minPerSecond, windowMs, clock);
}

/** True when `value` is a {@link RetryBudget}. */
export function isRetryBudget(value: unknown): value is RetryBudget {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RetryBudget).tryRetry === 'function' &&
    typeof (value as RetryBudget).onRequest === 'function'
  );
}
