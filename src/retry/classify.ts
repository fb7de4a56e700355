/**
 * The core's default answer to "should this error be retried?". Adapters replace it with
 * their transport's rules.
 *
 * @module
 */
import { isBreakwaterError } from '../errors.js';

/** A retry decision with an optional server hint. */
export interface RetryVerdict {
  /** Whether to retry. */
  readonly retry: boolean;
  /**
   * A delay the server asked for (Retry-After, grpc-retry-pushback-ms), in ms. It replaces
   * the computed backoff and is capped by the backoff's `maxDelay`. Ignored unless it is a
   * finite number ≥ 0.
   */
  readonly after?: number;
}

/** What `retryOn` may return. */
export type RetryDecision = boolean | RetryVerdict;

/**
 * Whether `error` is how Node's global `fetch` (undici) reports that the network failed: a
 * `TypeError` with the message "fetch failed" and the socket's or resolver's error as
 * `cause` (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, ...). The web platform made it a
 * TypeError; it is no programmer error. Not when its cause is a breakwater rejection (an
 * interceptor's open breaker, reported through fetch) or an abort.
 */
function isFetchNetworkError(error: TypeError): boolean {
  if (error.message !== 'fetch failed') return false;
  const cause: unknown = error.cause;
  if (isBreakwaterError(cause)) return false;
  return !(
    typeof cause === 'object' &&
    cause !== null &&
    (cause as { name?: unknown }).name === 'AbortError'
  );
}

/**
 * Default classification: retry any failure except breakwater's own rejections (an
 * attempt timeout is retried), aborts, and programmer errors (TypeError, RangeError,
 * ReferenceError, SyntaxError), which a retry cannot fix. The `TypeError: fetch failed`
 * with which Node's `fetch` reports a network failure is retried.
 */
export function isRetryableByDefault(error: unknown): boolean {
  if (isBreakwaterError(error)) return error.code === 'BREAKWATER_ATTEMPT_TIMEOUT';
  if (error instanceof TypeError && isFetchNetworkError(error)) return true;
  if (
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError
  ) {
    return false;
  }
  if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError') {
    return false;
  }
  return true;
}
