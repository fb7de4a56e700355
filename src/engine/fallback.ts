/**
 * The fallback stage: when an operation fails, a function of the policy's may answer in
 * its place (a cached price, a default). It runs once the operation has settled and
 * released everything, so a fallback that calls the same dependency through the same
 * policy finds the bulkhead slot free and the breaker up to date.
 *
 * @internal
 * @module
 */
import type { FallbackContext, PolicyConfig } from '../types.js';
import type { OperationHandler } from './handler.js';
import { isThenable } from './handler.js';

/** Whether the policy's fallback answers for `error`: never for the caller's own abort. */
export function fallbackApplies(cfg: PolicyConfig, error: unknown, signal: AbortSignal | undefined): boolean {
  if (cfg.fallback === undefined) return false;
  if (signal?.aborted === true && error === signal.reason) return false;
  const should = cfg.shouldFallback;
  if (should === undefined) return true;
  try {
    return should(error) === true;
  } catch (thrown) {
    // A bug in shouldFallback must not hide the failure: it is not answered, and reported.
    process.emitWarning(
      `A breakwater shouldFallback threw; the failure is not answered by the fallback: ${
        thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)
      }`,
      { code: 'BREAKWATER_SHOULD_FALLBACK_ERROR' },
    );
    return false;
  }
}

/** Runs the fallback for `error`; its value (or its own failure) settles `handler`. */
export function runFallback<T>(
  cfg: PolicyConfig,
  error: unknown,
  context: FallbackContext,
  handler: OperationHandler<T>,
): void {
  let result: unknown;
  try {
    result = (cfg.fallback as NonNullable<PolicyConfig['fallback']>)(error, context);
  } catch (fallbackError) {
    handler.failed(fallbackError);
    return;
  }
  if (isThenable(result)) {
    result.then(
      (value) => handler.succeeded(value as T),
      (fallbackError: unknown) => handler.failed(fallbackError),
    );
  } else {
    handler.succeeded(result as T);
  }
}
