/**
 * Property: the idempotency key is identical across the attempts of one operation and
 * distinct across operations, for any mix of concurrent operations, retries, and callers
 * bringing their own keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoff, policy } from '../../src/index.js';
import { ManualClock } from '../support/clock.js';

const operation = fc.record({
  startAt: fc.integer({ min: 0, max: 100 }),
  failures: fc.integer({ min: 0, max: 4 }),
  latency: fc.integer({ min: 0, max: 50 }),
  ownKey: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
});

describe('idempotency key properties', () => {
  it('one key per operation, the same on every attempt, distinct between operations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 60 }),
        fc.boolean(),
        async (operations, listen) => {
          const clock = new ManualClock(0);
          const p = policy({
            clock,
            idempotency: true,
            ...(listen ? { onEvent: () => {} } : {}),
            retry: { maxAttempts: 5, backoff: backoff.constant(10), budget: false },
          });
          const keys: (string | undefined)[][] = operations.map(() => []);
          const results = operations.map(() => ({ done: false }));
          operations.forEach((op, i) => {
            clock.setTimeout(() => {
              void p
                .execute(
                  (ctx) =>
                    new Promise<void>((resolve, reject) => {
                      keys[i]?.push(ctx.idempotencyKey);
                      clock.setTimeout(
                        () => (ctx.attempt <= op.failures ? reject(new Error('retry me')) : resolve()),
                        op.latency,
                      );
                    }),
                  op.ownKey === undefined ? undefined : { idempotencyKey: op.ownKey },
                )
                .then(() => {
                  (results[i] as { done: boolean }).done = true;
                });
            }, op.startAt);
          });
          await clock.runAll();
          const generated = new Set<string>();
          operations.forEach((op, i) => {
            const mine = keys[i] as (string | undefined)[];
            expect(results[i]?.done).toBe(true);
            expect(mine).toHaveLength(op.failures + 1);
            expect(new Set(mine).size).toBe(1);
            const key = mine[0];
            expect(typeof key).toBe('string');
            if (op.ownKey !== undefined) {
              expect(key).toBe(op.ownKey);
            } else {
              expect(generated.has(key as string)).toBe(false);
              generated.add(key as string);
            }
          });
          // A generated key never collides with a caller's own key of this run either.
          for (const op of operations)
            if (op.ownKey !== undefined) expect(generated.has(op.ownKey)).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('10,000 operations get 10,000 distinct keys', async () => {
    const p = policy({ idempotency: true, retry: false });
    const keys = await Promise.all(
      Array.from({ length: 10_000 }, () => p.execute((ctx) => ctx.idempotencyKey)),
    );
    expect(new Set(keys).size).toBe(10_000);
  });
});
