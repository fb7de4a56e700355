/**
 * Which JetStream publish failures are worth another attempt, across the error shapes of
 * `nats` v2 and `@nats-io/jetstream` v3, recognised by duck typing (no import of either):
 *
 * | failure                        | nats v2                                  | @nats-io v3                                         |
 * | ------------------------------ | ---------------------------------------- | --------------------------------------------------- |
 * | no ack in time                 | `NatsError`, `code: 'TIMEOUT'`           | `TimeoutError`                                      |
 * | no responders (no stream / JetStream not ready) | `NatsError`, `code: '503'` | `JetStreamNotEnabled` ← `RequestError` ← `NoResponders` |
 * | server refused (API error)     | `NatsError` with `api_error`             | `JetStreamApiError` (`code` = err_code, `status`)   |
 * | connection closed for good     | `code: 'CONNECTION_CLOSED'`              | `ClosedConnectionError`                             |
 *
 * (Observed against nats-server 2.9.10; the integration suite checks these shapes stay so.)
 *
 * @module
 */
import { type AttemptContext, isBreakwaterError } from '../index.js';

/** The JetStream API error a server answered with: HTTP-like `status` and JetStream `errCode`. */
export interface JetStreamApiErrorInfo {
  /** 400, 404, 503, ... */
  readonly status: number;
  /** JetStream's own error code, e.g. 10071 (wrong last sequence). */
  readonly errCode: number;
  readonly description: string;
}

/** JetStream error codes that the adapter cares about. */
export const JetStreamErrorCodes = Object.freeze({
  /** `expect.lastSequence` did not match (also KV's "key exists"). */
  wrongLastSequence: 10071,
  /** Same, when the server cannot tell the last sequence (newer servers). */
  wrongLastSequenceUnknown: 10164,
  /** `expect.lastMsgID` did not match. */
  wrongLastMsgId: 10070,
  /** `expect.streamName` did not match. */
  streamMismatch: 10060,
  /** No such stream. */
  streamNotFound: 10059,
  /** "JetStream system temporarily unavailable": leader election, restart. */
  temporarilyUnavailable: 10008,
  /** JetStream is not enabled for the account: configuration, not a blip. */
  notEnabledForAccount: 10039,
});

const MAX_CAUSE_DEPTH = 5;

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** The API error carried by `error` (v2 `api_error`, v3 `apiError()`), or undefined. */
export function jetStreamApiError(error: unknown): JetStreamApiErrorInfo | undefined {
  let raw = field(error, 'api_error');
  if (raw === undefined) {
    const getter = field(error, 'apiError');
    if (typeof getter === 'function') {
      try {
        raw = getter.call(error);
      } catch {
        raw = undefined;
      }
    }
  }
  const status = field(raw, 'code');
  const errCode = field(raw, 'err_code');
  if (typeof status !== 'number') return undefined;
  const description = field(raw, 'description');
  return {
    status,
    errCode: typeof errCode === 'number' ? errCode : 0,
    description: typeof description === 'string' ? description : '',
  };
}

/** `error` or one of its causes satisfies `test`. */
function anyCause(error: unknown, test: (e: unknown) => boolean): boolean {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    if (test(current)) return true;
    current = field(current, 'cause');
  }
  return false;
}

function isOwnTimeout(e: unknown): boolean {
  const name = field(e, 'name');
  return (name === 'NatsError' && field(e, 'code') === 'TIMEOUT') || name === 'TimeoutError';
}

/** The request got no answer in time (the ack may be lost, or the server busy or away). */
export function isJetStreamTimeout(error: unknown): boolean {
  return anyCause(error, isOwnTimeout);
}

function isOwnNoResponders(e: unknown): boolean {
  const name = field(e, 'name');
  if (name === 'NatsError') return field(e, 'code') === '503' && field(e, 'api_error') === undefined;
  return name === 'NoResponders' || name === 'NoRespondersError';
}

/**
 * Nobody listens on the subject: no stream holds it, or JetStream is not (yet) serving it
 * (a restart, a leader election). v3 reports this as `JetStreamNotEnabled` caused by a
 * `RequestError` caused by `NoResponders`.
 */
export function isNoResponders(error: unknown): boolean {
  return anyCause(error, isOwnNoResponders);
}

/** The server refused an `expect.lastSequence` / `lastSubjectSequence` precondition. */
export function isWrongLastSequence(error: unknown): boolean {
  const api = jetStreamApiError(error);
  return (
    api !== undefined &&
    (api.errCode === JetStreamErrorCodes.wrongLastSequence ||
      api.errCode === JetStreamErrorCodes.wrongLastSequenceUnknown)
  );
}

function isDisconnect(e: unknown): boolean {
  return field(e, 'name') === 'NatsError' && field(e, 'code') === 'DISCONNECT';
}

/**
 * Errors a publish is retried on, given that every attempt carries the same Nats-Msg-Id
 * (so a retry of a message that was in fact stored is dropped as a duplicate):
 * - an attempt timeout (breakwater's `AttemptTimeoutError`) or the client's request timeout;
 * - no responders (a stream coming back after a restart or a leader election);
 * - a disconnect (v2 `DISCONNECT`);
 * - the API answer 503 "JetStream system temporarily unavailable".
 *
 * Not retried: any other API answer (wrong last sequence, wrong last msg id, stream
 * mismatch, message too large, ...), which a second try cannot change; a closed or
 * draining connection; breakwater's own rejections; programmer errors.
 */
export function isRetryableJetStreamError(error: unknown): boolean {
  if (isBreakwaterError(error)) return error.code === 'BREAKWATER_ATTEMPT_TIMEOUT';
  const api = jetStreamApiError(error);
  if (api !== undefined) {
    return api.status === 503 && api.errCode !== JetStreamErrorCodes.notEnabledForAccount;
  }
  return isJetStreamTimeout(error) || isNoResponders(error) || anyCause(error, isDisconnect);
}

/**
 * Errors that stopped retrying by design, so the classifier must not retry them again
 * (the retry horizon of {@link jetStreamRetryOn} passed).
 * @internal
 */
export const stoppedErrors: WeakSet<object> = new WeakSet();

/**
 * The publisher's default `retryOn`: {@link isRetryableJetStreamError}. The publisher passes
 * it to `execute` only when the policy has no `retry.retryOn` of its own; compose it into
 * your own classifier if you need both.
 *
 * @example
 * ```ts
 * import { policy } from 'breakwater';
 * import { jetStreamRetryOn } from 'breakwater/nats';
 * // Your own transient failure, e.g. from a store the publish reads first.
 * const isMyTransientError = (error: unknown) => error instanceof Error && error.message === 'store busy';
 * const events = policy({
 *   retry: { retryOn: (error, ctx) => jetStreamRetryOn(error, ctx) || isMyTransientError(error) },
 * });
 * ```
 */
export function jetStreamRetryOn(error: unknown, _context?: AttemptContext): boolean {
  if (typeof error === 'object' && error !== null && stoppedErrors.has(error)) return false;
  return isRetryableJetStreamError(error);
}

/**
 * A breaker `isFailure` for JetStream: counts what says the stream is unwell (timeouts, no
 * responders, 5xx answers, lost connections) and not what the caller asked for (a failed
 * `expect` precondition or another 4xx answer), nor breakwater's own rejections.
 *
 * @example
 * ```ts
 * import { keyedCircuitBreaker, policy } from 'breakwater';
 * import { isJetStreamFailure } from 'breakwater/nats';
 * const perStream = keyedCircuitBreaker({ isFailure: isJetStreamFailure });
 * const events = policy({ circuitBreaker: perStream });
 * ```
 */
export function isJetStreamFailure(error: unknown): boolean {
  if (isBreakwaterError(error)) {
    return error.code !== 'BREAKWATER_CIRCUIT_OPEN' && error.code !== 'BREAKWATER_BULKHEAD_FULL';
  }
  const api = jetStreamApiError(error);
  if (api !== undefined) return api.status >= 500;
  return !(error instanceof TypeError || error instanceof RangeError);
}
