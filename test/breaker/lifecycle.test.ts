import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CircuitStateChange, circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { exponential } from '../../src/retry/backoff.js';
import { call, calls, StepClock } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('circuitBreaker: isolate() and reset()', () => {
  it('isolate() forces the breaker open until reset(), whatever the time', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 10, clock });
    b.isolate();
    expect(b.state).toBe('isolated');
    clock.advance(86_400_000);
    expect(b.state).toBe('isolated');
    expect(b.acquire()).toBe(-1);
    b.reset();
    expect(b.state).toBe('closed');
    expect(call(b, 'success')).toBe(true);
  });

  it('isolate() wins over an open or half-open breaker, and calls in flight no longer count', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 10, clock });
    call(b, 'failure');
    clock.advance(10);
    const probe = b.acquire();
    b.isolate();
    b.record(probe, undefined, false, 1);
    expect(b.state).toBe('isolated');
  });

  it('reset() closes and forgets the window and the run of failures', () => {
    const b = circuitBreaker({
      window: { type: 'count', size: 10 },
      failureRateThreshold: 0.8,
      minimumCalls: 4,
      consecutiveFailures: 3,
    });
    calls(b, 2, 'failure');
    b.reset();
    call(b, 'failure'); // a run of 1, not 3
    expect(b.state).toBe('closed');
    for (const o of ['success', 'failure', 'failure'] as const) call(b, o);
    // Since the reset: F S F F, 75 %. With the two old failures it would be 5 of 6.
    expect(b.state).toBe('closed');
  });

  it('reset() of an open breaker closes it at once', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 60_000, clock });
    call(b, 'failure');
    b.reset();
    expect(b.state).toBe('closed');
    expect(b.acquire()).toBeGreaterThanOrEqual(0);
  });
});

describe('circuitBreaker: onStateChange', () => {
  it('reports every change with from, to, time and openForMs', () => {
    const clock = new StepClock(5_000);
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 300, clock });
    const changes: CircuitStateChange[] = [];
    b.onStateChange((c) => changes.push(c));
    call(b, 'failure');
    clock.advance(300);
    call(b, 'success');
    b.isolate();
    b.reset();
    expect(changes).toEqual([
      { from: 'closed', to: 'open', at: 5_000, key: undefined, openForMs: 300 },
      { from: 'open', to: 'half-open', at: 5_300, key: undefined, openForMs: undefined },
      { from: 'half-open', to: 'closed', at: 5_300, key: undefined, openForMs: undefined },
      { from: 'closed', to: 'isolated', at: 5_300, key: undefined, openForMs: undefined },
      { from: 'isolated', to: 'closed', at: 5_300, key: undefined, openForMs: undefined },
    ]);
    expect(Object.isFrozen(changes[0])).toBe(true);
  });

  it('does not report a "change" to the same state', () => {
    const b = circuitBreaker();
    const seen = vi.fn();
    b.onStateChange(seen);
    b.reset();
    b.isolate();
    b.isolate();
    expect(seen).toHaveBeenCalledTimes(1);
  });

  it('unsubscribe stops delivery, also from inside a listener', () => {
    const b = circuitBreaker({ consecutiveFailures: 1 });
    const first = vi.fn();
    const second = vi.fn();
    const unsubscribeFirst = b.onStateChange((c) => {
      first(c);
      unsubscribeFirst();
    });
    const unsubscribeSecond = b.onStateChange(second);
    b.isolate();
    b.reset();
    unsubscribeSecond();
    unsubscribeSecond(); // twice is harmless
    b.isolate();
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(2);
  });

  it('a listener that throws does not break the breaker nor the other listeners', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const b = circuitBreaker({ consecutiveFailures: 1 });
    const after = vi.fn();
    b.onStateChange(() => {
      throw new Error('listener bug');
    });
    b.onStateChange(after);
    expect(() => call(b, 'failure')).not.toThrow();
    expect(b.current).toBe('open');
    expect(after).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('listener bug');
  });

  it('rejects a listener that is not a function', () => {
    const b = circuitBreaker();
    expect(() => b.onStateChange(42 as never)).toThrow(
      expect.objectContaining({ code: 'BREAKWATER_INVALID_OPTIONS' }),
    );
  });
});

describe('circuitBreaker: toJSON() and initialState', () => {
  it('an open breaker round-trips with its openUntil and re-open count', () => {
    const clock = new StepClock(10_000);
    const openDuration = exponential({ initialDelay: 1_000, maxDelay: 60_000, jitter: 'none' });
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration, clock });
    call(b, 'failure');
    clock.advance(1_000);
    call(b, 'failure'); // failed probe: open for 2 000, re-open count 1
    const snapshot = b.toJSON();
    expect(snapshot).toEqual({ state: 'open', openUntil: 13_000, reopenCount: 1 });
    expect(JSON.parse(JSON.stringify(b))).toEqual(snapshot);

    const restored = circuitBreaker({ consecutiveFailures: 1, openDuration, clock, initialState: snapshot });
    expect(restored.state).toBe('open');
    expect(restored.acquire()).toBe(-1);
    expect(restored.retryAfterMs()).toBe(2_000);
    clock.advance(2_000);
    const openFor: number[] = [];
    restored.onStateChange((c) => c.openForMs !== undefined && openFor.push(c.openForMs));
    call(restored, 'failure'); // the growth continues from the saved count: 4 000
    expect(openFor).toEqual([4_000]);
  });

  it('an isolated breaker stays isolated', () => {
    const b = circuitBreaker();
    b.isolate();
    const restored = circuitBreaker({ initialState: b.toJSON() });
    expect(restored.state).toBe('isolated');
    expect(restored.acquire()).toBe(-1);
  });

  it('a half-open breaker is restored as open with its time up: the next call is the first probe', () => {
    const clock = new StepClock();
    const b = circuitBreaker({
      consecutiveFailures: 1,
      openDuration: 100,
      halfOpen: { maxProbes: 2 },
      clock,
    });
    call(b, 'failure');
    clock.advance(100);
    b.acquire();
    b.acquire(); // both probes out
    const snapshot = b.toJSON();
    expect(snapshot.state).toBe('half-open');
    const restored = circuitBreaker({
      consecutiveFailures: 1,
      halfOpen: { maxProbes: 2 },
      clock,
      initialState: snapshot,
    });
    expect(restored.current).toBe('open');
    expect(restored.acquire()).toBeGreaterThanOrEqual(0); // no probe of the old process counts
    expect(restored.acquire()).toBeGreaterThanOrEqual(0);
    expect(restored.acquire()).toBe(-1);
  });

  it('an open breaker whose time passed while saved lets a probe through at once', () => {
    const clock = new StepClock(0);
    const restored = circuitBreaker({ clock, initialState: { state: 'open', openUntil: 50 } });
    clock.advance(50);
    expect(restored.state).toBe('half-open');
  });

  it('a closed breaker snapshots as closed', () => {
    const b = circuitBreaker();
    expect(b.toJSON()).toEqual({ state: 'closed' });
    expect(circuitBreaker({ initialState: b.toJSON() }).state).toBe('closed');
  });
});
