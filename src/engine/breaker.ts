/**
 * The breaker stage: which breaker an operation asks, whether it refuses, how an attempt's
 * end is recorded on it, and what the operation reports of it (a refusal, a change of
 * state).
 *
 * @internal
 * @module
 */
import type { CircuitBreaker, CircuitState } from '../breaker/circuit-breaker.js';
import type { PolicyConfig } from '../types.js';
import type { Attempt, AttemptEnd } from './attempt.js';
import type { OperationBase } from './operation-base.js';
import * as report from './report.js';

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

/** Whether the breaker refuses attempts now (reading it may move open to half-open). */
export function breakerOpen(op: OperationBase<unknown>, now: number): boolean {
  const breaker = op.breaker;
  if (breaker === undefined) return false;
  const from = op.listening ? breaker.current : undefined;
  const open = isOpen(breaker);
  if (from !== undefined) circuitChange(op, breaker, from, now);
  return open;
}

/** The breaker refused attempt `number`: the event, and the error to reject with. */
export function circuitRejection(
  op: OperationBase<unknown>,
  breaker: CircuitBreaker,
  number: number,
): unknown {
  const cfg = op.policy.config;
  if (op.listening) op.emit(report.circuitRejected(cfg.name, op.now(), number, op.key, breaker));
  return breaker.rejection(op.failures > 0 ? op.lastError : undefined, op.policy.rejectionContext);
}

/** Reports the breaker's move away from `from`, if it moved. */
export function circuitChange(
  op: OperationBase<unknown>,
  breaker: CircuitBreaker,
  from: CircuitState,
  now: number,
): void {
  if (breaker.current !== from) {
    op.emit(report.circuitChange(op.policy.config.name, now, from, breaker.current, op.key));
  }
}
