/**
 * `breakwater/fetch`: `resilientFetch` alone, for code that calls `fetch` and never touches
 * undici's dispatchers. Its declarations do not mention undici, so a project that uses
 * Node's global `fetch` type-checks without undici installed, even with `skipLibCheck: false`.
 * The same function is exported by `breakwater/http`, next to the undici interceptor.
 *
 * @packageDocumentation
 */

export {
  type FetchLike,
  type ResilientFetch,
  type ResilientFetchInit,
  type ResilientFetchOptions,
  resilientFetch,
} from '../http/fetch.js';
export {
  formatIdempotencyKey,
  IDEMPOTENCY_KEY_HEADER,
  parseIdempotencyKey,
} from '../http/idempotency-key.js';
export {
  DEFAULT_ERROR_CODES,
  DEFAULT_METHODS,
  DEFAULT_STATUS_CODES,
  type HttpOptions,
  type HttpRequestOptions,
} from '../http/options.js';
export { MAX_RETRY_AFTER_MS, parseHttpDate, parseRetryAfter } from '../http/retry-after.js';
export { HttpStatusError, isHttpStatusError, type ResponseHeaders } from '../http/status-error.js';
