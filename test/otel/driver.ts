/**
 * Drives the observer contract (src/engine/stages.ts) the way the engine does, with the
 * real event objects' shapes: `operation()` in the caller's context, then every event of
 * the operation in order, attempts started through `runAttempt`, `operation-end` last.
 */
import type { CircuitState } from '../../src/breaker/circuit-breaker.js';
import type { OperationAttributes, OperationObserver, PolicyObserver } from '../../src/engine/stages.js';
import type { AttemptOutcome, BreakwaterEvent, RetryRefusedReason } from '../../src/events.js';
import type { AttemptContext } from '../../src/types.js';

/** An attempt's context as the engine builds it (the fields an observer may read). */
export function attemptContext(attempt: number, key?: string): AttemptContext {
  return {
    attempt,
    signal: new AbortController().signal,
    deadline: undefined,
    attemptDeadline: undefined,
    remaining: () => Number.POSITIVE_INFINITY,
    idempotencyKey: undefined,
    key,
  };
}

export class Operation {
  /** Undefined when nothing records: the engine then builds no events and starts attempts as they are. */
  readonly observer: OperationObserver | undefined;
  readonly events: BreakwaterEvent[] = [];
  readonly #policy: string;
  readonly #key: string | undefined;
  #at = 1_000;
  #attempts = 0;

  constructor(observer: PolicyObserver, policy: string, attributes?: OperationAttributes, key?: string) {
    this.#policy = policy;
    this.#key = key;
    this.observer = observer.operation(attributes);
  }

  #emit(event: BreakwaterEvent): this {
    this.events.push(event);
    this.observer?.event(event);
    return this;
  }

  #base(): { policy: string; at: number } {
    this.#at += 1;
    return { policy: this.#policy, at: this.#at };
  }

  /** attempt-start, then the attempt started through runAttempt (`run` is its body). */
  attempt(n: number, run: (ctx: AttemptContext) => void = () => {}): this {
    this.#attempts = Math.max(this.#attempts, n);
    this.#emit({ type: 'attempt-start', ...this.#base(), attempt: n, key: this.#key });
    const holder = { run };
    const start = function (this: typeof holder, ctx: AttemptContext): void {
      this.run(ctx);
    };
    if (this.observer === undefined) start.call(holder, attemptContext(n, this.#key));
    else this.observer.runAttempt(start, holder, attemptContext(n, this.#key));
    return this;
  }

  attemptEnd(n: number, outcome: AttemptOutcome, error?: unknown, durationMs = 5): this {
    return this.#emit({
      type: 'attempt-end',
      ...this.#base(),
      attempt: n,
      key: this.#key,
      durationMs,
      outcome,
      error: outcome === 'success' ? undefined : error,
    });
  }

  retry(n: number, delayMs: number, error: unknown, reason: 'backoff' | 'server-hint' = 'backoff'): this {
    return this.#emit({ type: 'retry-scheduled', ...this.#base(), attempt: n, delayMs, reason, error });
  }

  refused(n: number, reason: RetryRefusedReason, error: unknown): this {
    return this.#emit({ type: 'retry-refused', ...this.#base(), attempt: n, reason, error });
  }

  stateChange(from: CircuitState, to: CircuitState): this {
    return this.#emit({ type: 'circuit-state-change', ...this.#base(), from, to, key: this.#key });
  }

  circuitRejected(n: number, retryAfterMs: number): this {
    this.#attempts = Math.max(this.#attempts, n - 1);
    return this.#emit({
      type: 'circuit-rejected',
      ...this.#base(),
      attempt: n,
      key: this.#key,
      retryAfterMs,
    });
  }

  bulkheadRejected(): this {
    return this.#emit({ type: 'bulkhead-rejected', ...this.#base(), active: 4, queued: 0 });
  }

  deadlineExceeded(elapsedMs: number): this {
    return this.#emit({
      type: 'deadline-exceeded',
      ...this.#base(),
      attempt: this.#attempts,
      deadline: this.#at,
      elapsedMs,
    });
  }

  succeed(): this {
    return this.#end('success', undefined);
  }

  fail(error: unknown): this {
    return this.#end('failure', error);
  }

  #end(outcome: 'success' | 'failure', error: unknown): this {
    return this.#emit({
      type: 'operation-end',
      ...this.#base(),
      attempts: this.#attempts,
      durationMs: 10,
      outcome,
      error,
    });
  }
}
