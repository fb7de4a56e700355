/**
 * Keeping retries inside a stream's duplicate window.
 *
 * JetStream drops a message whose Nats-Msg-Id it has seen within the stream's
 * `duplicate_window` (2 minutes unless configured). A retry that reaches the server later
 * than that after the first copy was stored is stored again: a duplicate. So the retries of
 * one publish must all be sent within the window, measured from the first send.
 *
 * The publisher reads each stream's window once and *clamps* the operation's deadline to
 * the retry horizon (the window minus a margin) rather than refusing the publish: a policy's
 * deadline is usually chosen for the caller's latency budget, not per stream, and failing
 * every publish because of it would turn a safety limit into an outage. The clamp only
 * shortens how long retries go on; the first attempt is never refused.
 *
 * @module
 */
import type { PolicyConfig } from '../types.js';

/** The server's default `duplicate_window`, in ms (used when a stream reports none). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

/** Largest margin kept between the last retry and the end of the window, in ms. */
const MAX_MARGIN_MS = 5_000;

/**
 * How long after the first send a retry may still be sent: the window minus a margin for
 * network latency and the server's window bookkeeping (a tenth of the window, at most 5 s).
 */
export function retryHorizon(windowMs: number): number {
  return windowMs - Math.min(windowMs / 10, MAX_MARGIN_MS);
}

/**
 * The longest an operation can take under `config` when nothing else bounds it: every
 * attempt timing out (after `attemptTimeout`, or the client's request timeout) and every
 * wait at the backoff's maximum. 0 when the policy never retries (no horizon to keep).
 */
export function worstCaseDuration(
  config: Pick<PolicyConfig, 'maxAttempts' | 'attemptTimeout' | 'deadline' | 'backoff'>,
  requestTimeout: number,
): number {
  if (config.maxAttempts <= 1) return 0;
  const perAttempt = config.attemptTimeout ?? requestTimeout;
  const worst = config.maxAttempts * perAttempt + (config.maxAttempts - 1) * config.backoff.maxDelay;
  return config.deadline === undefined ? worst : Math.min(config.deadline, worst);
}

/**
 * The deadline to give `execute` so that no retry is sent past the horizon: the caller's
 * deadline when the operation cannot outlast the horizon anyway (then nothing changes and
 * the fast path stays fast), else `now + horizon`.
 */
export function clampDeadline(
  now: number,
  windowMs: number,
  worstCase: number,
  callerDeadline: number | undefined,
): number | undefined {
  const horizon = retryHorizon(windowMs);
  const bound = callerDeadline === undefined ? worstCase : Math.min(worstCase, callerDeadline - now);
  if (bound <= horizon) return callerDeadline;
  return now + horizon;
}
