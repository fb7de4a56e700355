/**
 * Which failed gRPC attempts are retried: the adapter's default classification, and a
 * builder for a service config's `retryableStatusCodes`.
 *
 * @module
 */
import { status as Status } from '@grpc/grpc-js';
import { type AttemptContext, isBreakwaterError, type RetryDecision, type RetryOn } from '../index.js';
import { invalid } from '../validate.js';
import { parsePushback } from './pushback.js';
import { hasGrpcCode } from './status.js';

/** A gRPC status code, as a number (`status.UNAVAILABLE`) or by name (`'UNAVAILABLE'`). */
export type StatusCode = number | keyof typeof Status;

/**
 * Applies the server's pushback to a status that is otherwise retryable: a delay replaces
 * the backoff (the policy caps it by `backoff.maxDelay`), a negative or unparseable value
 * stops, no pushback leaves the computed backoff.
 */
function withPushback(metadata: unknown, requirePushback: boolean): RetryDecision {
  const pushback = parsePushback(
    typeof (metadata as { get?: unknown } | undefined)?.get === 'function'
      ? (metadata as Parameters<typeof parsePushback>[0])
      : undefined,
  );
  if (pushback === 'stop') return false;
  if (pushback === undefined) return !requirePushback;
  return { retry: true, after: pushback };
}

/**
 * The adapter's default `retryOn`, used when the policy has none of its own:
 * - `UNAVAILABLE`: retried (the server's pushback, if any, sets the delay or stops it);
 * - `RESOURCE_EXHAUSTED`: retried only when the server sent a pushback delay: without
 *   one, a retry would only add to the overload;
 * - an attempt that ran past `attemptTimeout` (an {@link AttemptTimeoutError}, which is
 *   what the adapter reports when an attempt's own deadline expired): retried. A
 *   `DEADLINE_EXCEEDED` caused by the operation's deadline, or sent by the server, is not;
 * - everything else, breakwater's own rejections included: not retried.
 *
 * Compose it when you write your own classification, e.g. to also retry `ABORTED`:
 *
 * @example
 * ```ts
 * import { status } from '@grpc/grpc-js';
 * import { policy } from 'breakwater';
 * import { grpcRetryOn } from 'breakwater/grpc';
 * const orders = policy({
 *   retry: {
 *     retryOn: (error, ctx) =>
 *       (error as { code?: unknown }).code === status.ABORTED || grpcRetryOn(error, ctx),
 *   },
 * });
 * ```
 */
export const grpcRetryOn: RetryOn = (error: unknown, _context: AttemptContext): RetryDecision => {
  if (isBreakwaterError(error)) return error.code === 'BREAKWATER_ATTEMPT_TIMEOUT';
  if (!hasGrpcCode(error)) return false;
  if (error.code === Status.UNAVAILABLE) return withPushback(error.metadata, false);
  if (error.code === Status.RESOURCE_EXHAUSTED) return withPushback(error.metadata, true);
  return false;
};

function toCode(value: unknown, index: number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 16) return value;
  if (
    typeof value === 'string' &&
    Object.hasOwn(Status, value) &&
    typeof Status[value as keyof typeof Status] === 'number'
  ) {
    return Status[value as keyof typeof Status];
  }
  return invalid(
    `retryOnCodes(codes)[${index}]`,
    'a gRPC status code (0 to 16) or its name, e.g. "UNAVAILABLE"',
    value,
  );
}

/**
 * A `retryOn` that retries the given status codes, like a service config's
 * `retryPolicy.retryableStatusCodes`. Server pushback applies to them as gRFC A6 says
 * (a delay replaces the backoff; a negative or unparseable value stops), and an attempt
 * that ran past `attemptTimeout` is retried too. `OK` cannot be listed.
 *
 * @param codes - status codes, as numbers or names (`'UNAVAILABLE'`).
 * @throws InvalidOptionsError when `codes` is empty or holds anything but a status code.
 *
 * @example
 * ```ts
 * import { policy } from 'breakwater';
 * import { retryOnCodes } from 'breakwater/grpc';
 * const orders = policy({ retry: { maxAttempts: 4, retryOn: retryOnCodes(['UNAVAILABLE', 'ABORTED']) } });
 * ```
 */
export function retryOnCodes(codes: readonly StatusCode[]): RetryOn {
  if (!Array.isArray(codes) || codes.length === 0) {
    invalid('retryOnCodes(codes)', 'a non-empty array of gRPC status codes', codes);
  }
  const set = new Set<number>();
  codes.forEach((value, index) => {
    const code = toCode(value, index);
    if (code === Status.OK) invalid(`retryOnCodes(codes)[${index}]`, 'a status code other than OK', value);
    set.add(code);
  });
  return (error: unknown): RetryDecision => {
    if (isBreakwaterError(error)) return error.code === 'BREAKWATER_ATTEMPT_TIMEOUT';
    if (!hasGrpcCode(error) || !set.has(error.code)) return false;
    return withPushback(error.metadata, false);
  };
}

/** The classification of a method that is never retried. */
export const neverRetry: RetryOn = () => false;

/** Status codes that say the server or the path to it is unwell. */
const UNHEALTHY = new Set<number>([
  Status.UNKNOWN,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
  Status.DATA_LOSS,
]);

/**
 * A circuit breaker `isFailure` for gRPC: counts what says the dependency is unwell
 * (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `INTERNAL`, `UNKNOWN`,
 * `DATA_LOSS`, attempt timeouts and deadlines, errors without a status), and not the
 * answers of a healthy server to a request it refuses (`INVALID_ARGUMENT`, `NOT_FOUND`,
 * `ALREADY_EXISTS`, `PERMISSION_DENIED`, `UNAUTHENTICATED`, `FAILED_PRECONDITION`,
 * `ABORTED`, `OUT_OF_RANGE`, `UNIMPLEMENTED`, `CANCELLED`) nor breakwater's own rejections.
 * The breaker's default counts every error, so a burst of NOT_FOUND would open it.
 *
 * @example
 * ```ts
 * import { circuitBreaker, policy } from 'breakwater';
 * import { isGrpcFailure } from 'breakwater/grpc';
 * const orders = policy({ circuitBreaker: circuitBreaker({ isFailure: isGrpcFailure }) });
 * ```
 */
export function isGrpcFailure(error: unknown): boolean {
  if (isBreakwaterError(error)) {
    return error.code === 'BREAKWATER_ATTEMPT_TIMEOUT' || error.code === 'BREAKWATER_DEADLINE_EXCEEDED';
  }
  if (hasGrpcCode(error)) return UNHEALTHY.has(error.code);
  return true;
}
