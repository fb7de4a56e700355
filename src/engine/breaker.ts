/**
 * The breaker stage: which breaker an operation asks, whether it refuses, and how an
 * attempt's end is recorded on it.
 *
 * @internal
 * @module
 */
import type { CircuitBreaker } from '../breaker/circuit-breaker.js';
import type { PolicyConfig } from '../types.js';
import type { Attempt, AttemptEnd } from './attempt.js';

const DEFAULT_KEY = 'default';

/** The breaker for a call with `key`: the policy's, or a keyed breaker's for that key. */
export function breakerFor(cfg: PolicyConfig, key: string | undefined): CircuitBreaker | undefined {
  const keyed = cfg.keyedBreaker;
  return keyed === undefined ? cfg.breaker : keyed.get(key ?? DEFAULT_KEY);
}

/**
 * Whether a breaker that is not closed refuses a new operation now. Asking may move an
 * open breaker whose time is up to half-open; a probe admitted here is given back, and
 * the attempt asks for its own permit once it starts (a kept permit would pin a half-open
 * breaker if the call never got that far).
 */
export function breakerRefuses(breaker: CircuitBreaker): boolean {
  const permit = breaker.acquire();
  if (permit < 0) return true;
  breaker.release(permit);
  return false;
}

/** Whether the breaker refuses attempts now (reading its state may move it to half-open). */
export function isOpen(breaker: CircuitBreaker): boolean {
  const state = breaker.state;
  return state === 'open' || state === 'isolated';
}

/**
 * Records an attempt's end. An attempt the operation abandoned (the caller aborted, a
 * hedge won) gives its permit back: it says nothing of the dependency's health. One that
 * ran into the deadline counts as failed: the dependency did not answer in time.
 */
export function bookAttempt(
  breaker: CircuitBreaker,
  attempt: Attempt,
  end: AttemptEnd,
  error: unknown,
  now: number,
): void {
  if (end === 'aborted') breaker.release(attempt.permit);
  else breaker.record(attempt.permit, error, end !== 'success', now - attempt.startedAt);
}
