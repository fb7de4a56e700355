/**
 * The hedge stage: while an attempt runs, whether and when to send another one beside it
 * (gRFC A6 hedging). A pure decision, like the retry stage's: the delay before the next
 * hedge, or the reason to send none.
 *
 * @internal
 * @module
 */
import type { RetryRefusedReason } from '../events.js';
import type { Classification } from './retry.js';

/** Everything {@link decideHedge} decides on, after an attempt failed. */
export interface HedgeInput {
  readonly classification: Classification;
  /** Attempts started so far. */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** The breaker refuses attempts now (open or isolated). */
  readonly breakerOpen: boolean;
  readonly deadline: number | undefined;
  readonly now: number;
  /** The cap of a server's hint (the backoff's `maxDelay`). */
  readonly maxDelay: number;
}

/**
 * After a failed attempt: send the next hedge at once (0), after a server's pushback (its
 * delay, capped), or not at all (why). A failure `retryOn` does not call retryable is
 * fatal: it ends the operation, and the operation aborts the attempts still in flight.
 */
export function decideHedge(input: HedgeInput): number | RetryRefusedReason {
  const { classification } = input;
  if (!classification.retry) return 'not-retryable';
  if (input.attempts >= input.maxAttempts) return 'max-attempts';
  if (input.breakerOpen) return 'circuit-open';
  const hint = classification.hint;
  const delay = hint === undefined ? 0 : Math.min(Math.round(hint), input.maxDelay);
  if (input.deadline !== undefined && input.now + delay >= input.deadline) return 'deadline';
  return delay;
}
