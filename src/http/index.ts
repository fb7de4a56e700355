/**
 * breakwater/http: breakwater's policies for HTTP. An undici interceptor for
 * `Dispatcher.compose` (undici's `request`, `stream`, `fetch`, and Node's global `fetch`
 * given the composed dispatcher), and `resilientFetch`, a fetch-compatible function that
 * needs no undici install.
 *
 * `undici` is an optional peer dependency of this subpath only: install undici 7 (Node.js
 * 20.18 or later) to use `httpInterceptor`. undici 8 needs Node.js 22.19 or later.
 *
 * @packageDocumentation
 */

export { networkErrorCode } from './classify.js';
export {
  type FetchLike,
  type ResilientFetch,
  type ResilientFetchInit,
  type ResilientFetchOptions,
  resilientFetch,
} from './fetch.js';
export { formatIdempotencyKey, IDEMPOTENCY_KEY_HEADER, parseIdempotencyKey } from './idempotency-key.js';
export { type HttpInterceptorOptions, httpInterceptor } from './interceptor.js';
export {
  DEFAULT_ERROR_CODES,
  DEFAULT_METHODS,
  DEFAULT_STATUS_CODES,
  type HttpOptions,
  type HttpRequestOptions,
} from './options.js';
export { MAX_RETRY_AFTER_MS, parseHttpDate, parseRetryAfter } from './retry-after.js';
export { HttpStatusError, isHttpStatusError, type ResponseHeaders } from './status-error.js';
