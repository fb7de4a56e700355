/**
 * The HTTP adapter's default classification: which failures of a repeatable request are
 * worth another attempt. It replaces the core's default only when the policy has no
 * `retry.retryOn` of its own; whether a request may be repeated at all (its method, its
 * idempotency key, its body) is decided apart from it, in the adapters.
 *
 * @module
 */
import { isBreakwaterError } from '../errors.js';
import type { RetryDecision } from '../index.js';
import { formatIdempotencyKey } from './idempotency-key.js';
import { RETRYABLE, type ResolvedHttpOptions } from './options.js';
import { isHttpStatusError } from './status-error.js';

/** How deep to look through `cause` (fetch wraps network errors: TypeError → cause). */
const MAX_CAUSE_DEPTH = 4;

/**
 * The code of a network error: `error.code`, or that of its `cause` chain (Node's fetch
 * throws `TypeError('fetch failed')` with the socket error as cause), or of the first
 * error of an `AggregateError` (a connection tried on several addresses).
 */
export function networkErrorCode(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current !== 'object' || current === null) return undefined;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (current as { errors?: unknown }).errors;
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The default verdict for a failed attempt of a repeatable request: retry a retryable
 * status (with its `Retry-After` as the delay when it gave one), an attempt timeout, and a
 * network error whose code is listed; nothing else.
 */
export function classifyHttpFailure(error: unknown, options: ResolvedHttpOptions): RetryDecision {
  if (isHttpStatusError(error)) {
    if (options.statusKinds[error.statusCode] !== RETRYABLE) return false;
    return error.retryAfter === undefined ? true : { retry: true, after: error.retryAfter };
  }
  if (isBreakwaterError(error)) return error.code === 'BREAKWATER_ATTEMPT_TIMEOUT';
  const code = networkErrorCode(error);
  return code !== undefined && options.errorCodes.has(code);
}

/** Whether a verdict asks for a retry. */
export function wantsRetry(verdict: RetryDecision): boolean {
  return verdict === true || (typeof verdict === 'object' && verdict !== null && verdict.retry === true);
}

/** Whether a request may be repeated, and the idempotency header value to send with it. */
export interface Repeatability {
  readonly repeatable: boolean;
  /** The idempotency header value to add (an sf-string), or undefined to add none. */
  readonly keyHeader: string | undefined;
}

/**
 * Decides, once per request, whether it may be repeated:
 *
 * - `idempotent: false` on the request: never;
 * - the caller set the idempotency header itself: yes, and nothing is added;
 * - the request names its own key, or its method is not repeatable by itself (POST,
 *   PATCH): the operation's key (the request's own, or the policy's generated one) is
 *   sent, and the request is repeatable if there is one (or `idempotent: true`);
 * - otherwise (GET, PUT, ...): yes, without a key.
 */
export function repeatability(
  method: string,
  options: ResolvedHttpOptions,
  idempotent: boolean | undefined,
  ownKey: string | undefined,
  hasKeyHeader: () => boolean,
  operationKey: () => string | undefined,
): Repeatability {
  if (idempotent === false) return NEVER;
  const byMethod = options.methods.has(method) || options.methods.has(method.toUpperCase());
  if (ownKey === undefined && byMethod) return ALWAYS;
  if (hasKeyHeader()) return ALWAYS;
  const key = operationKey();
  return {
    repeatable: idempotent === true || byMethod || key !== undefined,
    keyHeader: key === undefined ? undefined : formatIdempotencyKey(key),
  };
}

const NEVER: Repeatability = Object.freeze({ repeatable: false, keyHeader: undefined });
const ALWAYS: Repeatability = Object.freeze({ repeatable: true, keyHeader: undefined });
