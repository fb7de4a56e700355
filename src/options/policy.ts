/**
 * Validation of `policy()`'s options, once, at construction: every problem throws an
 * `InvalidOptionsError` naming the option and the allowed range. The result is the frozen
 * configuration the engine reads.
 *
 * @internal
 * @module
 */
import type { CircuitBreaker } from '../breaker/circuit-breaker.js';
import { isKeyedCircuitBreaker, type KeyedCircuitBreaker } from '../breaker/keyed.js';
import { isBulkhead } from '../bulkhead.js';
import { systemClock } from '../clock.js';
import { MAX_TIMER } from '../deadline.js';
import type { Telemetry, Throttle } from '../engine/stages.js';
import { resolveHedge } from '../hedge/options.js';
import { newIdempotencyKey } from '../idempotency.js';
import { type Backoff, custom, exponential, isBackoff } from '../retry/backoff.js';
import { isRetryBudget, type RetryBudget, retryBudget } from '../retry/budget.js';
import type { PolicyConfig, PolicyOptions, RetryOn, RetryOptions } from '../types.js';
import { invalid, num, obj, fn as validateFn } from '../validate.js';

export const POLICY_KEYS = [
  'name',
  'deadline',
  'attemptTimeout',
  'retry',
  'circuitBreaker',
  'bulkhead',
  'throttle',
  'hedge',
  'telemetry',
  'fallback',
  'shouldFallback',
  'idempotency',
  'onEvent',
  'clock',
  'random',
] as const;
const RETRY_KEYS = ['maxAttempts', 'backoff', 'retryOn', 'budget'] as const;

/** The hint for a factory's options passed where its result belongs. */
const FACTORY_RESULT = (example: string): string =>
  ` (what the factory returns, e.g. ${example}, not its options)`;

export function resolvePolicyOptions(options: PolicyOptions): { config: PolicyConfig; raw: PolicyOptions } {
  const o = obj<PolicyOptions>('policy', options, POLICY_KEYS) ?? {};
  const name = o.name ?? 'default';
  if (typeof name !== 'string' || name.length === 0) invalid('name', 'a non-empty string', name);
  const deadline =
    o.deadline === undefined
      ? undefined
      : num('deadline', o.deadline, 0, { min: 0, exclusiveMin: true, max: MAX_TIMER });
  const attemptTimeout =
    o.attemptTimeout === undefined
      ? undefined
      : num('attemptTimeout', o.attemptTimeout, 0, { min: 0, exclusiveMin: true, max: MAX_TIMER });
  const clock = o.clock === undefined ? systemClock : o.clock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    invalid('clock', 'a Clock { now, setTimeout, clearTimeout }', clock);
  }
  const random = validateFn<() => number>('random', o.random) ?? Math.random;

  const hedge = resolveHedge(o.hedge);
  if (hedge !== undefined && o.retry === false) {
    invalid(
      'hedge',
      'used without retry: false (hedges draw on the retry budget and follow retry.retryOn)',
      o.retry,
    );
  }
  let maxAttempts = 1;
  let backoffStrategy: Backoff = exponential();
  let retryOn: RetryOn | undefined;
  let budget: RetryBudget | undefined;
  let rawRetry: RetryOptions | false | undefined = o.retry;
  if (o.retry !== false) {
    if (
      o.retry !== undefined &&
      (typeof o.retry !== 'object' || o.retry === null || Array.isArray(o.retry))
    ) {
      invalid(
        'retry',
        'an object { maxAttempts?, backoff?, retryOn?, budget? } (e.g. { maxAttempts: 3 } for 3 attempts ' +
          'in all), or false for a single attempt',
        o.retry,
      );
    }
    const r = obj<RetryOptions>('retry', o.retry ?? {}, RETRY_KEYS) ?? {};
    maxAttempts = num('retry.maxAttempts', r.maxAttempts, 3, { min: 1, max: 1_000, integer: true });
    // Hedging counts its own attempts: hedge.maxAttempts replaces retry.maxAttempts.
    if (hedge !== undefined) maxAttempts = hedge.maxAttempts;
    if (r.backoff !== undefined) {
      if (isBackoff(r.backoff)) backoffStrategy = r.backoff;
      else if (typeof r.backoff === 'function') backoffStrategy = custom(r.backoff);
      else
        invalid(
          'retry.backoff',
          'a backoff strategy (backoff.exponential(), backoff.constant(ms), backoff.custom(fn)) or a function ' +
            `(retry, previousDelay) => ms${typeof r.backoff === 'number' ? `; for a fixed delay write backoff.constant(${r.backoff})` : ''}`,
          r.backoff,
        );
    }
    retryOn = validateFn<RetryOn>('retry.retryOn', r.retryOn);
    if (r.budget === undefined) {
      // Every policy gets a budget so that retries can never turn into a storm; a policy
      // derived with `with()` keeps sharing it (see below).
      budget = maxAttempts > 1 ? retryBudget({ clock }) : undefined;
    } else if (r.budget === false) {
      budget = undefined;
    } else if (isRetryBudget(r.budget)) {
      budget = r.budget;
    } else {
      invalid(
        'retry.budget',
        `a retryBudget() or false${FACTORY_RESULT('retryBudget({ ratio: 0.1 })')}`,
        r.budget,
      );
    }
    // `with()` shares this budget; when there is none because this policy never retries,
    // a derived policy that does retry gets a default budget of its own.
    rawRetry = { ...r, budget: budget ?? r.budget };
  }

  let breaker: CircuitBreaker | undefined;
  let keyedBreaker: KeyedCircuitBreaker | undefined;
  if (o.circuitBreaker !== undefined) {
    if (isKeyedCircuitBreaker(o.circuitBreaker)) keyedBreaker = o.circuitBreaker;
    else if (
      typeof o.circuitBreaker === 'object' &&
      o.circuitBreaker !== null &&
      typeof (o.circuitBreaker as CircuitBreaker).acquire === 'function'
    ) {
      breaker = o.circuitBreaker as CircuitBreaker;
    } else {
      invalid(
        'circuitBreaker',
        `a circuitBreaker() or keyedCircuitBreaker()${FACTORY_RESULT('circuitBreaker({ failureRateThreshold: 0.5 })')}`,
        o.circuitBreaker,
      );
    }
  }
  if (o.bulkhead !== undefined && !isBulkhead(o.bulkhead)) {
    invalid('bulkhead', `a bulkhead()${FACTORY_RESULT('bulkhead({ maxConcurrent: 10 })')}`, o.bulkhead);
  }

  let generateKey: (() => string) | undefined;
  if (typeof o.idempotency === 'object' && o.idempotency !== null) {
    const i = obj<{ generate: () => string }>('idempotency', o.idempotency, ['generate']);
    generateKey = validateFn<() => string>('idempotency.generate', i?.generate);
    if (generateKey === undefined) invalid('idempotency.generate', 'a function', undefined);
  } else if (o.idempotency === true) {
    generateKey = newIdempotencyKey;
  } else if (o.idempotency !== undefined && o.idempotency !== false) {
    invalid(
      'idempotency',
      'true or false, or { generate: () => string } (a function making a key)',
      o.idempotency,
    );
  }
  validateFn('onEvent', o.onEvent);
  const throttle = o.throttle;
  if (
    throttle !== undefined &&
    (typeof throttle !== 'object' || throttle === null || typeof (throttle as Throttle).allow !== 'function')
  ) {
    invalid('throttle', 'an adaptiveThrottle()', throttle);
  }
  const telemetry = o.telemetry;
  if (
    telemetry !== undefined &&
    (typeof telemetry !== 'object' ||
      telemetry === null ||
      typeof (telemetry as Telemetry).bind !== 'function')
  ) {
    invalid('telemetry', "an openTelemetry() from 'breakwater/otel'", telemetry);
  }
  const fallback = validateFn<NonNullable<PolicyConfig['fallback']>>('fallback', o.fallback);
  const shouldFallback = validateFn<(error: unknown) => boolean>('shouldFallback', o.shouldFallback);
  if (shouldFallback !== undefined && fallback === undefined)
    invalid('shouldFallback', 'set only with a fallback', shouldFallback);
  if (attemptTimeout !== undefined && deadline !== undefined && attemptTimeout >= deadline) {
    // Allowed (a policy derived with with() may change either), but the attempt timeout
    // then never fires: the deadline always comes first.
    process.emitWarning(
      `breakwater policy "${name}": attemptTimeout (${attemptTimeout} ms) is not below deadline (${deadline} ms), ` +
        'so it never fires; the deadline ends every attempt. Set attemptTimeout below deadline, or leave it unset.',
      { code: 'BREAKWATER_ATTEMPT_TIMEOUT_UNUSED' },
    );
  }

  const config: PolicyConfig = Object.freeze({
    name,
    deadline,
    attemptTimeout,
    maxAttempts,
    backoff: backoffStrategy,
    retryOn,
    budget,
    breaker,
    keyedBreaker,
    bulkhead: o.bulkhead,
    throttle,
    hedge,
    telemetry,
    fallback,
    shouldFallback,
    generateKey,
    clock,
    random,
  });
  return { config, raw: { ...o, retry: rawRetry } };
}
