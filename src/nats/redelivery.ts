/**
 * The arithmetic of a consumer's redeliveries, kept pure so it can be tested on its own:
 * how a failure is classified by default, whether a failed delivery is nak'ed or
 * dead-lettered, and how long a nak asks the server to wait.
 *
 * JetStream counts deliveries for us (`msg.info.deliveryCount`, 1 on the first), so the
 * delivery count is the retry number: the delay after delivery `n` failed is the backoff's
 * delay before retry `n`. The server keeps the count across consumer restarts and replicas,
 * so no state is kept here.
 *
 * @module
 */
import type { Backoff } from '../index.js';

/** What to do with a message whose handler failed. */
export type FailureClass = 'retry' | 'drop' | 'dead-letter';

/** The largest nak delay, in ms (the timers' own limit, ~24.8 days). */
export const MAX_NAK_DELAY = 2_147_483_647;

/**
 * How long a nak waits when the breaker is half-open with all its probes in flight (it then
 * reports 0 ms): long enough not to spin through deliveries while the probe runs, capped by
 * the backoff's `maxDelay`.
 */
export const HALF_OPEN_WAIT_MS = 1_000;

/**
 * The default classification: a `SyntaxError` (a payload that does not parse) or a
 * `TypeError` (a field that is missing or of the wrong type) is poison by nature and goes
 * straight to the dead-letter subject; every other error is retried. A `TypeError` that
 * carries a `cause` is retried: that is how `fetch` reports a network failure
 * (`TypeError: fetch failed`, the socket error as its cause), not a bad message.
 */
export function classifyHandlerError(error: unknown): FailureClass {
  if (error instanceof SyntaxError) return 'dead-letter';
  if (error instanceof TypeError) {
    const cause = (error as { cause?: unknown }).cause;
    return cause === undefined || cause === null ? 'dead-letter' : 'retry';
  }
  return 'retry';
}

/** The delivery count of a message: `deliveryCount` (v3 and v2.29), else the older `redeliveryCount`, else 1. */
export function deliveryCountOf(info: { deliveryCount?: number; redeliveryCount?: number }): number {
  const count = info.deliveryCount ?? info.redeliveryCount;
  return typeof count === 'number' && Number.isFinite(count) && count >= 1 ? Math.floor(count) : 1;
}

/** The decision for a delivery that failed with an error classified as `verdict`. */
export type Disposition = 'nak' | 'drop' | 'dead-letter';

/**
 * Whether a failed delivery is nak'ed, dropped or dead-lettered: `'retry'` is nak'ed while
 * deliveries are left (`deliveryCount < maxDeliveries`), and dead-lettered from the last
 * allowed delivery on.
 */
export function disposition(
  verdict: FailureClass,
  deliveryCount: number,
  maxDeliveries: number,
): Disposition {
  if (verdict === 'drop') return 'drop';
  if (verdict === 'dead-letter') return 'dead-letter';
  return deliveryCount < maxDeliveries ? 'nak' : 'dead-letter';
}

/**
 * The nak delay after delivery `deliveryCount` failed: the backoff's delay before retry
 * number `deliveryCount`, in whole ms within `[0, maxDelay]`. The previous delay is not
 * known across deliveries (another replica may have nak'ed it), so `decorrelated` jitter
 * is given 0 and draws from `[initialDelay, 3 × initialDelay]` every time.
 */
export function retryDelay(strategy: Backoff, deliveryCount: number, random: () => number): number {
  const max = Math.min(strategy.maxDelay, MAX_NAK_DELAY);
  let delay: number;
  try {
    delay = strategy.delay(deliveryCount, 0, random);
  } catch {
    delay = max;
  }
  if (typeof delay !== 'number' || Number.isNaN(delay)) delay = max;
  return Math.floor(Math.min(max, Math.max(0, delay)));
}

/**
 * The nak delay while the breaker refuses calls: the time until it lets a probe through
 * (rounded up, so the message is not back a moment too early); when it is half-open with
 * its probes busy (0), {@link HALF_OPEN_WAIT_MS}; when isolated (no end known), the backoff's
 * `maxDelay`. Both fallbacks are capped by `maxDelay` and at least 1 ms.
 */
export function circuitDelay(retryAfterMs: number, strategy: Backoff): number {
  const max = Math.min(strategy.maxDelay, MAX_NAK_DELAY);
  if (typeof retryAfterMs !== 'number' || Number.isNaN(retryAfterMs) || retryAfterMs === Infinity) {
    return Math.max(1, Math.floor(max));
  }
  if (retryAfterMs <= 0) return Math.max(1, Math.floor(Math.min(HALF_OPEN_WAIT_MS, max)));
  return Math.min(MAX_NAK_DELAY, Math.ceil(retryAfterMs));
}
