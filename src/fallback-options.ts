/**
 * The `fallback` and `shouldFallback` policy options: their validation, and the rule that
 * decides whether a failed operation is answered by the fallback.
 *
 * A fallback turns a failure into an answer: `fallback(error, ctx)` runs when the operation
 * fails (after its retries or hedges, on an open breaker, a full bulkhead, or a deadline),
 * and what it returns or resolves to becomes the operation's result.
 *
 * @module
 */
import { invalid } from './validate.js';

/**
 * Answers a failed operation. `context` is the engine's (what the operation knew: attempts,
 * deadline, keys). What it returns, or resolves to, is the operation's result; what it
 * throws, or rejects with, is the operation's error.
 */
export type FallbackFunction<C = unknown> = (error: unknown, context: C) => unknown;

/** Chooses which failures reach the fallback: a truthy result means the fallback answers. */
export type ShouldFallback = (error: unknown) => unknown;

/** @internal The validated fallback options of a policy. */
export interface ResolvedFallback {
  readonly fallback: FallbackFunction<never>;
  /** Undefined: every failure but the caller's own abort. */
  readonly shouldFallback: ShouldFallback | undefined;
}

/**
 * Validates `fallback` and `shouldFallback`; undefined when there is no fallback.
 * `shouldFallback` without `fallback` is an error: it would choose among nothing.
 *
 * @throws InvalidOptionsError naming `fallback` or `shouldFallback`.
 * @internal
 */
export function resolveFallback(
  fallback: unknown,
  shouldFallback: unknown,
  prefix = '',
): ResolvedFallback | undefined {
  const fallbackName = `${prefix}fallback`;
  const shouldName = `${prefix}shouldFallback`;
  if (fallback !== undefined && typeof fallback !== 'function') {
    invalid(
      fallbackName,
      'a function (error, ctx) => value (to answer a constant, write () => value)',
      fallback,
    );
  }
  if (shouldFallback !== undefined && typeof shouldFallback !== 'function') {
    invalid(shouldName, 'a function (error) => boolean', shouldFallback);
  }
  if (fallback === undefined) {
    if (shouldFallback !== undefined)
      invalid(shouldName, `set only together with ${fallbackName}`, shouldFallback);
    return undefined;
  }
  return Object.freeze({
    fallback: fallback as FallbackFunction<never>,
    shouldFallback: shouldFallback as ShouldFallback | undefined,
  });
}

/**
 * Whether a failed operation goes to the fallback. The caller's own abort never does: the
 * caller has gone, and nobody is waiting for the answer. Otherwise `shouldFallback` decides
 * (every failure when it is unset). A `shouldFallback` that throws is a bug in it: the
 * failure is not answered by the fallback, and the exception is reported with
 * `process.emitWarning` (code `BREAKWATER_SHOULD_FALLBACK_ERROR`).
 *
 * @param callerAborted - the operation failed because the caller's signal aborted.
 * @internal
 */
export function wantsFallback(resolved: ResolvedFallback, error: unknown, callerAborted: boolean): boolean {
  if (callerAborted) return false;
  const should = resolved.shouldFallback;
  if (should === undefined) return true;
  try {
    return Boolean(should(error));
  } catch (thrown) {
    process.emitWarning(
      `A breakwater shouldFallback threw; the failure is not answered by the fallback: ${
        thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)
      }`,
      { code: 'BREAKWATER_SHOULD_FALLBACK_ERROR' },
    );
    return false;
  }
}
