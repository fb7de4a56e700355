/**
 * The hedge stage: while an attempt runs, whether and when to send another one beside it
 * (gRFC A6 hedging). The decision after a failure is pure, like the retry stage's
 * (`decideHedge`: the delay before the next hedge, or the reason to send none); the rest
 * arms the hedge delay, sends the hedge under the retry budget, and feeds the adaptive
 * delay every attempt's latency.
 *
 * @internal
 * @module
 */
import type { RetryRefusedReason } from '../events.js';
import type { ResolvedHedge } from '../hedge/options.js';
import type { Attempt, AttemptEnd } from './attempt.js';
import { breakerOpen } from './breaker.js';
import type { OperationBase } from './operation-base.js';
import * as report from './report.js';
import { type Classification, classify } from './retry.js';

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

/** An attempt failed while others may still run: the next hedge, or the operation's end. */
export function hedgedFailure(
  op: OperationBase<unknown>,
  attempt: Attempt,
  failure: unknown,
  now: number,
): void {
  const cfg = op.policy.config;
  if (attempt.attempt === 1) op.firstFailure = failure;
  const classification = classify(failure, attempt, op.options, cfg.retryOn);
  if (classification.retry) cfg.budget?.onFailure();
  const verdict = decideHedge({
    classification,
    attempts: op.attempts,
    maxAttempts: cfg.maxAttempts,
    breakerOpen: classification.retry && op.attempts < cfg.maxAttempts && breakerOpen(op, now),
    deadline: op.deadline,
    now,
    maxDelay: cfg.backoff.maxDelay,
  });
  if (typeof verdict === 'number' && !op.hedgesStopped) {
    if (verdict === 0) hedge(op);
    else armHedge(op, verdict); // the server's pushback delays the next hedge
    return;
  }
  if (typeof verdict !== 'number') {
    if (op.listening) op.emit(report.retryRefused(cfg.name, now, attempt.attempt, verdict, failure));
    // A fatal failure ends the operation, and aborts the rest.
    if (verdict === 'not-retryable') {
      op.settle(false, failure);
      return;
    }
    stopHedging(op);
  }
  // Otherwise the attempts in flight run on; the operation fails once none is left.
  if (op.inFlight === undefined && op.waitTimer === undefined) op.settle(false, op.firstFailure);
}

/** Sends the next hedge after `delay` ms, unless an answer comes first. */
export function armHedge(op: OperationBase<unknown>, delay: number): void {
  const clock = op.policy.config.clock;
  if (op.waitTimer !== undefined) clock.clearTimeout(op.waitTimer);
  op.waitTimer = clock.setTimeout(() => {
    op.waitTimer = undefined;
    if (op.state === 'attempting') hedge(op);
  }, delay);
}

/** Sends the next attempt beside those in flight, if the budget allows one more. */
function hedge(op: OperationBase<unknown>): void {
  const cfg = op.policy.config;
  const clock = cfg.clock;
  if (op.waitTimer !== undefined) {
    clock.clearTimeout(op.waitTimer);
    op.waitTimer = undefined;
  }
  const now = clock.now();
  const deadline = op.deadline;
  const budget = cfg.budget;
  const allowed = op.attempts < cfg.maxAttempts && (deadline === undefined || now < deadline);
  if (allowed && (budget === undefined || budget.tryRetry())) {
    if (op.listening) op.emit(report.hedgeStarted(cfg.name, now, op.attempts + 1, op.startedAt));
    op.beginAttempt(now);
    return;
  }
  if (allowed) {
    // The budget refused: no more hedges for this operation.
    stopHedging(op);
    if (op.listening) op.emit(report.retryRefused(cfg.name, now, op.attempts, 'budget', op.lastError));
  }
  if (op.inFlight === undefined) op.settle(false, op.firstFailure);
}

/** No more hedges for this operation. */
function stopHedging(op: OperationBase<unknown>): void {
  op.hedgesStopped = true;
  if (op.waitTimer !== undefined) {
    op.policy.config.clock.clearTimeout(op.waitTimer);
    op.waitTimer = undefined;
  }
}

/**
 * The adaptive hedge delay learns how long first attempts take (a loser's time is only a
 * floor). It is compared with how long the first attempt has run, so hedges, mostly fast,
 * would pull the quantile down and hedge more than `1 - quantile` of operations.
 */
export function recordLatency(hedge: ResolvedHedge, attempt: Attempt, end: AttemptEnd, now: number): void {
  if (attempt.attempt !== 1) return;
  if (end === 'aborted') hedge.recordAbandoned(now - attempt.startedAt, now);
  else if (end !== 'deadline') hedge.recordAttempt(now - attempt.startedAt, now);
}
