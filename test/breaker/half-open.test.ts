import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { constant, custom, exponential } from '../../src/retry/backoff.js';
import { boom, call, calls, StepClock } from './helpers.js';

describe('circuitBreaker: open duration', () => {
  it('stays open for openDuration, then lets a probe through', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 2_000, clock });
    call(b, 'failure');
    clock.advance(1_999);
    expect(b.state).toBe('open');
    expect(b.acquire()).toBe(-1);
    clock.advance(1);
    expect(b.state).toBe('half-open');
    expect(b.acquire()).toBeGreaterThanOrEqual(0);
  });

  it('defaults to 5 s', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, clock });
    call(b, 'failure');
    clock.advance(4_999);
    expect(b.acquire()).toBe(-1);
    clock.advance(1);
    expect(b.acquire()).toBeGreaterThanOrEqual(0);
  });

  it('a backoff grows the open duration on each re-open and resets when the breaker closes', () => {
    const clock = new StepClock();
    const b = circuitBreaker({
      consecutiveFailures: 1,
      openDuration: exponential({ initialDelay: 1_000, maxDelay: 5_000, jitter: 'none' }),
      clock,
    });
    const openFor: number[] = [];
    b.onStateChange((c) => {
      if (c.to === 'open') openFor.push(c.openForMs ?? -1);
    });
    call(b, 'failure'); // closed → open: 1 000
    for (let i = 0; i < 4; i++) {
      clock.advance(openFor.at(-1) ?? 0);
      call(b, 'failure'); // a failed probe re-opens: 2 000, 4 000, 5 000 (capped), 5 000
    }
    clock.advance(5_000);
    call(b, 'success'); // the probe succeeds: closed, the growth resets
    expect(b.state).toBe('closed');
    call(b, 'failure');
    expect(openFor).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 1_000]);
  });

  it('the open time follows the backoff exactly (retryAfterMs counts down from it)', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: constant(750), clock });
    call(b, 'failure');
    expect(b.acquire()).toBe(-1);
    expect(b.retryAfterMs()).toBe(750);
    clock.advance(750);
    expect(b.state).toBe('half-open');
  });

  it('a custom backoff sees the re-open number and the previous open duration', () => {
    const seen: Array<[number, number]> = [];
    const clock = new StepClock();
    const b = circuitBreaker({
      consecutiveFailures: 1,
      openDuration: custom((n, previous) => {
        seen.push([n, previous]);
        return n * 100;
      }),
      clock,
    });
    call(b, 'failure');
    clock.advance(100);
    call(b, 'failure');
    clock.advance(200);
    call(b, 'failure');
    expect(seen).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
    ]);
  });

  it('reset() also resets the growth', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: custom((n) => n * 100), clock });
    call(b, 'failure');
    clock.advance(100);
    call(b, 'failure'); // re-open: 200
    b.reset();
    call(b, 'failure');
    expect(b.acquire()).toBe(-1);
    expect(b.retryAfterMs()).toBe(100);
  });
});

describe('circuitBreaker: half-open probing', () => {
  function opened(maxProbes: number, successThreshold: number) {
    const clock = new StepClock();
    const b = circuitBreaker({
      consecutiveFailures: 1,
      openDuration: 1_000,
      halfOpen: { maxProbes, successThreshold },
      slowCall: { durationMs: 500, rateThreshold: 1 },
      clock,
    });
    call(b, 'failure');
    clock.advance(1_000);
    return { b, clock };
  }

  it('admits at most maxProbes calls at once; the others are rejected at once, not queued', () => {
    const { b } = opened(3, 3);
    const probes = [b.acquire(), b.acquire(), b.acquire()];
    expect(probes.every((p) => p >= 0)).toBe(true);
    expect(b.acquire()).toBe(-1);
    expect(b.acquire()).toBe(-1);
    expect(b.state).toBe('half-open');
  });

  it('closes after successThreshold successful probes', () => {
    const { b } = opened(3, 3);
    const probes = [b.acquire(), b.acquire(), b.acquire()];
    b.record(probes[0] ?? -1, undefined, false, 1);
    b.record(probes[1] ?? -1, undefined, false, 1);
    expect(b.state).toBe('half-open');
    b.record(probes[2] ?? -1, undefined, false, 1);
    expect(b.state).toBe('closed');
  });

  it('a finished probe frees its slot, so successThreshold may exceed maxProbes', () => {
    const { b } = opened(1, 3);
    expect(call(b, 'success')).toBe(true);
    expect(call(b, 'success')).toBe(true);
    expect(b.state).toBe('half-open');
    expect(call(b, 'success')).toBe(true);
    expect(b.state).toBe('closed');
  });

  it('successThreshold defaults to maxProbes', () => {
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 0, halfOpen: { maxProbes: 2 } });
    call(b, 'failure');
    call(b, 'success');
    expect(b.state).toBe('half-open');
    call(b, 'success');
    expect(b.state).toBe('closed');
  });

  it('a failed probe re-opens at once; the other probes no longer count', () => {
    const { b, clock } = opened(3, 2);
    const [p1, p2, p3] = [b.acquire(), b.acquire(), b.acquire()];
    b.record(p1, undefined, false, 1);
    b.record(p2, boom, true, 1);
    expect(b.state).toBe('open');
    b.record(p3, undefined, false, 1); // admitted in the old half-open: ignored
    expect(b.state).toBe('open');
    expect(b.acquire()).toBe(-1);
    clock.advance(1_000);
    expect(b.state).toBe('half-open');
  });

  it('a slow probe re-opens even when it succeeded', () => {
    const { b } = opened(1, 1);
    b.record(b.acquire(), undefined, false, 500);
    expect(b.state).toBe('open');
  });

  it('a probe failure that isFailure ignores counts as a success', () => {
    const clock = new StepClock();
    const b = circuitBreaker({
      consecutiveFailures: 1,
      openDuration: 10,
      isFailure: (e) => e === boom,
      clock,
    });
    call(b, 'failure');
    clock.advance(10);
    b.record(b.acquire(), new Error('not ours'), true, 1);
    expect(b.state).toBe('closed');
  });

  it('after closing, the window starts empty', () => {
    const clock = new StepClock();
    const b = circuitBreaker({
      window: { type: 'count', size: 4 },
      minimumCalls: 4,
      openDuration: 10,
      clock,
    });
    calls(b, 4, 'failure');
    expect(b.state).toBe('open');
    clock.advance(10);
    call(b, 'success');
    expect(b.state).toBe('closed');
    calls(b, 3, 'failure');
    expect(b.state).toBe('closed'); // 3 calls: below minimumCalls, the old failures are gone
  });

  it('reading state turns an open breaker whose time is up into half-open, once', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 10, clock });
    const changes: string[] = [];
    b.onStateChange((c) => changes.push(`${c.from}>${c.to}`));
    call(b, 'failure');
    clock.advance(10);
    expect(b.current).toBe('open'); // current does not let time act
    expect(b.state).toBe('half-open');
    expect(b.state).toBe('half-open');
    expect(changes).toEqual(['closed>open', 'open>half-open']);
  });
});
