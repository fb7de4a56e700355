/**
 * Type-level tests of execute(): checked by `tsc -p tsconfig.check.json` (a wrong type
 * fails the type-check); at run time they only run the calls.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { type AttemptContext, type ExecuteOptions, type Policy, policy } from '../../src/index.js';

describe('execute<T>', () => {
  const p: Policy = policy({ retry: false });

  it("keeps the function's result type, async or sync", async () => {
    expectTypeOf(p.execute(async () => 42)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(p.execute(() => 'text')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(p.execute(async () => ({ id: 1, tags: ['a'] }))).toEqualTypeOf<
      Promise<{ id: number; tags: string[] }>
    >();
    expectTypeOf(p.execute(() => Promise.resolve<'a' | 'b'>('a'))).toEqualTypeOf<Promise<'a' | 'b'>>();
    expectTypeOf(p.execute(async () => {})).toEqualTypeOf<Promise<void>>();
    const thenable = null as unknown as PromiseLike<bigint>;
    expectTypeOf(p.execute(() => thenable)).toEqualTypeOf<Promise<bigint>>();
    const value: number = await p.execute(async () => 1);
    expectTypeOf(value).toBeNumber();
  });

  it('hands the function an AttemptContext', async () => {
    await p.execute((ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<AttemptContext>();
      expectTypeOf(ctx.attempt).toBeNumber();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(ctx.deadline).toEqualTypeOf<number | undefined>();
      expectTypeOf(ctx.attemptDeadline).toEqualTypeOf<number | undefined>();
      expectTypeOf(ctx.idempotencyKey).toEqualTypeOf<string | undefined>();
      expectTypeOf(ctx.key).toEqualTypeOf<string | undefined>();
      expectTypeOf(ctx.remaining).toEqualTypeOf<() => number>();
      // @ts-expect-error the context is read-only
      ctx.attempt = 2;
    });
  });

  it('takes typed per-call options', async () => {
    expectTypeOf<ExecuteOptions['signal']>().toEqualTypeOf<AbortSignal | undefined>();
    expectTypeOf<ExecuteOptions['deadline']>().toEqualTypeOf<number | undefined>();
    await p.execute(async () => 1, { deadline: Date.now() + 1_000, idempotencyKey: 'k', key: 'host' });
    // @ts-expect-error the deadline is a number (ms since the epoch)
    await p.execute(async () => 1, { deadline: new Date() }).catch(() => {});
    // @ts-expect-error the signal is an AbortSignal
    await p.execute(async () => 1, { signal: new AbortController() }).catch(() => {});
    await p.execute(async () => 1, { timeout: 5 });
    // @ts-expect-error unknown per-call option
    await p.execute(async () => 1, { timeoutMs: 5 }).catch(() => {});
    // @ts-expect-error execute needs a function
    await p.execute(42).catch(() => {});
  });
});
