/** Assertions on bad options: one implementation for every suite that checks them. */
import { expect } from 'vitest';
import { InvalidOptionsError, isBreakwaterError } from '../../src/errors.js';

/** Calls `make` and returns the InvalidOptionsError it throws (fails the test otherwise). */
export function thrownInvalid(make: () => unknown): InvalidOptionsError {
  try {
    make();
  } catch (error) {
    if (error instanceof InvalidOptionsError) return error;
    throw error;
  }
  throw new Error('expected InvalidOptionsError, but nothing was thrown');
}

/**
 * Calls `make` and checks it throws BREAKWATER_INVALID_OPTIONS naming `option` (an unknown
 * key is named as `unknown option "key" in parent`).
 */
export function expectInvalid(make: () => unknown, option: string): void {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(isBreakwaterError(thrown), `expected a BreakwaterError for ${option}`).toBe(true);
  const error = thrown as { code: string; option: string; message: string };
  expect(error.code).toBe('BREAKWATER_INVALID_OPTIONS');
  expect(error.option).toBe(option);
  const dot = option.lastIndexOf('.');
  const unknownKey = `unknown option "${option.slice(dot + 1)}" in ${option.slice(0, dot)}`;
  expect(
    [option, unknownKey].some((name) => error.message.includes(name)),
    error.message,
  ).toBe(true);
}
