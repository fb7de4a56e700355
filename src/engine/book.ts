/**
 * The operation's bookkeeping: the attempts in flight, the one place an attempt's end is
 * booked (its timer, the breaker, the budget, what the stages learn from it, the event),
 * and what the operation gives back when it settles.
 *
 * @internal
 * @module
 */
import { unsubscribeAbort } from '../abort.js';
import { sampleAttempt } from './admission.js';
import type { Attempt, AttemptEnd } from './attempt.js';
import { bookAttempt, circuitChange } from './breaker.js';
import { recordLatency } from './hedge.js';
import type { OperationBase } from './operation-base.js';
import * as report from './report.js';
import { disarm } from './timers.js';

/**
 * Whether a stage times attempts (a slow-call rule, an adaptive limit, a throttle, a
 * hedge delay): then the clock is read when each attempt starts and ends. The one place
 * that decides it, for both ends.
 */
export function timesAttempts(op: OperationBase<unknown>): boolean {
  const cfg = op.policy.config;
  return (
    cfg.hedge !== undefined ||
    cfg.throttle !== undefined ||
    cfg.bulkhead?.sample !== undefined ||
    op.breaker?.measuresDuration === true
  );
}

/** Adds an attempt to those in flight. */
export function track(op: OperationBase<unknown>, attempt: Attempt): void {
  if (op.inFlight === undefined) op.inFlight = attempt;
  else if (op.more === undefined) op.more = [attempt];
  else op.more.push(attempt);
}

/**
 * Books an attempt's end, once: its timer, the breaker, the budget, what the hedge delay
 * and the admission stage learn, the event. Returns the time (0 when nothing needed it).
 */
export function book(op: OperationBase<unknown>, attempt: Attempt, end: AttemptEnd, error: unknown): number {
  const policy = op.policy;
  const cfg = policy.config;
  attempt.ended = true;
  const more = op.more;
  if (op.inFlight === attempt) op.inFlight = more?.shift();
  else more?.splice(more.indexOf(attempt) >>> 0, 1);
  disarm(policy.attemptLane, cfg.clock, attempt);
  const breaker = op.breaker;
  const listening = op.listening;
  const now = end !== 'success' || listening || timesAttempts(op) ? cfg.clock.now() : 0;
  if (breaker !== undefined) {
    const from = listening ? breaker.current : undefined;
    bookAttempt(breaker, attempt, end, error, now);
    if (from !== undefined) circuitChange(op, breaker, from, now);
  }
  if (end === 'success') cfg.budget?.onSuccess();
  if (cfg.hedge !== undefined) recordLatency(cfg.hedge, attempt, end, now);
  if (cfg.throttle !== undefined || cfg.bulkhead?.sample !== undefined)
    sampleAttempt(op, attempt, end, error, now);
  if (listening) op.emit(report.attemptEnd(cfg.name, now, attempt, op.key, end, error));
  return now;
}

/** Ends every attempt in flight with `end`, and aborts its signal with `reason`. */
export function endAll(op: OperationBase<unknown>, end: AttemptEnd, reason: unknown): void {
  let attempt = op.inFlight;
  while (attempt !== undefined) {
    book(op, attempt, end, reason);
    attempt.abort(reason);
    attempt = op.inFlight;
  }
}

/** Gives back the timers, the caller's listener, the queue place and the bulkhead slot. */
export function release(op: OperationBase<unknown>): void {
  const policy = op.policy;
  const cfg = policy.config;
  if (op.timerAt !== 0) disarm(policy.deadlineLane, cfg.clock, op);
  if (op.waitTimer !== undefined) {
    cfg.clock.clearTimeout(op.waitTimer);
    op.waitTimer = undefined;
  }
  if (op.cancelQueue !== undefined) {
    op.cancelQueue();
    op.cancelQueue = undefined;
  }
  if (op.subscribed) {
    op.subscribed = false;
    unsubscribeAbort(op.options?.signal as AbortSignal, op);
  }
  if (op.holdsSlot) {
    op.holdsSlot = false;
    cfg.bulkhead?.release();
  }
}
