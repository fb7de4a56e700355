/**
 * The failure an HTTP status stands for. A response whose status counts as a failure
 * (5xx, or one of the retryable `statusCodes`) fails its attempt with an
 * {@link HttpStatusError}, so `retryOn`, the circuit breaker's `isFailure` and events
 * see it. The caller never receives it in place of the response: when retrying stops on
 * a status, the caller gets that response itself.
 *
 * It is deliberately not a `BreakwaterError`: a breaker's default `isFailure` ignores
 * breakwater's own rejections, and an error status must count against the dependency.
 *
 * @module
 */

const BRAND = Symbol.for('breakwater.http.status-error');

/** A header map as undici gives it: lower-case names. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** An attempt failed with an HTTP status that counts as a failure. */
export class HttpStatusError extends Error {
  /** The response status, e.g. 503. */
  readonly statusCode: number;
  /** The response headers, lower-case names. */
  readonly headers: ResponseHeaders;
  /**
   * The delay the server asked for in `Retry-After`, in ms, or `undefined` when it sent
   * none or an unusable one (see `parseRetryAfter`).
   */
  readonly retryAfter: number | undefined;

  constructor(statusCode: number, headers: ResponseHeaders, retryAfter: number | undefined) {
    super(`HTTP ${statusCode}`);
    this.statusCode = statusCode;
    this.headers = headers;
    this.retryAfter = retryAfter;
  }
}
Object.defineProperty(HttpStatusError.prototype, BRAND, { value: true });
Object.defineProperty(HttpStatusError.prototype, 'name', {
  value: 'HttpStatusError',
  writable: true,
  configurable: true,
});

/**
 * True when `error` is an {@link HttpStatusError}, from whichever copy of breakwater.
 *
 * @example
 * ```ts
 * import { policy } from 'breakwater';
 * import { isHttpStatusError } from 'breakwater/http';
 * // Retry 500 as well (add it to the interceptor's statusCodes too), nothing else.
 * const api = policy({
 *   retry: { retryOn: (error) => isHttpStatusError(error) && error.statusCode >= 500 },
 * });
 * ```
 */
export function isHttpStatusError(error: unknown): error is HttpStatusError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}
