/**
 * How an HTTP caller's abort reaches `policy.execute`.
 *
 * undici's handlers (request, stream, fetch) abort through the function they receive in
 * `onConnect`, not through an AbortSignal, and an abort may come while no attempt is in
 * flight (during a backoff wait, or queued at the bulkhead): the policy must hear of it
 * to stop at once. `execute` takes a `signal` and uses only its `aborted`, `reason`,
 * `addEventListener('abort')` and `removeEventListener('abort')`. A real AbortController
 * costs about 3 µs to create on Node.js 20 (measured: `new AbortController()` in a loop),
 * more than the rest of the adapter's work on a request, so every request gets this
 * minimal object instead. The integration tests for an abort during a backoff wait fail
 * if the core ever needs more of a signal than this.
 *
 * @internal
 * @module
 */

export { LightSignal as CallerSignal } from '../abort.js';

/** The reason used when a caller aborts without giving one (what `AbortController.abort()` uses). */
export function defaultAbortReason(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
