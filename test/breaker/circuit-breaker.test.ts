import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { BulkheadRejectedError, CircuitOpenError, isBreakwaterError } from '../../src/errors.js';
import { boom, call, calls, StepClock } from './helpers.js';

describe('circuitBreaker: count window and failure rate', () => {
  it('defaults: opens when half of the last 100 calls failed, once 20 were made', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ clock });
    expect(b.state).toBe('closed');
    calls(b, 19, 'failure');
    expect(b.state).toBe('closed'); // 19 < minimumCalls
    call(b, 'failure');
    expect(b.state).toBe('open');
  });

  it('opens exactly when failures / calls reaches the threshold', () => {
    const b = circuitBreaker({
      window: { type: 'count', size: 10 },
      failureRateThreshold: 0.5,
      minimumCalls: 10,
    });
    calls(b, 6, 'success');
    calls(b, 3, 'failure');
    expect(b.state).toBe('closed'); // 9 calls: below minimumCalls
    call(b, 'failure'); // 4 / 10
    expect(b.state).toBe('closed');
    call(b, 'failure'); // the oldest success leaves: 5 / 10
    expect(b.state).toBe('open');
  });

  it('the count window forgets the oldest outcomes', () => {
    const b = circuitBreaker({
      window: { type: 'count', size: 4 },
      failureRateThreshold: 0.75,
      minimumCalls: 4,
    });
    calls(b, 2, 'failure');
    calls(b, 2, 'success'); // F F S S: 0.5
    calls(b, 2, 'failure'); // S S F F: 0.5 (the first failures left)
    expect(b.state).toBe('closed');
    call(b, 'failure'); // S F F F
    expect(b.state).toBe('open');
  });

  it('minimumCalls defaults to the count window size when that is below 20', () => {
    const b = circuitBreaker({ window: { type: 'count', size: 5 } });
    calls(b, 4, 'failure');
    expect(b.state).toBe('closed');
    call(b, 'failure');
    expect(b.state).toBe('open');
  });

  it('a rate exactly at a decimal threshold opens (no floating-point slack)', () => {
    // 0.07 × 100 is 7.000000000000001 in floating point: "7 ≥ 0.07 × 100" would say no.
    for (const [threshold, size, failures] of [
      [0.07, 100, 7],
      [0.28, 25, 7],
      [0.56, 25, 14],
    ] as const) {
      const b = circuitBreaker({
        window: { type: 'count', size },
        failureRateThreshold: threshold,
        minimumCalls: size,
      });
      calls(b, size - failures, 'success');
      calls(b, failures - 1, 'failure');
      expect(b.state, `${threshold}`).toBe('closed');
      call(b, 'failure');
      expect(b.state, `${failures} of ${size} at ${threshold}`).toBe('open');
    }
  });

  it('a slow-call rate exactly at a decimal threshold opens', () => {
    const b = circuitBreaker({
      window: { type: 'count', size: 100 },
      minimumCalls: 100,
      slowCall: { durationMs: 1_000, rateThreshold: 0.07 },
    });
    calls(b, 93, 'success');
    calls(b, 7, 'slow');
    expect(b.state).toBe('open');
  });

  it('a threshold of 1 needs every call in the window to fail', () => {
    const b = circuitBreaker({
      window: { type: 'count', size: 5 },
      failureRateThreshold: 1,
      minimumCalls: 5,
    });
    calls(b, 1, 'success');
    calls(b, 4, 'failure');
    expect(b.state).toBe('closed');
    call(b, 'failure');
    expect(b.state).toBe('open');
  });
});

describe('circuitBreaker: time window', () => {
  it('counts the calls of the last durationMs, bucket by bucket', () => {
    const clock = new StepClock(0);
    const b = circuitBreaker({
      window: { type: 'time', durationMs: 1_000, buckets: 10 },
      failureRateThreshold: 0.5,
      minimumCalls: 4,
      clock,
    });
    calls(b, 3, 'failure'); // bucket 0
    clock.advance(1_000); // bucket 10: bucket 0 has expired
    call(b, 'failure');
    expect(b.state).toBe('closed'); // only 1 call in the window
    calls(b, 2, 'failure');
    expect(b.state).toBe('closed'); // 3 calls
    call(b, 'success');
    expect(b.state).toBe('open'); // 3 failures of 4
  });

  it('keeps a bucket until the whole window has passed it', () => {
    const clock = new StepClock(0);
    const b = circuitBreaker({
      window: { type: 'time', durationMs: 1_000, buckets: 10 },
      failureRateThreshold: 0.5,
      minimumCalls: 2,
      clock,
    });
    call(b, 'failure'); // t = 0, bucket 0
    clock.advance(999); // bucket 9: bucket 0 still in the window
    call(b, 'failure');
    expect(b.state).toBe('open');
  });

  it('a long idle gap empties the window', () => {
    const clock = new StepClock(0);
    const b = circuitBreaker({
      window: { type: 'time', durationMs: 10_000 },
      minimumCalls: 3,
      clock,
    });
    calls(b, 2, 'failure');
    clock.advance(3_600_000);
    calls(b, 2, 'success');
    call(b, 'failure');
    expect(b.state).toBe('closed'); // 1 failure of 3
  });
});

describe('circuitBreaker: slow calls', () => {
  const options = (clock: StepClock) =>
    ({
      window: { type: 'count', size: 10 },
      minimumCalls: 4,
      failureRateThreshold: 1,
      slowCall: { durationMs: 1_000, rateThreshold: 0.5 },
      clock,
    }) as const;

  it('opens when slow calls / calls reaches rateThreshold, even if they succeed', () => {
    const b = circuitBreaker(options(new StepClock()));
    expect(b.measuresDuration).toBe(true);
    calls(b, 2, 'success');
    call(b, 'slow');
    expect(b.state).toBe('closed');
    call(b, 'slow'); // 2 slow of 4
    expect(b.state).toBe('open');
  });

  it('a call is slow from exactly durationMs', () => {
    const b = circuitBreaker(options(new StepClock()));
    for (const ms of [999, 999, 1_000, 1_000]) {
      const permit = b.acquire();
      b.record(permit, undefined, false, ms);
    }
    expect(b.state).toBe('open');
  });

  it('without a slowCall rule, durations do not matter', () => {
    const b = circuitBreaker({ window: { type: 'count', size: 4 }, minimumCalls: 4 });
    expect(b.measuresDuration).toBe(false);
    calls(b, 4, 'slow');
    expect(b.state).toBe('closed');
  });
});

describe('circuitBreaker: consecutive failures', () => {
  it('alone, it is a pure consecutive-failures breaker (no rate rule)', () => {
    const b = circuitBreaker({ consecutiveFailures: 3 });
    // With a rate rule (the default 50 % of 20 calls), this would open; here only runs count.
    for (let i = 0; i < 30; i++) {
      call(b, 'failure');
      call(b, 'failure');
      call(b, 'success');
    }
    expect(b.state).toBe('closed');
    calls(b, 3, 'failure');
    expect(b.state).toBe('open');
  });

  it('a success (or a failure isFailure ignores) resets the run', () => {
    const b = circuitBreaker({ consecutiveFailures: 2, isFailure: (e) => e !== 'ignored' });
    call(b, 'failure');
    const permit = b.acquire();
    b.record(permit, 'ignored', true, 1);
    call(b, 'failure');
    expect(b.state).toBe('closed');
    call(b, 'failure');
    expect(b.state).toBe('open');
  });

  it('combined with a rate rule, whichever trips first opens', () => {
    const byRun = circuitBreaker({
      consecutiveFailures: 3,
      window: { type: 'count', size: 100 },
      minimumCalls: 50,
    });
    calls(byRun, 3, 'failure');
    expect(byRun.state).toBe('open');
    const byRate = circuitBreaker({
      consecutiveFailures: 10,
      window: { type: 'count', size: 4 },
      minimumCalls: 4,
    });
    for (const o of ['failure', 'success', 'failure', 'success'] as const) call(byRate, o);
    expect(byRate.state).toBe('open');
  });
});

describe('circuitBreaker: isFailure', () => {
  it("by default every error counts except breakwater's own rejections", () => {
    const b = circuitBreaker({ consecutiveFailures: 2 });
    for (const error of [new CircuitOpenError(10), new BulkheadRejectedError(1, 0)]) {
      b.record(b.acquire(), error, true, 1);
      b.record(b.acquire(), error, true, 1);
    }
    expect(b.state).toBe('closed');
    b.record(b.acquire(), new TypeError('x'), true, 1);
    b.record(b.acquire(), 'a string', true, 1);
    expect(b.state).toBe('open');
  });

  it('a custom isFailure decides; it is only asked about failed calls', () => {
    const asked: unknown[] = [];
    const b = circuitBreaker({
      consecutiveFailures: 1,
      isFailure: (error) => {
        asked.push(error);
        return (error as { status?: number }).status === 503;
      },
    });
    b.record(b.acquire(), undefined, false, 1);
    b.record(b.acquire(), { status: 404 }, true, 1);
    expect(b.state).toBe('closed');
    b.record(b.acquire(), { status: 503 }, true, 1);
    expect(b.state).toBe('open');
    expect(asked).toEqual([{ status: 404 }, { status: 503 }]);
  });

  it('only a strict true counts as a failure', () => {
    const b = circuitBreaker({ consecutiveFailures: 1, isFailure: () => 1 as unknown as boolean });
    call(b, 'failure');
    expect(b.state).toBe('closed');
  });
});

describe('circuitBreaker: permits and generations', () => {
  it('a call admitted while closed that ends after the breaker opened does not count', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 1_000, clock });
    const late = b.acquire();
    call(b, 'failure');
    expect(b.state).toBe('open');
    clock.advance(1_000);
    const probe = b.acquire(); // half-open: the one probe
    expect(probe).toBeGreaterThanOrEqual(0);
    b.record(late, boom, true, 1); // from the closed generation: ignored, does not re-open
    expect(b.state).toBe('half-open');
    b.record(probe, undefined, false, 1);
    expect(b.state).toBe('closed');
  });

  it('a stale success cannot close a half-open breaker nor free a probe slot', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 100, clock });
    const stale = b.acquire();
    call(b, 'failure');
    clock.advance(100);
    expect(b.acquire()).toBeGreaterThanOrEqual(0); // the probe
    b.record(stale, undefined, false, 1);
    b.release(stale);
    expect(b.state).toBe('half-open');
    expect(b.acquire()).toBe(-1); // the probe slot is still taken
  });

  it('release() frees a probe slot without a verdict', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 100, clock });
    call(b, 'failure');
    clock.advance(100);
    const probe = b.acquire();
    expect(b.acquire()).toBe(-1);
    b.release(probe);
    expect(b.state).toBe('half-open');
    expect(b.acquire()).toBeGreaterThanOrEqual(0);
  });

  it('release() while closed changes nothing', () => {
    const b = circuitBreaker({ consecutiveFailures: 2 });
    call(b, 'failure');
    b.release(b.acquire());
    call(b, 'failure');
    expect(b.state).toBe('open');
  });
});

describe('circuitBreaker: rejection', () => {
  it('an open breaker refuses with CircuitOpenError carrying retryAfterMs', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 5_000, clock });
    call(b, 'failure');
    clock.advance(1_500);
    expect(b.acquire()).toBe(-1);
    expect(b.retryAfterMs()).toBe(3_500);
    const cause = new Error('last attempt');
    const error = b.rejection(cause);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isBreakwaterError(error)).toBe(true);
    expect(error.code).toBe('BREAKWATER_CIRCUIT_OPEN');
    expect(error.retryAfterMs).toBe(3_500);
    expect(error.cause).toBe(cause);
    expect(error.key).toBeUndefined();
  });

  it('half-open with every probe out: retry after 0; isolated: retry after Infinity', () => {
    const clock = new StepClock();
    const b = circuitBreaker({ consecutiveFailures: 1, openDuration: 10, clock });
    call(b, 'failure');
    clock.advance(10);
    b.acquire();
    expect(b.acquire()).toBe(-1);
    expect(b.rejection(undefined).retryAfterMs).toBe(0);
    b.isolate();
    expect(b.acquire()).toBe(-1);
    expect(b.rejection(undefined).retryAfterMs).toBe(Number.POSITIVE_INFINITY);
  });
});
