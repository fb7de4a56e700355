/**
 * How many attempts an operation made before it failed, reachable from the error it
 * failed with, whatever its type: a transport's own error keeps its class and fields.
 *
 * @module
 */

/**
 * One store per process, shared by every copy of breakwater loaded in it (its ESM and
 * CommonJS builds, duplicate installs), like the `isBreakwaterError` brand.
 */
const STORE = Symbol.for('breakwater.attemptsByError');
const holder = globalThis as { [STORE]?: WeakMap<object, number> };
holder[STORE] ??= new WeakMap<object, number>();
const attemptsByError: WeakMap<object, number> = holder[STORE];

/** @internal Notes that an operation failed with `error` after `attempts` attempts. */
export function recordAttempts(error: unknown, attempts: number): void {
  if (attempts > 0 && typeof error === 'object' && error !== null) attemptsByError.set(error, attempts);
}

/**
 * The number of attempts the operation made that failed with `error` (the error `execute`
 * rejected with, or an adapter reported), or undefined when no breakwater operation failed
 * with it after an attempt (a rejection before any attempt, or another error).
 *
 * @example
 * ```ts
 * import { attemptsMade, policy } from 'breakwater';
 *
 * const p = policy({ retry: { maxAttempts: 3, backoff: () => 0 } });
 * try {
 *   await p.execute(async () => {
 *     throw new Error('still down');
 *   });
 * } catch (error) {
 *   console.log(attemptsMade(error)); // 3
 * }
 * ```
 */
export function attemptsMade(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? attemptsByError.get(error) : undefined;
}
