/**
 * The channel target of a call, for a keyed circuit breaker (one breaker state per
 * target). A grpc-js interceptor is not told which channel it runs on, so the target
 * comes from the interceptor's `target` option, from a `key` function, or from
 * {@link tagChannelTarget}, a client option that records each call's channel target in
 * its call options where the interceptor can read it.
 *
 * @module
 */
import type { CallInvocationTransformer, CallOptions } from '@grpc/grpc-js';

/** Where {@link tagChannelTarget} records the target in a call's options. */
const TARGET = Symbol.for('breakwater.grpc.target');

/**
 * A grpc-js `callInvocationTransformer` (a client option) that records each call's
 * channel target, so that one breakwater interceptor shared by clients of several
 * targets keeps one breaker state per target (with a `keyedCircuitBreaker`).
 *
 * @example
 * ```ts
 * import { credentials, Client } from '@grpc/grpc-js';
 * import { keyedCircuitBreaker, policy } from 'breakwater';
 * import { grpcInterceptor, tagChannelTarget } from 'breakwater/grpc';
 * const shared = grpcInterceptor(policy({ circuitBreaker: keyedCircuitBreaker() }));
 * const options = { interceptors: [shared], callInvocationTransformer: tagChannelTarget };
 * const east = new Client('orders-east:50051', credentials.createInsecure(), options);
 * const west = new Client('orders-west:50051', credentials.createInsecure(), options);
 * ```
 */
export const tagChannelTarget: CallInvocationTransformer = (properties) => ({
  ...properties,
  callOptions: { ...properties.callOptions, [TARGET]: properties.channel.getTarget() },
});

/** The target {@link tagChannelTarget} recorded in `options`, if any. */
export function taggedTarget(options: CallOptions): string | undefined {
  const target = (options as { [TARGET]?: unknown })[TARGET];
  return typeof target === 'string' ? target : undefined;
}
