/**
 * What the admission stage (an adaptive limit) and the throttle learn from an attempt's
 * end: how long it ran, and whether it counts against the dependency. An abandoned
 * attempt (the caller aborted, a hedge won) says nothing, and is not heard.
 *
 * @internal
 * @module
 */
import { defaultIsFailure } from '../breaker/options.js';
import type { Attempt, AttemptEnd } from './attempt.js';
import type { OperationBase } from './operation-base.js';
import * as report from './report.js';

export function sampleAttempt(
  op: OperationBase<unknown>,
  attempt: Attempt,
  end: AttemptEnd,
  error: unknown,
  now: number,
): void {
  if (end === 'aborted') return;
  const cfg = op.policy.config;
  const breaker = op.breaker;
  const against =
    end === 'timeout' ||
    end === 'deadline' ||
    (end === 'failure' && (breaker === undefined ? defaultIsFailure(error) : breaker.countsAsFailure(error)));
  cfg.throttle?.record(!against, now);
  const bulkhead = cfg.bulkhead;
  const change = bulkhead?.sample?.({
    durationMs: now - attempt.startedAt,
    dropped: against,
    inFlight: bulkhead.active,
    now,
  });
  if (change !== undefined && op.listening) {
    op.emit(report.limitChanged(cfg.name, now, change.previous, change.limit));
  }
}
