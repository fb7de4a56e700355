/** Rules: default classification; retryOn (policy and per call); `{ retry: false }`. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AttemptTimeoutError,
  attemptsMade,
  BulkheadRejectedError,
  backoff,
  CircuitOpenError,
  DeadlineExceededError,
  InvalidOptionsError,
  isRetryableByDefault,
  type PolicyOptions,
  policy,
  type RetryOn,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog } from '../support/events.js';

/** How many attempts a policy makes when every attempt throws `error`. */
async function attemptsFor(error: unknown, options: PolicyOptions = {}): Promise<number> {
  const clock = new ManualClock();
  const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(1) }, ...options });
  let n = 0;
  const settled = await clock.settle(
    p.execute(async () => {
      n++;
      throw error;
    }),
  );
  expect(settled).toMatchObject({ status: 'rejected', reason: error });
  return n;
}

class TransportError extends Error {
  readonly status = 503;
}

describe('default classification', () => {
  it('retries ordinary errors, custom error classes and non-Error values', async () => {
    expect(await attemptsFor(new Error('plain'))).toBe(3);
    expect(await attemptsFor(new TransportError('unavailable'))).toBe(3);
    expect(await attemptsFor('a string')).toBe(3);
    expect(await attemptsFor({ code: 'ECONNRESET' })).toBe(3);
  });

  it("does not retry breakwater's own rejections", async () => {
    expect(await attemptsFor(new CircuitOpenError(100))).toBe(1);
    expect(await attemptsFor(new BulkheadRejectedError(1, 0))).toBe(1);
    expect(await attemptsFor(new DeadlineExceededError(0))).toBe(1);
    expect(await attemptsFor(new InvalidOptionsError('x', 'bad'))).toBe(1);
  });

  it('does not retry programmer errors: TypeError, RangeError, ReferenceError, SyntaxError', async () => {
    for (const error of [
      new TypeError('t'),
      new RangeError('r'),
      new ReferenceError('ref'),
      new SyntaxError('s'),
    ]) {
      expect(await attemptsFor(error), error.name).toBe(1);
    }
  });

  it("retries Node's fetch network failure (TypeError: fetch failed), a real one included", async () => {
    expect(
      isRetryableByDefault(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })),
    ).toBe(true);
    expect(await attemptsFor(new TypeError('fetch failed'))).toBe(3);
    // An inner layer's verdict, reported through fetch, is not a network failure.
    expect(isRetryableByDefault(new TypeError('fetch failed', { cause: new CircuitOpenError(100) }))).toBe(
      false,
    );
    const abort = new DOMException('aborted', 'AbortError');
    expect(isRetryableByDefault(new TypeError('fetch failed', { cause: abort }))).toBe(false);
    expect(isRetryableByDefault(new TypeError('Cannot read properties of undefined'))).toBe(false);
    // A port nothing listens on: fetch rejects with TypeError: fetch failed (cause ECONNREFUSED).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    let calls = 0;
    const refused = policy({ retry: { maxAttempts: 3, backoff: () => 0 } });
    const error = await refused
      .execute(async ({ signal }) => {
        calls++;
        return fetch(`http://127.0.0.1:${port}/`, { signal });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(calls).toBe(3);
    expect(attemptsMade(error)).toBe(3);
  });

  it('does not retry an abort (AbortError)', async () => {
    expect(await attemptsFor(new DOMException('aborted', 'AbortError'))).toBe(1);
    const aborted = AbortSignal.abort();
    expect(await attemptsFor(aborted.reason)).toBe(1);
  });

  it('retries an attempt timeout', async () => {
    expect(isRetryableByDefault(new AttemptTimeoutError(10))).toBe(true);
    expect(await attemptsFor(new AttemptTimeoutError(10))).toBe(3);
  });

  it('isRetryableByDefault agrees with the policy', () => {
    expect(isRetryableByDefault(new Error('x'))).toBe(true);
    expect(isRetryableByDefault(undefined)).toBe(true);
    expect(isRetryableByDefault(new TypeError('x'))).toBe(false);
    expect(isRetryableByDefault(new CircuitOpenError(1))).toBe(false);
  });
});

describe('retryOn', () => {
  it('retryOn decides, and receives the error and the attempt context', async () => {
    const seen: [unknown, number][] = [];
    const retryOn: RetryOn = (error, ctx) => {
      seen.push([error, ctx.attempt]);
      return ctx.attempt < 2;
    };
    const error = new TypeError('retried because retryOn says so');
    expect(
      await attemptsFor(error, { retry: { retryOn, maxAttempts: 5, backoff: backoff.constant(1) } }),
    ).toBe(2);
    expect(seen).toEqual([
      [error, 1],
      [error, 2],
    ]);
  });

  it('{ retry: false } stops, with a retry-refused event (not-retryable)', async () => {
    const log = new EventLog();
    const error = new Error('do not retry');
    const n = await attemptsFor(error, {
      onEvent: log.listener,
      retry: { retryOn: () => ({ retry: false, after: 5 }), maxAttempts: 3 },
    });
    expect(n).toBe(1);
    expect(log.of('retry-refused')).toMatchObject([{ reason: 'not-retryable', attempt: 1, error }]);
  });

  it('a verdict other than true or { retry: true } does not retry', async () => {
    for (const verdict of [false, 1, 'yes', null, undefined, {}, { retry: 'true' }]) {
      const n = await attemptsFor(new Error('x'), {
        retry: { retryOn: (() => verdict) as unknown as RetryOn, maxAttempts: 3 },
      });
      expect(n, String(verdict)).toBe(1);
    }
  });

  it('ExecuteOptions.retryOn replaces the policy retryOn', async () => {
    const clock = new ManualClock();
    const policyRetryOn = vi.fn(() => true);
    const p = policy({
      clock,
      retry: { retryOn: policyRetryOn, maxAttempts: 4, backoff: backoff.constant(1) },
    });
    let n = 0;
    const callRetryOn = vi.fn((_e: unknown, ctx: { attempt: number }) => ctx.attempt < 2);
    const settled = await clock.settle(
      p.execute(
        async () => {
          n++;
          throw new Error('x');
        },
        { retryOn: callRetryOn },
      ),
    );
    expect(settled.status).toBe('rejected');
    expect(n).toBe(2);
    expect(callRetryOn).toHaveBeenCalledTimes(2);
    expect(policyRetryOn).not.toHaveBeenCalled();
  });

  it('ExecuteOptions.retryOn is called as a method of the options, the policy retryOn as a plain function', async () => {
    const clock = new ManualClock();
    const thisOfPolicyRetryOn: unknown[] = [];
    const p = policy({
      clock,
      retry: {
        maxAttempts: 3,
        backoff: backoff.constant(1),
        retryOn(this: unknown) {
          thisOfPolicyRetryOn.push(this);
          return true;
        },
      },
    });
    const fail = async () => {
      throw new Error('x');
    };
    await clock.settle(p.execute(fail));
    expect(thisOfPolicyRetryOn).toEqual([undefined, undefined, undefined]);
    // An adapter's options may be a class whose retryOn method reads its fields.
    const seen: number[] = [];
    const thisOfOwnRetryOn: unknown[] = [];
    const options = {
      retryOn(this: unknown, _error: unknown, ctx: { attempt: number }) {
        thisOfOwnRetryOn.push(this);
        seen.push(ctx.attempt);
        return ctx.attempt < 2;
      },
    };
    const settled = await clock.settle(p.execute(fail, options));
    expect(settled.status).toBe('rejected');
    expect(seen).toEqual([1, 2]);
    expect(thisOfOwnRetryOn).toEqual([options, options]);
  });

  it('ExecuteOptions.retryOn replaces the default classification too', async () => {
    const clock = new ManualClock();
    const p = policy({ clock, retry: { maxAttempts: 3, backoff: backoff.constant(1) } });
    let n = 0;
    await clock.settle(
      p.execute(
        async () => {
          n++;
          throw new TypeError('fetch failed');
        },
        { retryOn: () => true },
      ),
    );
    expect(n).toBe(3);
  });

  describe('a retryOn that throws', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('stops with the attempt error and reports the bug as a warning', async () => {
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const log = new EventLog();
      const error = new Error('the real failure');
      const n = await attemptsFor(error, {
        onEvent: log.listener,
        retry: {
          retryOn: () => {
            throw new Error('classifier bug');
          },
        },
      });
      expect(n).toBe(1);
      expect(log.of('retry-refused')).toMatchObject([{ reason: 'not-retryable', error }]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toContain('classifier bug');
    });
  });
});
