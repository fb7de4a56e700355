/**
 * Helpers for the breaker tests: a synchronous clock (the breaker only reads `now()`), a
 * one-line way to run a call through a breaker, and the invalid-options assertion.
 */
import type { CircuitBreaker } from '../../src/breaker/circuit-breaker.js';
import type { Clock } from '../../src/clock.js';

/** A clock that moves only when told to. It sets no timers: breakers never do. */
export class StepClock implements Clock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  setTimeout(): never {
    throw new Error('breakers set no timers');
  }
  clearTimeout(): void {}
}

export type Outcome = 'success' | 'failure' | 'slow' | 'slow-failure';

/** An error the default isFailure counts. */
export const boom = new Error('boom');

/**
 * Runs one call through `breaker`: acquire, then record the outcome. Returns false when the
 * breaker refused the call. A slow call lasts `slowMs` (default 10 000), others 1 ms.
 */
export function call(breaker: CircuitBreaker, outcome: Outcome = 'success', slowMs = 10_000): boolean {
  const permit = breaker.acquire();
  if (permit < 0) return false;
  const failed = outcome === 'failure' || outcome === 'slow-failure';
  const slow = outcome === 'slow' || outcome === 'slow-failure';
  breaker.record(permit, failed ? boom : undefined, failed, slow ? slowMs : 1);
  return true;
}

/** Runs `n` calls with the same outcome; returns how many the breaker admitted. */
export function calls(breaker: CircuitBreaker, n: number, outcome: Outcome = 'success'): number {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (call(breaker, outcome)) admitted++;
  return admitted;
}

export { expectInvalid } from '../support/invalid.js';
