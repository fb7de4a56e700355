/**
 * Backoff strategies: pure functions from (retry number, previous delay, random source) to
 * a delay. A strategy holds no per-call state, so one instance serves any number of
 * concurrent operations.
 *
 * @module
 */
import { invalid, num, obj, oneOf } from '../validate.js';

/** How randomness is mixed into an exponential delay. */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

/**
 * A backoff strategy.
 *
 * Every delay it returns lies in `[0, maxDelay]`; `maxDelay` also caps server hints
 * (Retry-After, grpc-retry-pushback-ms) that replace the computed delay.
 */
export interface Backoff {
  /** Upper bound of every delay, in ms, and the cap for server hints. */
  readonly maxDelay: number;
  /**
   * The delay before retry number `retry` (1 = the first retry, i.e. before attempt 2).
   *
   * @param retry - 1-based retry number.
   * @param previous - the delay used before the previous retry, 0 before the first.
   * @param random - a source of uniform numbers in [0, 1); `Math.random` by default.
   */
  delay(retry: number, previous: number, random?: () => number): number;
}

/** Options of {@link BackoffFactories.exponential | backoff.exponential}. */
export interface ExponentialBackoffOptions {
  /**
   * Delay before the first retry, before jitter, in ms.
   * @default 100
   */
  initialDelay?: number | undefined;
  /**
   * Largest delay, in ms; also caps server hints.
   * @default 10_000
   */
  maxDelay?: number | undefined;
  /**
   * Growth factor per retry: retry n waits up to `initialDelay * multiplier ** (n - 1)`.
   * @default 2
   */
  multiplier?: number | undefined;
  /**
   * - `'full'`: uniform in [0, d] (AWS "full jitter"; spreads retries best).
   * - `'equal'`: d/2 plus uniform in [0, d/2].
   * - `'decorrelated'`: uniform in [initialDelay, 3 × previous delay], capped by maxDelay,
   *   where the previous delay counts as at least initialDelay, so the first retry is spread
   *   over [initialDelay, 3 × initialDelay] (AWS "decorrelated jitter"; `multiplier` is not used).
   * - `'none'`: exactly d.
   *
   * where d = min(maxDelay, initialDelay × multiplier^(n−1)).
   * @default 'full'
   */
  jitter?: Jitter | undefined;
}

/** Options of {@link BackoffFactories.constant | backoff.constant}. */
export interface ConstantBackoffOptions {
  /** Delay before every retry, in ms. */
  delay: number;
  /**
   * Cap for server hints that replace the delay, in ms. At least `delay`.
   * @default delay
   */
  maxDelay?: number | undefined;
}

/** Options of {@link BackoffFactories.custom | backoff.custom}. */
export interface CustomBackoffOptions {
  /**
   * Cap applied to the function's result and to server hints, in ms.
   * @default 30_000
   */
  maxDelay?: number | undefined;
}

/** A delay function for {@link BackoffFactories.custom | backoff.custom}: `(retry, previousDelay) => ms`. */
export type BackoffFunction = (retry: number, previous: number) => number;

const JITTERS: readonly Jitter[] = ['full', 'equal', 'decorrelated', 'none'];
const MAX_DELAY_LIMIT = 2_147_483_647; // setTimeout's own limit (~24.8 days)

// What each factory accepts, spelled out in full whenever its input has the wrong shape.
const CONSTANT_FORMS =
  'a delay in ms (a number from 0 to 2147483647, e.g. backoff.constant(200)) or ' +
  '{ delay: ms, maxDelay?: ms } (e.g. backoff.constant({ delay: 200, maxDelay: 5_000 }))';
const EXPONENTIAL_FORMS =
  "nothing (the defaults) or { initialDelay?: ms, maxDelay?: ms, multiplier?: number, jitter?: 'full' | " +
  "'equal' | 'decorrelated' | 'none' } (e.g. backoff.exponential({ initialDelay: 100, maxDelay: 10_000 }))";
const CUSTOM_FORMS = 'a function (retry, previousDelay) => ms (e.g. backoff.custom((retry) => retry * 100))';
/** Said of a string where a number of ms belongs: no unit is parsed. */
const NO_UNITS = 'durations are plain numbers of milliseconds; strings such as "200ms" are not parsed';

/** A delay in ms; a string (a unit, "200ms") gets its own hint. */
function delayMs(option: string, value: unknown, fallback: number): number {
  if (typeof value === 'string')
    invalid(option, `a number of ms from 0 to ${MAX_DELAY_LIMIT} (${NO_UNITS})`, value);
  return num(option, value, fallback, { min: 0, max: MAX_DELAY_LIMIT });
}

/**
 * One draw from `random`, clamped to [0, 1] (NaN counts as 0), so that a user-supplied
 * source that misbehaves cannot push a delay outside [0, maxDelay].
 */
function unit(random: () => number): number {
  const r = random();
  return r >= 0 ? Math.min(r, 1) : 0;
}

class ExponentialBackoff implements Backoff {
  readonly maxDelay: number;
  readonly #initial: number;
  readonly #multiplier: number;
  readonly #jitter: Jitter;

  constructor(initial: number, max: number, multiplier: number, jitter: Jitter) {
    this.#initial = initial;
    this.maxDelay = max;
    this.#multiplier = multiplier;
    this.#jitter = jitter;
    Object.freeze(this);
  }

  delay(retry: number, previous: number, random: () => number = Math.random): number {
    const initial = this.#initial;
    const max = this.maxDelay;
    const jitter = this.#jitter;
    if (jitter === 'decorrelated') {
      // AWS's decorrelated jitter starts from sleep = base, so the previous delay counts as at
      // least initialDelay: the first retry is spread over [initial, 3 × initial] too. A NaN
      // previous delay counts as initial as well.
      const base = Number.isNaN(previous) ? initial : Math.max(previous, initial);
      const upper = Math.min(max, base * 3);
      return Math.min(max, initial + unit(random) * (upper - initial));
    }
    // initial × multiplier^(n−1), saturating at max: overflow gives Infinity, which the cap
    // absorbs; 0 × ∞ and 1^∞ would be NaN, so those cases skip the power; a NaN retry number
    // saturates too.
    const multiplier = this.#multiplier;
    const grown = initial === 0 || multiplier === 1 ? initial : initial * multiplier ** (retry - 1);
    const capped = Number.isNaN(grown) ? max : Math.min(grown, max);
    switch (jitter) {
      case 'full':
        return unit(random) * capped;
      case 'equal':
        // The sum can round one ulp above capped (subnormal delays); the bound is the contract.
        return Math.min(capped, capped / 2 + (unit(random) * capped) / 2);
      default:
        return capped;
    }
  }
}

class ConstantBackoff implements Backoff {
  readonly maxDelay: number;
  readonly #delay: number;

  constructor(delay: number, max: number) {
    this.#delay = delay;
    this.maxDelay = max;
    Object.freeze(this);
  }

  delay(): number {
    return this.#delay;
  }
}

class CustomBackoff implements Backoff {
  readonly maxDelay: number;
  readonly #fn: BackoffFunction;

  constructor(fn: BackoffFunction, max: number) {
    this.#fn = fn;
    this.maxDelay = max;
    Object.freeze(this);
  }

  delay(retry: number, previous: number): number {
    const value = this.#fn(retry, previous);
    // A function that returns garbage must not produce a hot loop: NaN waits the longest.
    if (typeof value !== 'number' || Number.isNaN(value)) return this.maxDelay;
    return value <= 0 ? 0 : Math.min(value, this.maxDelay);
  }
}

/**
 * Exponential backoff with jitter.
 *
 * @example
 * ```ts
 * import { backoff } from 'breakwater';
 * const strategy = backoff.exponential({ initialDelay: 50, maxDelay: 2_000, jitter: 'full' });
 * ```
 */
export function exponential(options: ExponentialBackoffOptions = {}): Backoff {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalid('backoff.exponential', EXPONENTIAL_FORMS, options);
  }
  const o = obj<ExponentialBackoffOptions>('backoff.exponential', options, [
    'initialDelay',
    'maxDelay',
    'multiplier',
    'jitter',
  ]);
  const initial = delayMs('backoff.initialDelay', o?.initialDelay, 100);
  const max = delayMs('backoff.maxDelay', o?.maxDelay, Math.max(10_000, initial));
  if (max < initial) {
    invalid('backoff.maxDelay', `at least backoff.initialDelay (${initial})`, max);
  }
  const multiplier = num('backoff.multiplier', o?.multiplier, 2, { min: 1, max: 1_000 });
  const jitter = oneOf('backoff.jitter', o?.jitter, 'full', JITTERS);
  return new ExponentialBackoff(initial, max, multiplier, jitter);
}

/**
 * The same delay before every retry.
 *
 * @example
 * ```ts
 * import { backoff } from 'breakwater';
 * const strategy = backoff.constant(200); // or backoff.constant({ delay: 200, maxDelay: 5_000 })
 * ```
 */
export function constant(options: number | ConstantBackoffOptions): Backoff {
  if (typeof options === 'string') {
    invalid('backoff.constant', `${CONSTANT_FORMS}; ${NO_UNITS}`, options);
  }
  if (
    typeof options !== 'number' &&
    (typeof options !== 'object' || options === null || Array.isArray(options))
  ) {
    invalid('backoff.constant', CONSTANT_FORMS, options);
  }
  const o =
    typeof options === 'number'
      ? { delay: options }
      : (obj<ConstantBackoffOptions>('backoff.constant', options, ['delay', 'maxDelay']) ?? {});
  if (o.delay === undefined)
    invalid('backoff.delay', `given: backoff.constant takes ${CONSTANT_FORMS}`, o.delay);
  const delay = delayMs('backoff.delay', o.delay, 0);
  const max = delayMs('backoff.maxDelay', o.maxDelay, delay);
  if (max < delay) invalid('backoff.maxDelay', `at least backoff.delay (${delay})`, max);
  return new ConstantBackoff(delay, max);
}

/**
 * A backoff computed by your own function. Its result is clamped to `[0, maxDelay]`; a
 * result that is not a number waits `maxDelay`.
 *
 * @example
 * ```ts
 * import { backoff } from 'breakwater';
 * const linear = backoff.custom((retry) => retry * 100, { maxDelay: 1_000 });
 * ```
 */
export function custom(fn: BackoffFunction, options: CustomBackoffOptions = {}): Backoff {
  if (typeof fn !== 'function') invalid('backoff.custom', CUSTOM_FORMS, fn);
  const o = obj<CustomBackoffOptions>('backoff.custom', options, ['maxDelay']);
  const max = delayMs('backoff.maxDelay', o?.maxDelay, 30_000);
  return new CustomBackoff(fn, max);
}

/** The backoff factories, exported as `backoff`. */
export interface BackoffFactories {
  /**
   * Exponential backoff with jitter: retry n waits up to `initialDelay × multiplier^(n−1)`,
   * capped by `maxDelay`, drawn as `jitter` says.
   * @example
   * ```ts
   * import { backoff } from 'breakwater';
   * const strategy = backoff.exponential({ initialDelay: 50, maxDelay: 2_000, jitter: 'full' });
   * ```
   */
  readonly exponential: (options?: ExponentialBackoffOptions) => Backoff;
  /**
   * The same delay before every retry, in ms: `backoff.constant(200)` or
   * `backoff.constant({ delay: 200, maxDelay: 5_000 })` (`maxDelay` caps server hints).
   */
  readonly constant: (options: number | ConstantBackoffOptions) => Backoff;
  /**
   * A delay computed by your function `(retry, previousDelay) => ms`, clamped to
   * `[0, maxDelay]`; a result that is not a number waits `maxDelay`.
   */
  readonly custom: (fn: BackoffFunction, options?: CustomBackoffOptions) => Backoff;
}

/** True when `value` looks like a {@link Backoff}. */
export function isBackoff(value: unknown): value is Backoff {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Backoff).delay === 'function' &&
    typeof (value as Backoff).maxDelay === 'number'
  );
}
