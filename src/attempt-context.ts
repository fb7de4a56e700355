/**
 * The context every attempt receives, kept in a file of its own so that the engine's stage
 * contracts and the policy's types can both name it without importing each other.
 *
 * @module
 */

/** What your function receives on every attempt. */
export interface AttemptContext {
  /** 1-based attempt number. */
  readonly attempt: number;
  /**
   * Aborted when this attempt must stop: the deadline passed, the attempt timed out
   * (reason: AttemptTimeoutError), or the caller aborted (reason: the caller's reason).
   * Created on first read, so an attempt that never reads it pays nothing.
   */
  readonly signal: AbortSignal;
  /** The operation's deadline, ms since the epoch, or undefined when it has none. */
  readonly deadline: number | undefined;
  /** The earlier of the deadline and this attempt's timeout, ms since the epoch. */
  readonly attemptDeadline: number | undefined;
  /** Milliseconds left before the deadline (Infinity when there is none, 0 once passed). */
  remaining(): number;
  /** The operation's idempotency key, identical on every attempt; undefined when off. */
  readonly idempotencyKey: string | undefined;
  /** The call's key (the keyed breaker's key), if any. */
  readonly key: string | undefined;
}
