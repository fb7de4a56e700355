/** Rule: policy.with() replaces options and shares breakers, budgets and bulkheads. */
import { describe, expect, it } from 'vitest';
import {
  BulkheadRejectedError,
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  policy,
  retryBudget,
} from '../../src/index.js';
import { ManualClock } from '../support/clock.js';
import { EventLog, never } from '../support/events.js';

describe('policy.with()', () => {
  it('shares the breaker, the budget and the bulkhead', () => {
    const breaker = circuitBreaker();
    const budget = retryBudget();
    const shared = bulkhead();
    const base = policy({ circuitBreaker: breaker, bulkhead: shared, retry: { budget } });
    const derived = base.with({ name: 'derived', deadline: 500 });
    expect(derived.config.breaker).toBe(breaker);
    expect(derived.config.budget).toBe(budget);
    expect(derived.config.bulkhead).toBe(shared);
    expect(derived.name).toBe('derived');
    expect(derived.config.deadline).toBe(500);
    expect(base.config.deadline).toBeUndefined();
  });

  it('shares the default budget the base policy created for itself', () => {
    const base = policy();
    expect(base.with({ deadline: 100 }).config.budget).toBe(base.config.budget);
    expect(base.with({ retry: { maxAttempts: 5 } }).config.budget).toBe(base.config.budget);
  });

  it('a base that never retries hands no "budget: false" to a derived policy that retries', () => {
    const derived = policy({ retry: { maxAttempts: 1 } }).with({ retry: { maxAttempts: 3 } });
    expect(derived.config.budget).toBeDefined();
    const explicitOff = policy({ retry: { maxAttempts: 1, budget: false } }).with({
      retry: { maxAttempts: 3 },
    });
    expect(explicitOff.config.budget).toBeUndefined();
  });

  it('merges retry options and keeps the others', () => {
    const retryOn = () => true;
    const base = policy({ name: 'base', attemptTimeout: 50, retry: { maxAttempts: 4, retryOn } });
    const derived = base.with({ retry: { maxAttempts: 2 } });
    expect(derived.config.maxAttempts).toBe(2);
    expect(derived.config.retryOn).toBe(retryOn);
    expect(derived.config.attemptTimeout).toBe(50);
    expect(derived.name).toBe('base');
    expect(base.with({ retry: false }).config.maxAttempts).toBe(1);
  });

  it('the shared breaker and bulkhead act across both policies', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 1 });
    const base = policy({
      clock,
      circuitBreaker: breaker,
      retry: false,
      bulkhead: bulkhead({ maxConcurrent: 1 }),
    });
    const derived = base.with({ name: 'derived' });
    const holder = base.execute(() => never());
    await expect(derived.execute(async () => 1)).rejects.toBeInstanceOf(BulkheadRejectedError);
    holder.catch(() => {});

    const b2 = policy({ clock, circuitBreaker: breaker, retry: false });
    await b2
      .with({ name: 'other' })
      .execute(() => Promise.reject(new Error('x')))
      .catch(() => {});
    await expect(b2.execute(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("the base policy's listeners hear the derived policy; an onEvent override replaces them", async () => {
    const log = new EventLog();
    const base = policy({ onEvent: log.listener });
    await base.with({ name: 'derived' }).execute(async () => 1);
    expect(log.of('operation-end')).toMatchObject([{ policy: 'derived' }]);
    const other = new EventLog();
    await base.with({ onEvent: other.listener }).execute(async () => 1);
    expect(log.of('operation-end')).toHaveLength(1);
    expect(other.of('operation-end')).toHaveLength(1);
  });

  it('validates its overrides like policy()', () => {
    const base = policy();
    expect(() => base.with({ deadline: -1 })).toThrow(expect.objectContaining({ option: 'deadline' }));
    expect(() => base.with({ nope: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'BREAKWATER_INVALID_OPTIONS' }),
    );
  });
});
