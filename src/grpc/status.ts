/**
 * Between gRPC statuses and errors. An attempt that ends with a non-OK status fails with
 * a grpc-js `ServiceError` (what `retryOn` and, when retrying stops, the caller see);
 * breakwater's own rejections are turned into the status a gRPC caller expects.
 *
 * @module
 */
import { Metadata, type ServiceError, status as Status, type StatusObject } from '@grpc/grpc-js';
import { isBreakwaterError } from '../index.js';

/** A status handed to the caller, with the error that caused it (copied onto the ServiceError). */
export interface StatusWithCause extends StatusObject {
  readonly cause: unknown;
}

/**
 * A `ServiceError` for an attempt's status, shaped like the ones grpc-js gives callers
 * (`code`, `details`, `metadata`, message `"14 UNAVAILABLE: ..."`). No stack trace: it
 * would only show grpc-js internals, and while a dependency is failing these are created
 * at a high rate.
 */
export function serviceError(status: StatusObject): ServiceError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let error: Error;
  try {
    error = new Error(`${status.code} ${Status[status.code]}: ${status.details}`);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return Object.assign(error, { code: status.code, details: status.details, metadata: status.metadata });
}

/** True for an object carrying a numeric gRPC status code (a ServiceError or a status). */
export function hasGrpcCode(error: unknown): error is { code: number; metadata?: unknown } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    Number.isInteger((error as { code: number }).code)
  );
}

/**
 * The caller cancelled the call (`call.cancel()`), or its parent server call was
 * cancelled: the reason the operation stops with. @internal
 */
export class CallCancelledError extends Error {
  readonly code: number;
  readonly details: string;

  constructor(code: number, details: string) {
    super(`${code} ${Status[code] ?? 'UNKNOWN'}: ${details}`);
    this.name = 'CallCancelledError';
    this.code = code;
    this.details = details;
  }
}

/**
 * The status for an error that did not come from the server: breakwater's rejections
 * (circuit open: UNAVAILABLE, deadline or attempt timeout: DEADLINE_EXCEEDED, bulkhead:
 * RESOURCE_EXHAUSTED), a cancellation (its own code), anything else (UNKNOWN). The error
 * is kept as `cause`; grpc-js copies it onto the `ServiceError` the caller receives.
 */
export function statusFromError(error: unknown): StatusWithCause {
  if (error instanceof CallCancelledError) {
    return { code: error.code, details: error.details, metadata: new Metadata(), cause: error };
  }
  let code: number = Status.UNKNOWN;
  let details = error instanceof Error ? error.message : String(error);
  if (isBreakwaterError(error)) {
    details = `breakwater: ${error.message}`;
    switch (error.code) {
      case 'BREAKWATER_CIRCUIT_OPEN':
      case 'BREAKWATER_THROTTLED':
        code = Status.UNAVAILABLE;
        break;
      case 'BREAKWATER_DEADLINE_EXCEEDED':
      case 'BREAKWATER_ATTEMPT_TIMEOUT':
        code = Status.DEADLINE_EXCEEDED;
        break;
      case 'BREAKWATER_BULKHEAD_FULL':
        code = Status.RESOURCE_EXHAUSTED;
        break;
      default:
        code = Status.INTERNAL;
    }
  }
  // Keep the trailers of a server status that is the cause (a deadline that expired
  // while the server was answering), so the caller still sees them.
  const cause = (error as { cause?: unknown } | null)?.cause;
  const metadata = hasGrpcCode(cause) && cause.metadata instanceof Metadata ? cause.metadata : new Metadata();
  return { code, details, metadata, cause: error };
}
