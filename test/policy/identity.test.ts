/** Rule: when retrying stops, execute rejects with the last attempt's own error object, unchanged. */
import { describe, expect, it } from 'vitest';
import { backoff, type PolicyOptions, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

class GrpcLikeError extends Error {
  readonly code = 14;
  readonly metadata = { retryPushback: '10' };
}

const configurations: [string, PolicyOptions][] = [
  ['fast path', {}],
  ['with listeners', { onEvent: () => {} }],
  ['with a deadline and attempt timeout', { deadline: 60_000, attemptTimeout: 30_000 }],
];

describe('the rejection is the last attempt error', () => {
  for (const [label, options] of configurations) {
    it(`is the same object, with its class and fields (${label})`, async () => {
      const clock = new ManualClock();
      const p = policy({ clock, ...options, retry: { maxAttempts: 3, backoff: backoff.constant(1) } });
      const thrown: GrpcLikeError[] = [];
      const settled = await clock.settle(
        p.execute(async (ctx) => {
          const error = new GrpcLikeError(`unavailable ${ctx.attempt}`);
          thrown.push(error);
          throw error;
        }),
      );
      expect(thrown).toHaveLength(3);
      expect(settled.status).toBe('rejected');
      const reason = settled.status === 'rejected' ? settled.reason : undefined;
      expect(reason).toBe(thrown[2]);
      expect(reason).toBeInstanceOf(GrpcLikeError);
      expect(reason).toMatchObject({ code: 14, message: 'unavailable 3', metadata: { retryPushback: '10' } });
      expect((reason as Error).cause).toBeUndefined();
    });

    it(`non-Error values and frozen errors pass through unchanged (${label})`, async () => {
      for (const value of [
        'text',
        42,
        { reason: 'plain object' },
        Object.freeze(new Error('frozen')),
        null,
      ]) {
        const clock = new ManualClock();
        const p = policy({ clock, ...options, retry: { maxAttempts: 2, backoff: backoff.constant(1) } });
        const settled = await clock.settle(p.execute(() => Promise.reject(value)));
        expect(settled).toMatchObject({ status: 'rejected' });
        expect(settled.status === 'rejected' ? settled.reason : 'missing').toBe(value);
      }
    });
  }

  it('a not-retryable error is returned as is after one attempt', async () => {
    const error = new TypeError('bad argument');
    await expect(policy().execute(() => Promise.reject(error))).rejects.toBe(error);
  });
});
