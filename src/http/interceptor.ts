/**
 * `httpInterceptor(policy)`: breakwater as an undici 7 interceptor for
 * `Dispatcher.compose`, so `request`, `stream`, `fetch` and Node's own `fetch` (given the
 * composed dispatcher) run every request through the policy.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type { Policy } from '../index.js';
import { isPolicy } from '../policy.js';
import { invalid, noFallback } from '../validate.js';
import { HttpAttributes } from './attributes.js';
import { LegacyCall, ModernCall } from './dispatch-handlers.js';
import {
  type HttpOptions,
  type HttpRequestOptions,
  resolveHttpOptions,
  resolveRequestOptions,
} from './options.js';
import type { DispatchFn, DispatchOptionsLike, SharedState } from './retry-handler.js';

declare module 'undici' {
  namespace Dispatcher {
    interface DispatchOptions {
      /**
       * breakwater's options for this request; they override the interceptor's (see
       * `HttpRequestOptions` in breakwater/http).
       * @default undefined (the interceptor's options)
       */
      breakwater?: HttpRequestOptions | undefined;
    }
  }
}

/** Options of {@link httpInterceptor}. Each may be overridden per request (`breakwater: {...}`). */
export interface HttpInterceptorOptions extends HttpOptions {}

/**
 * Creates an undici interceptor that runs every request through `policy`: retries with
 * backoff (honouring `Retry-After`), the deadline, the circuit breaker (one state per
 * origin with a `keyedCircuitBreaker`), the bulkhead and idempotency keys.
 *
 * What is retried, by default: network errors (ECONNRESET, ECONNREFUSED, EPIPE,
 * UND_ERR_SOCKET, ...), attempt timeouts, and 409, 429, 502, 503 and 504, for GET, HEAD,
 * OPTIONS, PUT, DELETE and TRACE; POST and PATCH only when they carry an idempotency key
 * (their own `Idempotency-Key` header, `breakwater: { idempotencyKey }`, or the policy's
 * `idempotency: true`). A policy's own `retry.retryOn` replaces the failure rules; which
 * requests may be repeated stays as above. A request body that was read from a stream is
 * never sent twice. Nothing is retried once the response head reached the caller.
 *
 * When retrying stops on a status, the caller gets that response as undici would have
 * returned it. Other failures reject with undici's own error, or with a `BreakwaterError`
 * (circuit open, deadline exceeded, bulkhead full). Per-request options go in the request
 * options' `breakwater` property and override these.
 *
 * With a policy that hedges (`hedge`), requests that may be repeated (by the rules above)
 * and have a string or buffer body are hedged; the first response head that is not a
 * failure wins and the other requests are aborted. A policy with a `fallback` is refused.
 *
 * Upgrades and CONNECT requests pass through untouched.
 *
 * @param policy - the policy every request runs through; share it (and its breaker) freely
 * @param options - what to retry, and which headers to send
 * @returns an interceptor for `dispatcher.compose(...)`
 * @throws InvalidOptionsError at once, naming the option, when an option is invalid
 *
 * @example
 * ```ts
 * import { Agent, request } from 'undici';
 * import { keyedCircuitBreaker, policy } from 'breakwater';
 * import { httpInterceptor } from 'breakwater/http';
 *
 * const api = policy({ deadline: 2_000, circuitBreaker: keyedCircuitBreaker() });
 * const agent = new Agent().compose(httpInterceptor(api));
 * const { statusCode, body } = await request('http://127.0.0.1:8080/orders/42', { dispatcher: agent });
 * console.log(statusCode, await body.text());
 * ```
 */
export function httpInterceptor(
  policy: Policy,
  options?: HttpInterceptorOptions,
): Dispatcher.DispatcherComposeInterceptor {
  checkPolicy(policy, 'httpInterceptor(policy)');
  const shared: SharedState = {
    policy,
    options: resolveHttpOptions(options, ''),
    attributes: new HttpAttributes(),
  };
  return (dispatch) =>
    function breakwaterInterceptor(
      opts: Dispatcher.DispatchOptions,
      handler: Dispatcher.DispatchHandler,
    ): boolean {
      // A tunnel or a protocol switch hands the caller a socket: nothing there can be retried.
      if (
        (opts.upgrade !== undefined && opts.upgrade !== null && opts.upgrade !== false) ||
        opts.method === 'CONNECT'
      ) {
        return dispatch(opts, handler);
      }
      const own = opts.breakwater;
      // Invalid per-request options throw here, as undici does for its own options.
      const settings =
        own === undefined ? undefined : resolveRequestOptions(shared.options, own, 'breakwater');
      const request = opts as DispatchOptionsLike;
      const down = dispatch as DispatchFn;
      // compose() wraps a legacy handler in one that speaks both APIs: use the legacy one,
      // which undici 7's core speaks natively.
      const call =
        typeof handler.onHeaders === 'function'
          ? new LegacyCall(shared, settings, down, request, handler)
          : new ModernCall(shared, settings, down, request, handler);
      return call.start();
    };
}

/** Throws InvalidOptionsError unless `policy` is a breakwater policy without a fallback. */
export function checkPolicy(policy: unknown, option: string): void {
  if (!isPolicy(policy)) invalid(option, 'a breakwater policy (from policy())', policy);
  noFallback(option, policy);
}
