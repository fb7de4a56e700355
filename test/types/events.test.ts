/** Type-level tests: events narrow by `type`. Checked by `tsc -p tsconfig.check.json`. */
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AttemptOutcome,
  type BreakwaterEvent,
  type CircuitState,
  type EventListener,
  policy,
  type RetryRefusedReason,
} from '../../src/index.js';

describe('events', () => {
  it('narrow by type', () => {
    const listener: EventListener = (e) => {
      expectTypeOf(e).toEqualTypeOf<BreakwaterEvent>();
      expectTypeOf(e.policy).toBeString();
      expectTypeOf(e.at).toBeNumber();
      // @ts-expect-error only a retry-scheduled event has delayMs
      void e.delayMs;
      if (e.type === 'retry-scheduled') {
        expectTypeOf(e.delayMs).toBeNumber();
        expectTypeOf(e.reason).toEqualTypeOf<'backoff' | 'server-hint'>();
        expectTypeOf(e.attempt).toBeNumber();
        expectTypeOf(e.error).toBeUnknown();
      } else if (e.type === 'retry-refused') {
        expectTypeOf(e.reason).toEqualTypeOf<RetryRefusedReason>();
      } else if (e.type === 'attempt-end') {
        expectTypeOf(e.outcome).toEqualTypeOf<AttemptOutcome>();
        expectTypeOf(e.durationMs).toBeNumber();
        expectTypeOf(e.key).toEqualTypeOf<string | undefined>();
      } else if (e.type === 'circuit-state-change') {
        expectTypeOf(e.from).toEqualTypeOf<CircuitState>();
        expectTypeOf(e.to).toEqualTypeOf<CircuitState>();
      } else if (e.type === 'circuit-rejected') {
        expectTypeOf(e.retryAfterMs).toBeNumber();
      } else if (e.type === 'bulkhead-rejected') {
        expectTypeOf(e.active).toBeNumber();
        expectTypeOf(e.queued).toBeNumber();
      } else if (e.type === 'deadline-exceeded') {
        expectTypeOf(e.deadline).toBeNumber();
        expectTypeOf(e.elapsedMs).toBeNumber();
      } else if (e.type === 'operation-end') {
        expectTypeOf(e.outcome).toEqualTypeOf<'success' | 'failure'>();
        expectTypeOf(e.attempts).toBeNumber();
      } else if (e.type === 'limit-changed') {
        expectTypeOf(e.limit).toBeNumber();
      } else if (e.type === 'hedge-started') {
        expectTypeOf(e.afterMs).toBeNumber();
      } else if (e.type === 'fallback-used') {
        expectTypeOf(e.attempts).toBeNumber();
      } else {
        expectTypeOf(e.type).toEqualTypeOf<'attempt-start'>();
      }
    };
    policy({ onEvent: listener }).onEvent(listener)();
  });

  it('are one union of twelve types, with closed unions for reasons and outcomes', () => {
    expectTypeOf<BreakwaterEvent['type']>().toEqualTypeOf<
      | 'attempt-start'
      | 'attempt-end'
      | 'retry-scheduled'
      | 'retry-refused'
      | 'circuit-state-change'
      | 'circuit-rejected'
      | 'bulkhead-rejected'
      | 'deadline-exceeded'
      | 'hedge-started'
      | 'limit-changed'
      | 'fallback-used'
      | 'operation-end'
    >();
    expectTypeOf<RetryRefusedReason>().toEqualTypeOf<
      'max-attempts' | 'budget' | 'deadline' | 'not-retryable' | 'circuit-open'
    >();
    expectTypeOf<AttemptOutcome>().toEqualTypeOf<
      'success' | 'failure' | 'timeout' | 'deadline' | 'aborted'
    >();
  });
});
