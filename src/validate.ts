/**
 * Up-front validation of options. Every check throws {@link InvalidOptionsError} naming
 * the option, what is allowed and what was given, so a mistake surfaces at construction
 * and never in the middle of a call.
 *
 * @internal
 * @module
 */
import { InvalidOptionsError } from './errors.js';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Throws the standard error for `option`. */
export function invalid(option: string, allowed: string, value: unknown): never {
  throw new InvalidOptionsError(option, `${option} must be ${allowed}; got ${show(value)}`);
}

/**
 * Throws InvalidOptionsError for a policy with a `fallback` given to a transport adapter:
 * an adapter hands the caller transport responses (a gRPC status, an HTTP response), not
 * the values a fallback returns.
 */
export function noFallback(
  option: string,
  policy: { readonly config: { readonly fallback?: unknown } },
): void {
  if (policy.config.fallback !== undefined) {
    throw new InvalidOptionsError(
      option,
      `${option} must be a policy without fallback (an adapter delivers transport responses, not values: ` +
        'call policy.execute around the request to use a fallback); got a policy with a fallback',
    );
  }
}

interface NumberRule {
  min?: number;
  max?: number;
  /** Whether `min` itself is excluded. */
  exclusiveMin?: boolean;
  integer?: boolean;
  /** Whether Infinity is allowed (only where max is Infinity). */
  allowInfinity?: boolean;
}

function describe(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  const { min, max } = rule;
  const hasMax = max !== undefined && max !== Number.POSITIVE_INFINITY;
  if (min !== undefined && hasMax) {
    return rule.exclusiveMin ? `${kind} above ${min} and at most ${max}` : `${kind} from ${min} to ${max}`;
  }
  if (min !== undefined) {
    return rule.exclusiveMin ? `${kind} above ${min}` : `${kind} of at least ${min}`;
  }
  if (hasMax) return `${kind} of at most ${max}`;
  return kind;
}

/** Validates a number option; returns `fallback` when the value is undefined. */
export function num(option: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  return requireNum(option, value, rule);
}

/** Validates a required number option. */
export function requireNum(option: string, value: unknown, rule: NumberRule): number {
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (rule.allowInfinity === true && value === Number.POSITIVE_INFINITY)) &&
    (!rule.integer || Number.isInteger(value) || value === Number.POSITIVE_INFINITY) &&
    (rule.min === undefined || (rule.exclusiveMin ? value > rule.min : value >= rule.min)) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) invalid(option, describe(rule), value);
  return value as number;
}

/** Validates an optional function option. */
export function fn<F extends (...args: never[]) => unknown>(option: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') invalid(option, 'a function', value);
  return value as F;
}

/** Validates that `value` is a plain object (or undefined) and that it has no unknown keys. */
export function obj<T extends object>(
  option: string,
  value: unknown,
  known: readonly string[],
): Partial<T> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(option, 'an object', value);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionsError(
        option === '' ? key : `${option}.${key}`,
        `unknown option ${JSON.stringify(key)}${option === '' ? '' : ` in ${option}`}; allowed: ${known.join(', ')}`,
      );
    }
  }
  return value as Partial<T>;
}

/** Validates an enumerated string option. */
export function oneOf<T extends string>(
  option: string,
  value: unknown,
  fallback: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalid(option, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  }
  return value as T;
}

/** Validates an optional boolean option. */
export function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(option, 'true or false', value);
  return value;
}
