/**
 * Validation of circuit breaker options, shared by `circuitBreaker` and
 * `keyedCircuitBreaker`: every check happens at construction.
 *
 * @internal
 * @module
 */
import { type Clock, systemClock } from '../clock.js';
import { isBreakwaterError } from '../errors.js';
import { type Backoff, isBackoff } from '../retry/backoff.js';
import { invalid, num, obj, oneOf, requireNum, fn as validateFn } from '../validate.js';
import type { CircuitBreakerOptions, CircuitBreakerSnapshot, CircuitState, WindowOptions } from './types.js';

/** @internal Resolved options shared by the breakers of a keyed breaker. */
export interface BreakerConfig {
  readonly window: WindowOptions | undefined;
  readonly failureRateThreshold: number;
  readonly minimumCalls: number;
  readonly consecutiveFailures: number;
  readonly slowCall: { readonly durationMs: number; readonly rateThreshold: number } | undefined;
  readonly openDuration: number | Backoff;
  readonly maxProbes: number;
  readonly successThreshold: number;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly clock: Clock;
}

/** @internal The default `isFailure`: breakwater's own rejections say nothing about the dependency. */
export function defaultIsFailure(error: unknown): boolean {
  if (isBreakwaterError(error)) {
    return error.code !== 'BREAKWATER_CIRCUIT_OPEN' && error.code !== 'BREAKWATER_BULKHEAD_FULL';
  }
  return true;
}

const OPTION_KEYS = [
  'window',
  'failureRateThreshold',
  'minimumCalls',
  'consecutiveFailures',
  'slowCall',
  'openDuration',
  'halfOpen',
  'isFailure',
  'initialState',
  'clock',
] as const;

/** @internal Validates options; `prefix` names them in errors. */
export function resolveBreakerOptions(
  options: unknown,
  prefix: string,
  extraKeys: readonly string[] = [],
): { config: BreakerConfig; initialState: CircuitBreakerSnapshot | undefined } {
  const o = obj<CircuitBreakerOptions>(prefix, options ?? {}, [...OPTION_KEYS, ...extraKeys]) ?? {};
  const rateRuleSet =
    o.window !== undefined ||
    o.failureRateThreshold !== undefined ||
    o.minimumCalls !== undefined ||
    o.slowCall !== undefined;
  const consecutiveFailures = num(`${prefix}.consecutiveFailures`, o.consecutiveFailures, 0, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const useRates = rateRuleSet || consecutiveFailures === 0;

  let window: WindowOptions | undefined;
  if (useRates) {
    const w = o.window === undefined ? { type: 'count', size: 100 } : o.window;
    if (typeof w !== 'object' || w === null)
      invalid(`${prefix}.window`, "{ type: 'count' | 'time', ... }", w);
    const type = oneOf(`${prefix}.window.type`, (w as { type?: unknown }).type, 'count', ['count', 'time']);
    if (type === 'count') {
      obj(`${prefix}.window`, w, ['type', 'size']);
      const size = requireNum(`${prefix}.window.size`, (w as { size?: unknown }).size, {
        min: 1,
        max: 1_000_000,
        integer: true,
      });
      window = { type, size };
    } else {
      obj(`${prefix}.window`, w, ['type', 'durationMs', 'buckets']);
      const durationMs = requireNum(
        `${prefix}.window.durationMs`,
        (w as { durationMs?: unknown }).durationMs,
        {
          min: 1,
          max: 86_400_000,
        },
      );
      const buckets = num(`${prefix}.window.buckets`, (w as { buckets?: unknown }).buckets, 10, {
        min: 1,
        max: 1_000,
        integer: true,
      });
      window = { type, durationMs, buckets };
    }
  }
  const failureRateThreshold = num(`${prefix}.failureRateThreshold`, o.failureRateThreshold, 0.5, {
    min: 0,
    exclusiveMin: true,
    max: 1,
  });
  const maxCalls = window?.type === 'count' ? window.size : 1_000_000_000;
  const minimumCalls = num(`${prefix}.minimumCalls`, o.minimumCalls, Math.min(20, maxCalls), {
    min: 1,
    max: maxCalls,
    integer: true,
  });
  let slowCall: BreakerConfig['slowCall'];
  if (o.slowCall !== undefined) {
    const s = obj<{ durationMs: number; rateThreshold: number }>(`${prefix}.slowCall`, o.slowCall, [
      'durationMs',
      'rateThreshold',
    ]);
    slowCall = Object.freeze({
      durationMs: requireNum(`${prefix}.slowCall.durationMs`, s?.durationMs, {
        min: 0,
        exclusiveMin: true,
        max: 86_400_000,
      }),
      rateThreshold: requireNum(`${prefix}.slowCall.rateThreshold`, s?.rateThreshold, {
        min: 0,
        exclusiveMin: true,
        max: 1,
      }),
    });
  }
  let openDuration: number | Backoff;
  if (isBackoff(o.openDuration)) {
    openDuration = o.openDuration;
  } else {
    openDuration = num(`${prefix}.openDuration`, o.openDuration, 5_000, { min: 0, max: 2_147_483_647 });
  }
  const h = obj<{ maxProbes: number; successThreshold: number }>(`${prefix}.halfOpen`, o.halfOpen, [
    'maxProbes',
    'successThreshold',
  ]);
  const maxProbes = num(`${prefix}.halfOpen.maxProbes`, h?.maxProbes, 1, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const successThreshold = num(`${prefix}.halfOpen.successThreshold`, h?.successThreshold, maxProbes, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const isFailure = validateFn<(error: unknown) => boolean>(`${prefix}.isFailure`, o.isFailure);
  const clock = o.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    invalid(`${prefix}.clock`, 'a Clock (an object with now())', clock);
  }
  let initialState: CircuitBreakerSnapshot | undefined;
  if (o.initialState !== undefined) {
    const s = obj<CircuitBreakerSnapshot>(`${prefix}.initialState`, o.initialState, [
      'state',
      'openUntil',
      'reopenCount',
    ]);
    const state = oneOf<CircuitState>(`${prefix}.initialState.state`, s?.state, 'closed', [
      'closed',
      'open',
      'half-open',
      'isolated',
    ]);
    initialState = {
      state,
      openUntil: num(`${prefix}.initialState.openUntil`, s?.openUntil, 0, { min: 0 }),
      reopenCount: num(`${prefix}.initialState.reopenCount`, s?.reopenCount, 0, {
        min: 0,
        integer: true,
        max: 1e9,
      }),
    };
  }
  return {
    config: Object.freeze({
      window,
      failureRateThreshold,
      minimumCalls,
      consecutiveFailures,
      slowCall,
      openDuration,
      maxProbes,
      successThreshold,
      isFailure,
      clock,
    }),
    initialState,
  };
}
