/**
 * Validation of `execute`'s per-call options, checked like a factory's options: each
 * problem names the option, what is allowed and what was given.
 *
 * @internal
 * @module
 */
import type { Clock } from '../clock.js';
import { MAX_TIMER } from '../deadline.js';
import { InvalidOptionsError } from '../errors.js';
import type { ExecuteOptions } from '../types.js';

/**
 * A per-call `deadline` below this is no time since the epoch (it is before 1973): it is a
 * duration passed where an absolute time belongs.
 */
const PLAINLY_A_DURATION = 1e11;

const KNOWN = 'signal, deadline, timeout, idempotencyKey, key, retryOn';

/** A given value as a message shows it: strings quoted, dates as dates, objects by kind. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Date)
    return `a Date (${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return typeof value === 'function' ? 'a function' : String(value);
}

/** What is wrong with `options`, or undefined when they are valid. */
export function executeOptionsError(options: ExecuteOptions, clock: Clock): InvalidOptionsError | undefined {
  if (typeof options !== 'object' || options === null) {
    return new InvalidOptionsError('options', `execute options must be an object; got ${String(options)}`);
  }
  for (const name in options) {
    switch (name) {
      case 'signal':
      case 'deadline':
      case 'timeout':
      case 'idempotencyKey':
      case 'key':
      case 'retryOn':
        break;
      default:
        return new InvalidOptionsError(
          name,
          `execute options has no option "${name}"; the options are ${KNOWN}`,
        );
    }
  }
  const { deadline, timeout, signal, idempotencyKey, key, retryOn } = options;
  if (deadline !== undefined) {
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      const hint = (deadline as unknown) instanceof Date ? ': pass date.getTime()' : '';
      return new InvalidOptionsError(
        'deadline',
        `execute options.deadline must be a number (ms since the epoch); got ${show(deadline)}${hint}`,
      );
    }
    // A clock at the real time only: a test clock may well run near the epoch.
    if (deadline < PLAINLY_A_DURATION && clock.now() >= PLAINLY_A_DURATION) {
      return new InvalidOptionsError(
        'deadline',
        `execute options.deadline is an absolute time in ms since the epoch, and ${deadline} is a duration: ` +
          `pass { timeout: ${deadline} } for ${deadline} ms from now, or { deadline: Date.now() + ${deadline} }`,
      );
    }
  }
  if (
    timeout !== undefined &&
    (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout <= 0 || timeout > MAX_TIMER)
  ) {
    return new InvalidOptionsError(
      'timeout',
      `execute options.timeout must be a number of ms above 0 and at most ${MAX_TIMER}; got ${show(timeout)}`,
    );
  }
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')
  ) {
    const controller =
      typeof signal === 'object' &&
      signal !== null &&
      typeof (signal as { abort?: unknown }).abort === 'function';
    return new InvalidOptionsError(
      'signal',
      `execute options.signal must be an AbortSignal; got ${controller ? 'an AbortController: pass controller.signal' : show(signal)}`,
    );
  }
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0)) {
    return new InvalidOptionsError(
      'idempotencyKey',
      'execute options.idempotencyKey must be a non-empty string',
    );
  }
  if (key !== undefined && typeof key !== 'string') {
    return new InvalidOptionsError('key', 'execute options.key must be a string');
  }
  if (retryOn !== undefined && typeof retryOn !== 'function') {
    return new InvalidOptionsError('retryOn', 'execute options.retryOn must be a function');
  }
  return undefined;
}
