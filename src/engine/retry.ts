/**
 * The retry stage: after a failed attempt, whether to try again and after how long.
 *
 * Two steps. `classify` asks the call's or the policy's `retryOn` (user code: it may
 * throw, and a throw must not hide the attempt's error). `decideRetry` is a pure function
 * of what the operation knows: the verdict, the attempt number, the breaker's state, the
 * deadline and the backoff. It returns a delay, or the reason to stop. The budget, which
 * spends a token when it allows a retry, is asked last, by the operation.
 *
 * @internal
 * @module
 */
import type { RetryRefusedReason } from '../events.js';
import type { Backoff } from '../retry/backoff.js';
import { isRetryableByDefault, type RetryDecision } from '../retry/classify.js';
import type { AttemptContext, ExecuteOptions, RetryOn } from '../types.js';
import { breakerOpen } from './breaker.js';
import type { OperationBase } from './operation-base.js';

/** What `retryOn` said of one failure: retry or not, and a server hint (ms) if any. */
export interface Classification {
  readonly retry: boolean;
  /** A delay the server asked for: finite, ≥ 0; undefined without one. */
  readonly hint: number | undefined;
}

const RETRY: Classification = Object.freeze({ retry: true, hint: undefined });
const STOP: Classification = Object.freeze({ retry: false, hint: undefined });

/**
 * Classifies `error` with the call's own `retryOn` (called as a method of its options),
 * else the policy's, else the core's default.
 */
export function classify(
  error: unknown,
  attempt: AttemptContext,
  options: ExecuteOptions | undefined,
  policyRetryOn: RetryOn | undefined,
): Classification {
  const own = options?.retryOn;
  if (own === undefined && policyRetryOn === undefined) return isRetryableByDefault(error) ? RETRY : STOP;
  let verdict: RetryDecision;
  try {
    verdict =
      own === undefined ? (policyRetryOn as RetryOn)(error, attempt) : own.call(options, error, attempt);
  } catch (classifyError) {
    // A broken classifier must not hide the real failure, nor take the process down (an
    // uncaught exception would): stop with the attempt's error, and report the bug.
    reportRetryOnError(classifyError);
    return STOP;
  }
  if (typeof verdict !== 'object' || verdict === null) return verdict === true ? RETRY : STOP;
  const after = verdict.after;
  const hint =
    typeof after === 'number' && after >= 0 && after !== Number.POSITIVE_INFINITY ? after : undefined;
  if (verdict.retry !== true) return STOP;
  return hint === undefined ? RETRY : { retry: true, hint };
}

/** Everything {@link decideRetry} decides on. */
export interface RetryInput {
  readonly classification: Classification;
  /** The number of the attempt that failed (1-based). */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** The breaker refuses attempts now (open or isolated). */
  readonly breakerOpen: boolean;
  /** The operation's deadline, or undefined. */
  readonly deadline: number | undefined;
  readonly now: number;
  readonly backoff: Backoff;
  /** The delay before the failed attempt (0 before the first retry). */
  readonly previousDelay: number;
  readonly random: () => number;
}

/**
 * The delay before the next attempt (≥ 0), or why not to make one. No wait is started
 * that would end at or past the deadline: the operation could not use it.
 */
export function decideRetry(input: RetryInput): number | RetryRefusedReason {
  const { classification } = input;
  if (!classification.retry) return 'not-retryable';
  if (input.attempt >= input.maxAttempts) return 'max-attempts';
  if (input.breakerOpen) return 'circuit-open';
  const backoff = input.backoff;
  const hint = classification.hint;
  // Whole milliseconds: a timer waits no finer, and events report what is waited.
  const delay = Math.min(
    Math.round(hint === undefined ? backoff.delay(input.attempt, input.previousDelay, input.random) : hint),
    backoff.maxDelay,
  );
  const deadline = input.deadline;
  if (deadline !== undefined && input.now + delay >= deadline) return 'deadline';
  return delay;
}

/**
 * After a failed attempt: classifies the failure, books it in the budget, decides, and asks
 * the budget for the retry last (it spends a token when it allows one). The operation's
 * breaker is asked whether it refuses attempts now only when that can matter.
 */
export function retryAfterFailure(
  op: OperationBase<unknown>,
  attempt: AttemptContext,
  failure: unknown,
  now: number,
): { verdict: number | RetryRefusedReason; hinted: boolean } {
  const cfg = op.policy.config;
  const classification = classify(failure, attempt, op.options, cfg.retryOn);
  const budget = cfg.budget;
  // Like gRPC's retryThrottling, only a retryable failure takes from a token budget.
  if (classification.retry) budget?.onFailure();
  const retrying = classification.retry && attempt.attempt < cfg.maxAttempts;
  let verdict = decideRetry({
    classification,
    attempt: attempt.attempt,
    maxAttempts: cfg.maxAttempts,
    breakerOpen: retrying && breakerOpen(op, now),
    deadline: op.deadline,
    now,
    backoff: cfg.backoff,
    previousDelay: op.previousDelay,
    random: cfg.random,
  });
  if (typeof verdict === 'number' && budget !== undefined && !budget.tryRetry()) verdict = 'budget';
  return { verdict, hinted: classification.hint !== undefined };
}

/** Reports an exception thrown by a `retryOn` classifier. */
function reportRetryOnError(error: unknown): void {
  process.emitWarning(
    `A breakwater retryOn threw; the attempt's error is not retried: ${
      error instanceof Error ? (error.stack ?? error.message) : String(error)
    }`,
    { code: 'BREAKWATER_RETRY_ON_ERROR' },
  );
}
