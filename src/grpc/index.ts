/**
 * `breakwater/grpc`: breakwater's policies for @grpc/grpc-js clients, as a standard
 * client interceptor, with deadline propagation across hops.
 *
 * `@grpc/grpc-js` is an optional peer dependency of this subpath only.
 *
 * @packageDocumentation
 */

export { PREVIOUS_ATTEMPTS } from './call-parts.js';
export { grpcRetryOn, isGrpcFailure, retryOnCodes, type StatusCode } from './classify.js';
export { grpcInterceptor } from './interceptor.js';
export type { GrpcCallInfo, GrpcInterceptorOptions, GrpcMethodOptions } from './methods.js';
export {
  callOptionsFrom,
  deadlineFrom,
  type IncomingCall,
  type PropagationOptions,
} from './propagation.js';
export { MAX_PUSHBACK_MS, PUSHBACK_KEY, type Pushback, parsePushback } from './pushback.js';
export { IDEMPOTENCY_KEY } from './resilient-call.js';
export { tagChannelTarget } from './target.js';
