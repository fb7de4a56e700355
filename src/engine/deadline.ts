/**
 * The deadline stage: the operation's deadline on the policy's shared lane (armed only
 * while nothing earlier can stop the operation: while it is queued, or while an attempt
 * runs that no attempt timeout covers), and the rejection once it passes.
 *
 * @internal
 * @module
 */
import { DeadlineExceededError } from '../errors.js';
import type { OperationBase } from './operation-base.js';
import { arm } from './timers.js';

/** Arms the deadline's timer, once. */
export function armDeadline(op: OperationBase<unknown>, now: number): void {
  const deadline = op.deadline;
  if (op.timerAt !== 0 || deadline === undefined) return;
  op.timerAt = deadline;
  arm(op.policy.deadlineLane, op.policy.config.clock, op, now);
}

/**
 * The rejection for a deadline that passed at `now`: it names the policy, the time spent
 * and the attempts made; its cause is the last failed attempt's error.
 */
export function deadlineError(
  op: OperationBase<unknown>,
  deadline: number,
  now: number,
): DeadlineExceededError {
  const policy = op.policy.config.name;
  const attempts = op.attempts;
  const elapsedMs = now - op.startedAt;
  return op.failures > 0
    ? new DeadlineExceededError(deadline, { cause: op.lastError, policy, attempts, elapsedMs })
    : new DeadlineExceededError(deadline, { policy, attempts, elapsedMs });
}
