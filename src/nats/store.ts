/**
 * The contract between {@link idempotentHandler} and the record of which keys are being
 * processed or are done. Two stores ship: `memoryStore()` (one process) and `kvStore(kv)`
 * (a JetStream KV bucket shared by consumers on many machines).
 *
 * A key moves `absent → claimed → done`, or back `claimed → absent` when the handler fails
 * (so a redelivery may try again). A claim carries a time to live, renewed while its
 * handler runs: a claim whose owner stopped renewing (crashed) is taken over by the next
 * consumer that asks after it expired, so a crash never blocks a key forever.
 *
 * @module
 */

/** A claim this consumer holds; pass it back to `renew`, `complete` or `release`. */
export interface ClaimToken {
  readonly key: string;
}

/** The answer to {@link IdempotencyStore.claim}. */
export type ClaimResult =
  /** The key is this consumer's to process. `takenOver`: it was an expired claim of another. */
  | { readonly status: 'claimed'; readonly token: ClaimToken; readonly takenOver: boolean }
  /** The key was processed already: ack the message, do not run the handler. */
  | { readonly status: 'done' }
  /** Another consumer holds a live claim; ask again after `retryAfterMs`. */
  | { readonly status: 'busy'; readonly retryAfterMs: number };

/** Where an idempotent consumer records claims and completed keys. */
export interface IdempotencyStore {
  /** Claims `key` for `ttlMs`, atomically: of several concurrent claimers, one wins. */
  claim(key: string, ttlMs: number): Promise<ClaimResult>;
  /**
   * Extends a claim by another `ttlMs` from now. Resolves false when the claim was lost
   * (it expired and another consumer took it over).
   */
  renew(token: ClaimToken, ttlMs: number): Promise<boolean>;
  /**
   * Records `key` as done (kept for the store's retention). Resolves false when the claim
   * had been taken over meanwhile (the key is recorded as done all the same where possible).
   */
  complete(token: ClaimToken): Promise<boolean>;
  /** Gives a claim up, so that a redelivery can claim the key again. */
  release(token: ClaimToken): Promise<void>;
}

/** True when `value` has the methods of an {@link IdempotencyStore}. */
export function isIdempotencyStore(value: unknown): value is IdempotencyStore {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s.claim === 'function' &&
    typeof s.renew === 'function' &&
    typeof s.complete === 'function' &&
    typeof s.release === 'function'
  );
}
