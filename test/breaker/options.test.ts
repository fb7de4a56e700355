import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { keyedCircuitBreaker } from '../../src/breaker/keyed.js';
import { expectInvalid } from './helpers.js';

const make = (options: unknown) => () => circuitBreaker(options as never);

describe('circuitBreaker options are validated at construction', () => {
  it.each([
    ['failureRateThreshold', 0],
    ['failureRateThreshold', -0.5],
    ['failureRateThreshold', 1.01],
    ['failureRateThreshold', Number.NaN],
    ['failureRateThreshold', '50%'],
    ['minimumCalls', 0],
    ['minimumCalls', 2.5],
    ['minimumCalls', -1],
    ['minimumCalls', Number.NaN],
    ['consecutiveFailures', 0],
    ['consecutiveFailures', 1.5],
    ['consecutiveFailures', '3'],
    ['openDuration', -1],
    ['openDuration', Number.NaN],
    ['openDuration', 2 ** 31],
    ['openDuration', '5s'],
    ['isFailure', true],
  ])('%s = %j', (key, value) => {
    expectInvalid(make({ [key]: value }), `circuitBreaker.${key}`);
  });

  it('count window: size must be a positive integer', () => {
    for (const size of [0, -1, 1.5, Number.NaN, '100', undefined]) {
      expectInvalid(make({ window: { type: 'count', size } }), 'circuitBreaker.window.size');
    }
  });

  it('time window: durationMs positive, buckets a positive integer', () => {
    for (const durationMs of [0, -5, Number.NaN, undefined, '10s']) {
      expectInvalid(make({ window: { type: 'time', durationMs } }), 'circuitBreaker.window.durationMs');
    }
    for (const buckets of [0, 2.5, -1, 1_001]) {
      expectInvalid(
        make({ window: { type: 'time', durationMs: 1_000, buckets } }),
        'circuitBreaker.window.buckets',
      );
    }
  });

  it('window: unknown type, unknown keys, not an object', () => {
    expectInvalid(make({ window: { type: 'sliding', size: 10 } }), 'circuitBreaker.window.type');
    expectInvalid(make({ window: { type: 'count', size: 10, buckets: 2 } }), 'circuitBreaker.window.buckets');
    expectInvalid(make({ window: 100 }), 'circuitBreaker.window');
    expectInvalid(make({ window: null }), 'circuitBreaker.window');
  });

  it('minimumCalls above the count window size (min above max) names minimumCalls and the bound', () => {
    expectInvalid(
      make({ window: { type: 'count', size: 10 }, minimumCalls: 11 }),
      'circuitBreaker.minimumCalls',
    );
    expect(make({ window: { type: 'count', size: 10 }, minimumCalls: 11 })).toThrow(/from 1 to 10/);
  });

  it('slowCall: both fields required and in range', () => {
    expectInvalid(make({ slowCall: { rateThreshold: 0.5 } }), 'circuitBreaker.slowCall.durationMs');
    expectInvalid(
      make({ slowCall: { durationMs: 0, rateThreshold: 0.5 } }),
      'circuitBreaker.slowCall.durationMs',
    );
    expectInvalid(make({ slowCall: { durationMs: 100 } }), 'circuitBreaker.slowCall.rateThreshold');
    expectInvalid(
      make({ slowCall: { durationMs: 100, rateThreshold: 1.5 } }),
      'circuitBreaker.slowCall.rateThreshold',
    );
    expectInvalid(
      make({ slowCall: { durationMs: 100, rateThreshold: 0.5, ms: 1 } }),
      'circuitBreaker.slowCall.ms',
    );
    expectInvalid(make({ slowCall: 1_000 }), 'circuitBreaker.slowCall');
  });

  it('halfOpen: positive integers, no unknown keys', () => {
    expectInvalid(make({ halfOpen: { maxProbes: 0 } }), 'circuitBreaker.halfOpen.maxProbes');
    expectInvalid(make({ halfOpen: { maxProbes: 1.5 } }), 'circuitBreaker.halfOpen.maxProbes');
    expectInvalid(make({ halfOpen: { successThreshold: 0 } }), 'circuitBreaker.halfOpen.successThreshold');
    expectInvalid(make({ halfOpen: { probes: 2 } }), 'circuitBreaker.halfOpen.probes');
  });

  it('initialState: a known state, sane numbers', () => {
    expectInvalid(make({ initialState: { state: 'ajar' } }), 'circuitBreaker.initialState.state');
    expectInvalid(
      make({ initialState: { state: 'open', openUntil: -1 } }),
      'circuitBreaker.initialState.openUntil',
    );
    expectInvalid(
      make({ initialState: { state: 'open', openUntil: Number.NaN } }),
      'circuitBreaker.initialState.openUntil',
    );
    expectInvalid(
      make({ initialState: { state: 'open', reopenCount: 1.5 } }),
      'circuitBreaker.initialState.reopenCount',
    );
    expectInvalid(make({ initialState: { state: 'open', since: 1 } }), 'circuitBreaker.initialState.since');
    expectInvalid(make({ initialState: 'open' }), 'circuitBreaker.initialState');
  });

  it('clock: must have now()', () => {
    expectInvalid(make({ clock: {} }), 'circuitBreaker.clock');
    expectInvalid(make({ clock: () => 0 }), 'circuitBreaker.clock');
  });

  it('unknown keys and non-objects', () => {
    expectInvalid(make({ threshold: 0.5 }), 'circuitBreaker.threshold');
    expectInvalid(make(42), 'circuitBreaker');
    expectInvalid(make([]), 'circuitBreaker');
  });

  it('messages name the option, the allowed range and the value', () => {
    expect(make({ failureRateThreshold: 2 })).toThrow(
      'circuitBreaker.failureRateThreshold must be a number above 0 and at most 1; got 2',
    );
  });

  it('null and undefined mean the defaults', () => {
    expect(circuitBreaker(undefined).state).toBe('closed');
    expect(circuitBreaker(null as never).state).toBe('closed');
  });
});

describe('keyedCircuitBreaker options are validated at construction', () => {
  const keyed = (options: unknown) => () => keyedCircuitBreaker(options as never);

  it('breaker options are named under keyedCircuitBreaker', () => {
    expectInvalid(keyed({ failureRateThreshold: 0 }), 'keyedCircuitBreaker.failureRateThreshold');
    expectInvalid(keyed({ window: { type: 'count', size: 0 } }), 'keyedCircuitBreaker.window.size');
  });

  it('maxKeys and idleMs', () => {
    for (const maxKeys of [0, -1, 1.5, Number.NaN, '10']) {
      expectInvalid(keyed({ maxKeys }), 'keyedCircuitBreaker.maxKeys');
    }
    for (const idleMs of [-1, Number.NaN, '1m']) {
      expectInvalid(keyed({ idleMs }), 'keyedCircuitBreaker.idleMs');
    }
  });

  it('initialState is rejected: a snapshot belongs to one breaker, not to every key', () => {
    expectInvalid(
      keyed({ initialState: { state: 'open', openUntil: 0 } }),
      'keyedCircuitBreaker.initialState',
    );
  });

  it('null means the defaults, other non-objects are rejected', () => {
    expect(keyedCircuitBreaker(null as never).size).toBe(0);
    expectInvalid(keyed('x'), 'keyedCircuitBreaker');
    expectInvalid(keyed({ max: 1 }), 'keyedCircuitBreaker.max');
  });
});
