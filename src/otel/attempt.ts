/**
 * The attempt number in the active context. While an attempt starts (and in everything
 * that keeps its context: the transport's callbacks, its instrumentation), the context
 * holds the operation span and the attempt's 1-based number, so a transport's own
 * instrumentation can tell a first request from a resent one.
 *
 * @module
 */
import { type Attributes, type Context, context, createContextKey } from '@opentelemetry/api';
import { ATTR_HTTP_RESEND_COUNT } from './names.js';

/**
 * @internal The context key of the attempt number. `createContextKey` makes a
 * `Symbol.for` key, so two copies of breakwater read each other's value.
 */
export const ATTEMPT_KEY: symbol = createContextKey('breakwater.attempt');

/**
 * The 1-based number of the breakwater attempt running in `ctx` (default: the active
 * context), or undefined outside one. Set only while the operation is traced: with
 * `tracing: false`, or no SDK registered, it is undefined.
 *
 * @example
 * ```ts
 * import { activeAttempt } from 'breakwater/otel';
 * const attempt = activeAttempt(); // 2 inside the first retry
 * ```
 */
export function activeAttempt(ctx: Context = context.active()): number | undefined {
  const value = ctx.getValue(ATTEMPT_KEY);
  return typeof value === 'number' ? value : undefined;
}

const NONE: Attributes = Object.freeze({});

/**
 * A `startSpanHook` for `@opentelemetry/instrumentation-undici`: the CLIENT span of every
 * request that breakwater resends gets `http.request.resend_count` (1 on the first retry,
 * 2 on the second...), as the HTTP semantic conventions ask; a first attempt gets nothing.
 * It reads the attempt number from the active context (see {@link activeAttempt}), which
 * undici's instrumentation sees while an attempt starts its request.
 *
 * @example
 * ```ts
 * import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
 * import { undiciResendCount } from 'breakwater/otel';
 * const undici = new UndiciInstrumentation({ startSpanHook: undiciResendCount() });
 * ```
 */
export function undiciResendCount(): (request: unknown) => Attributes {
  return resendCountHook;
}

function resendCountHook(): Attributes {
  const attempt = context.active().getValue(ATTEMPT_KEY);
  return typeof attempt === 'number' && attempt > 1 ? { [ATTR_HTTP_RESEND_COUNT]: attempt - 1 } : NONE;
}
