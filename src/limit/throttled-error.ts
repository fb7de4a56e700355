/**
 * The rejection of {@link adaptiveThrottle}. Lives beside the throttle rather than in
 * errors.ts; it extends {@link BreakwaterError}, so it carries the cross-install brand
 * (`isBreakwaterError`) and the cheap `stack` accessor of the base class.
 *
 * @module
 */
import { BreakwaterError, type BreakwaterErrorCode } from '../errors.js';

/** The code of {@link ThrottledError} (a member of `BreakwaterErrorCode`). */
const CODE: BreakwaterErrorCode = 'BREAKWATER_THROTTLED';

function message(probability: number): string {
  return `Throttled: the dependency accepted too few requests recently (rejecting ${Math.round(probability * 100)}% locally)`;
}

/**
 * An attempt was refused locally by an adaptive throttle: the dependency has accepted too
 * few requests over the throttle's window, so this client sheds part of its own traffic
 * before sending it (client-side adaptive throttling, Google SRE book, chapter 21). Never
 * retried by the same `execute`. `code` is `'BREAKWATER_THROTTLED'`.
 */
export class ThrottledError extends BreakwaterError {
  /** The probability with which the throttle was rejecting attempts, in [0, 1). */
  readonly probability: number;

  constructor(probability: number) {
    super(CODE, message(probability));
    this.probability = probability;
  }

  /**
   * @internal Creates the rejection without the Error constructor: a throttle rejects on
   * every attempt while a dependency is down, and a native Error costs about 0.4 µs even
   * without a stack. The object has the class's prototype (`instanceof`, `name`, `code` and
   * `message` behave as usual); `stack` comes from the base class's accessor.
   */
  static fast(probability: number): ThrottledError {
    const error = Object.create(ThrottledError.prototype) as {
      -readonly [K in keyof ThrottledError]: ThrottledError[K];
    };
    error.code = CODE;
    error.probability = probability;
    return error;
  }
}
Object.defineProperty(ThrottledError.prototype, 'name', {
  value: 'ThrottledError',
  writable: true,
  configurable: true,
});
// Objects built by `fast()` have no own message: read it from the fields, and let a caller
// overwrite it as on any error.
Object.defineProperty(ThrottledError.prototype, 'message', {
  get(this: ThrottledError) {
    return message(this.probability);
  },
  set(this: object, value: unknown) {
    Object.defineProperty(this, 'message', { value, writable: true, configurable: true });
  },
  configurable: true,
});
