/**
 * `grpcInterceptor(policy, options)`: breakwater's policies for any grpc-js client, as a
 * standard client interceptor.
 *
 * @module
 */
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import type { Policy } from '../index.js';
import { type GrpcInterceptorOptions, InterceptorConfig } from './methods.js';
import { ResilientCall } from './resilient-call.js';

/**
 * A grpc-js client interceptor that runs every call through `policy`: deadline, retries
 * with backoff and budget, circuit breaker, bulkhead and idempotency key. Give it to any
 * client, generated or from proto-loader, in `interceptors: [...]`.
 *
 * - Unary and server-streaming calls are retried until the first response message
 *   arrives; each retry is a new call with the same metadata and request, plus
 *   `grpc-previous-rpc-attempts`. Client-streaming and bidi calls get deadline, breaker
 *   and bulkhead only.
 * - The call's deadline is the earlier of the caller's `deadline` call option (and a
 *   `parent` call's, see {@link callOptionsFrom}) and the policy's; one deadline spans all
 *   attempts, and each attempt's call carries what is left of it (or its attempt timeout).
 * - Retried by default: UNAVAILABLE; RESOURCE_EXHAUSTED only with server pushback; an
 *   attempt that ran past `attemptTimeout` (see {@link grpcRetryOn}). A policy's own
 *   `retry.retryOn` replaces these rules. `grpc-retry-pushback-ms` sets the delay (capped by
 *   `backoff.maxDelay`); a negative or unparseable one stops retrying.
 * - The idempotency key goes out as `idempotency-key` metadata, identical on every attempt.
 *   A caller's own `idempotency-key` metadata is used as the key.
 * - Breakwater's rejections reach the caller as a `ServiceError` with the matching status
 *   (circuit open: UNAVAILABLE, deadline: DEADLINE_EXCEEDED, bulkhead: RESOURCE_EXHAUSTED)
 *   and the BreakwaterError as `cause`. When retries stop, the caller gets the server's own
 *   last status, details and metadata.
 * - `call.cancel()` stops everything at once: the attempt in flight, a backoff wait, a
 *   bulkhead queue.
 *
 * Turn grpc-js's own retries off on channels that use it (`'grpc.enable_retries': 0`, or
 * no `retryPolicy` in the service config), or both layers retry.
 *
 * @param policy - the policy for every method not given one of its own.
 * @param options - per-method options and the breaker key; see {@link GrpcInterceptorOptions}.
 * @throws InvalidOptionsError at once when an option is invalid.
 *
 * @example
 * ```ts
 * import { credentials, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
 * import { loadSync } from '@grpc/proto-loader';
 * import { backoff, circuitBreaker, policy } from 'breakwater';
 * import { grpcInterceptor } from 'breakwater/grpc';
 *
 * const orders = policy({
 *   name: 'orders',
 *   deadline: 2_000,
 *   attemptTimeout: 500,
 *   retry: { maxAttempts: 4, backoff: backoff.exponential({ initialDelay: 50, maxDelay: 1_000 }) },
 *   circuitBreaker: circuitBreaker(),
 *   idempotency: true,
 * });
 * const proto = loadPackageDefinition(loadSync('orders.proto')) as any;
 * const OrderService: ServiceClientConstructor = proto.orders.v1.OrderService;
 * const client = new OrderService('orders:50051', credentials.createInsecure(), {
 *   'grpc.enable_retries': 0,
 *   interceptors: [
 *     grpcInterceptor(orders, { methods: { '/orders.v1.OrderService/CreateOrder': { idempotent: false } } }),
 *   ],
 * });
 * ```
 */
export function grpcInterceptor(policy: Policy, options?: GrpcInterceptorOptions): Interceptor {
  const config = new InterceptorConfig(policy, options);
  return (callOptions, nextCall) =>
    new InterceptingCall(new ResilientCall(config.planFor(callOptions), callOptions, nextCall));
}
