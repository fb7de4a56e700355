/**
 * Regression tests for races between a result and a stop (deadline, caller abort), found
 * while testing the engine. Each one failed before the fix named in its title.
 */
import { describe, expect, it } from 'vitest';
import {
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  DeadlineExceededError,
  policy,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { deferred, EventLog, never, outcome } from '../support/events.js';

/** Runs `f` after `depth` hops through the microtask queue. */
function afterMicrotasks(depth: number, f: () => void): void {
  if (depth === 0) queueMicrotask(f);
  else queueMicrotask(() => afterMicrotasks(depth - 1, f));
}

describe('stop versus result', () => {
  it('a caller abort from inside fn rejects at once with the reason (it used to hang)', async () => {
    const p = policy({ retry: false });
    const controller = new AbortController();
    const reason = new Error('stop');
    let attempts = 0;
    const result = p.execute(
      () => {
        attempts++;
        controller.abort(reason);
        return never();
      },
      { signal: controller.signal },
    );
    const settled = await Promise.race([
      outcome(result),
      new Promise((resolve) => setImmediate(() => setImmediate(() => resolve('pending')))),
    ]);
    expect(settled).toEqual({ ok: false, error: reason });
    expect(attempts).toBe(1);
  });

  it('an abort at any microtask depth while the attempt settles books the attempt exactly once', async () => {
    const seen = new Set<string>();
    for (let depth = 0; depth < 8; depth++) {
      const log = new EventLog();
      const p = policy({ retry: false, onEvent: log.listener });
      const controller = new AbortController();
      const reason = new Error(`late ${depth}`);
      const settled = await outcome(
        p.execute(
          async () => {
            afterMicrotasks(depth, () => controller.abort(reason));
            return 'value';
          },
          { signal: controller.signal },
        ),
      );
      const ends = log.of('attempt-end');
      expect(ends, `depth ${depth}`).toHaveLength(1);
      expect(log.of('operation-end'), `depth ${depth}`).toHaveLength(1);
      if (settled.ok) {
        expect(settled.value).toBe('value');
        expect(ends[0]?.outcome).toBe('success');
        seen.add('resolved');
      } else {
        expect(settled.error).toBe(reason);
        expect(ends[0]?.outcome).toBe('aborted');
        seen.add('rejected');
      }
    }
    // Both sides of the race were exercised.
    expect([...seen].sort()).toEqual(['rejected', 'resolved']);
  });

  it('a half-open probe aborted as its result arrives frees its probe slot once', async () => {
    for (let depth = 0; depth < 6; depth++) {
      const clock = new ManualClock();
      const breaker = circuitBreaker({
        clock,
        consecutiveFailures: 1,
        halfOpen: { maxProbes: 1, successThreshold: 2 },
        initialState: { state: 'open', openUntil: 0 },
      });
      const p = policy({ clock, retry: false, circuitBreaker: breaker });
      const controller = new AbortController();
      await outcome(
        p.execute(
          async () => {
            afterMicrotasks(depth, () => controller.abort(new Error('late')));
            return 1;
          },
          { signal: controller.signal },
        ),
      );
      expect(breaker.state, `depth ${depth}`).toBe('half-open');
      // One probe at a time: a second concurrent call must be refused.
      const first = p.execute(() => never());
      const second = outcome(p.execute(async () => 2));
      const refused = await second;
      expect(refused.ok, `depth ${depth}`).toBe(false);
      expect(refused.ok ? undefined : refused.error).toBeInstanceOf(CircuitOpenError);
      first.catch(() => {});
    }
  });
});

describe('bulkhead slot handover', () => {
  it('a slot granted to a queued call that is aborted before it resumes is given back', async () => {
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    for (let depth = 0; depth < 6; depth++) {
      const controller = new AbortController();
      const gate = deferred<number>();
      const p = policy({
        retry: false,
        bulkhead: shared,
        onEvent: (e) => {
          if (e.type === 'operation-end' && e.outcome === 'success')
            afterMicrotasks(depth, () => controller.abort(new Error('b')));
        },
      });
      const a = p.execute(() => gate.promise);
      const b = outcome(p.execute(async () => 2, { signal: controller.signal }));
      gate.resolve(1);
      await a;
      await b;
      expect({ depth, active: shared.active, queued: shared.queued }).toEqual({
        depth,
        active: 0,
        queued: 0,
      });
    }
  });

  it('no first attempt starts when the slot comes exactly at the deadline', async () => {
    const clock = new ManualClock();
    const shared = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const holder = policy({ clock, retry: false, bulkhead: shared });
    const bounded = policy({ clock, retry: false, bulkhead: shared, deadline: 1_000 });
    // The holder's own timer is created first, so it fires first at t0 + 1000.
    const a = holder.execute(
      () => new Promise<string>((resolve) => clock.setTimeout(() => resolve('a'), 1_000)),
    );
    let started = 0;
    const b = bounded.execute(async () => {
      started++;
      return 'b';
    });
    const settled = await clock.settle(b);
    await expect(a).resolves.toBe('a');
    expect(started).toBe(0);
    expect(settled.status).toBe('rejected');
    expect(settled.status === 'rejected' ? settled.reason : undefined).toBeInstanceOf(DeadlineExceededError);
    expect(shared.active).toBe(0);
  });
});

describe('far deadlines', () => {
  const MAX_TIMER = 2_147_483_647;

  it('a per-call deadline beyond what a timer can wait is reached in steps, never early', async () => {
    const clock = new ManualClock(0);
    const p = policy({ clock, retry: false });
    const far = 30 * 86_400_000; // 30 days
    // The first call's deadline joins the policy's lane; the second is earlier, so it
    // needs a timer of its own: both paths are exercised.
    const lane = p.execute(() => never(), { deadline: far + 1 });
    const own = p.execute(() => never(), { deadline: far });
    const laneOutcome = clock.watch(lane);
    const ownOutcome = clock.watch(own);
    await clock.advance(far - 1);
    expect(ownOutcome.settled).toBeUndefined();
    expect(laneOutcome.settled).toBeUndefined();
    await clock.runAll();
    expect(ownOutcome.settled).toMatchObject({ status: 'rejected', at: far });
    expect(laneOutcome.settled).toMatchObject({ status: 'rejected', at: far + 1 });
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(MAX_TIMER);
  });

  it('a per-call deadline of Infinity means no deadline', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: false });
    const seen: (number | undefined)[] = [];
    const result = await p.execute(
      (ctx) => {
        seen.push(ctx.deadline, ctx.remaining());
        return 'ok';
      },
      { deadline: Number.POSITIVE_INFINITY },
    );
    expect(result).toBe('ok');
    expect(seen).toEqual([undefined, Number.POSITIVE_INFINITY]);
    expect(clock.created).toBe(0);
  });
});

describe('open breaker admission', () => {
  it('the admission check reads the clock once: the breaker is judged at that instant', async () => {
    // Regression: the check used to read the clock twice (state, then acquire); a time
    // running out between the reads kept a probe permit and pinned the breaker half-open.
    let reads: number[] = [];
    const clock = new ManualClock(0);
    const stepping = {
      now: () => reads.shift() ?? clock.now(),
      setTimeout: clock.setTimeout.bind(clock),
      clearTimeout: clock.clearTimeout.bind(clock),
    };
    const breaker = circuitBreaker({
      clock: stepping,
      consecutiveFailures: 1,
      halfOpen: { maxProbes: 1 },
      initialState: { state: 'open', openUntil: 100 },
    });
    const p = policy({ clock: stepping, retry: false, circuitBreaker: breaker });
    clock.set(100);
    reads = [99, 100]; // still open at the one read that counts
    await expect(p.execute(async () => 'early')).rejects.toMatchObject({
      code: 'BREAKWATER_CIRCUIT_OPEN',
      retryAfterMs: 1,
    });
    reads = [];
    await expect(p.execute(async () => 'probe')).resolves.toBe('probe');
    expect(breaker.state).toBe('closed');
  });
});

describe('stops from inside listeners', () => {
  it('an attempt-start listener that aborts the caller signal: fn is not called', async () => {
    const controller = new AbortController();
    const reason = new Error('listener aborted');
    const p = policy({
      retry: false,
      onEvent: (e) => {
        if (e.type === 'attempt-start') controller.abort(reason);
      },
    });
    let calls = 0;
    await expect(
      p.execute(
        async () => {
          calls++;
        },
        { signal: controller.signal },
      ),
    ).rejects.toBe(reason);
    expect(calls).toBe(0);
  });
});
