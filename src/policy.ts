/**
 * `policy()`: validates options once, and runs operations through the pipeline
 *
 *   caller signal + deadline → breaker admission → bulkhead → attempt (breaker permit,
 *     attempt timeout, your function) → retry decision (budget, backoff) → settle
 *
 * A Policy is immutable and safe to share across concurrent calls; per-call state lives
 * in an `Operation` (src/engine/operation.ts). Shared mutable things (breakers, budgets,
 * bulkheads) are explicit objects you may pass to several policies.
 *
 * @module
 */
import { type CircuitBreaker, reportListenerError } from './breaker/circuit-breaker.js';
import type { KeyedCircuitBreaker } from './breaker/keyed.js';
import type { Bulkhead } from './bulkhead.js';
import { TimerLane } from './deadline.js';
import { breakerRefuses } from './engine/breaker.js';
import { ExecuteOperation } from './engine/execute.js';
import { type OperationHandler, rejectSoon, runForeign } from './engine/handler.js';
import { Operation } from './engine/operation.js';
import type { OperationAttributes, PolicyObserver } from './engine/stages.js';
import { InvalidOptionsError } from './errors.js';
import type { BreakwaterEvent, EventListener } from './events.js';
import { executeOptionsError } from './options/execute.js';
import { POLICY_KEYS, resolvePolicyOptions } from './options/policy.js';
import type { RetryBudget } from './retry/budget.js';
import type {
  AttemptContext,
  ExecuteOptions,
  Policy,
  PolicyConfig,
  PolicyOptions,
  PolicyRuntime,
} from './types.js';
import { invalid, obj } from './validate.js';

export type {
  AttemptContext,
  ExecuteOptions,
  FallbackContext,
  Policy,
  PolicyConfig,
  PolicyOptions,
  RetryOn,
  RetryOptions,
} from './types.js';

/**
 * Whether `value` is a breakwater policy, from this copy of the package or another one (a
 * duplicate install): checked by shape, not by class.
 */
/** @internal */
export function isPolicy(value: unknown): value is Policy {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Policy).execute === 'function' &&
    typeof (value as Policy).config === 'object'
  );
}

/** @internal Where an adapter's telemetry attributes come from: a bounded cache. */
export interface AttributeSource {
  get(first: string, second: string | undefined): OperationAttributes | undefined;
}

/** @internal */
export class PolicyImpl implements Policy, PolicyRuntime {
  readonly config: PolicyConfig;
  readonly #raw: PolicyOptions;
  /** Undefined while nobody listens, so the pipeline builds no events. */
  emit: ((event: BreakwaterEvent) => void) | undefined;
  #listeners: EventListener[] = [];
  /** The policy's observer (telemetry), bound at construction; undefined without one. */
  readonly #observer: PolicyObserver | undefined;
  /** @internal Shared timers for the policy's deadline and attempt timeout. */
  readonly deadlineLane: TimerLane;
  readonly attemptLane: TimerLane;
  readonly rejectionContext: { readonly policy: string };

  constructor(options: PolicyOptions) {
    const { config, raw } = resolvePolicyOptions(options);
    this.config = config;
    this.rejectionContext = Object.freeze({ policy: config.name });
    this.#raw = raw;
    this.deadlineLane = new TimerLane(config.clock);
    this.attemptLane = new TimerLane(config.clock);
    this.#observer = config.telemetry?.bind({
      name: config.name,
      breaker: config.breaker,
      keyedBreaker: config.keyedBreaker,
    });
    if (options.onEvent !== undefined) this.onEvent(options.onEvent);
  }

  get name(): string {
    return this.config.name;
  }

  get circuitBreaker(): CircuitBreaker | KeyedCircuitBreaker | undefined {
    return this.config.keyedBreaker ?? this.config.breaker;
  }

  get retryBudget(): RetryBudget | undefined {
    return this.config.budget;
  }

  get bulkhead(): Bulkhead | undefined {
    return this.config.bulkhead;
  }

  execute<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T> {
    return this.executeAttributed(fn, options, undefined, '', undefined);
  }

  /**
   * `execute`, for an adapter that knows its operation's telemetry attributes (a publish's
   * subject, a fetch's method and host): `source.get(first, second)`, asked only when the
   * policy has an observer that records.
   */
  executeAttributed<T>(
    fn: (context: AttemptContext) => T | PromiseLike<T>,
    options: ExecuteOptions | undefined,
    source: AttributeSource | undefined,
    first: string,
    second: string | undefined,
  ): Promise<T> {
    const problem =
      typeof fn !== 'function'
        ? new InvalidOptionsError('fn', `execute(fn) needs a function; got ${typeof fn}`)
        : options === undefined
          ? undefined
          : executeOptionsError(options, this.config.clock);
    if (problem !== undefined && this.emit === undefined && this.#observer === undefined) {
      return rejectSoon(problem);
    }
    // While a dependency is down, an open breaker's rejection is what every call costs:
    // refuse before anything is allocated. (With listeners, the operation refuses, and
    // reports it; with a fallback, the operation lets it answer.)
    const breaker = this.config.breaker;
    if (
      breaker !== undefined &&
      breaker.current !== 'closed' &&
      this.config.fallback === undefined &&
      this.emit === undefined &&
      this.#observer === undefined &&
      problem === undefined &&
      options?.signal?.aborted !== true &&
      breakerRefuses(breaker)
    ) {
      return rejectSoon(breaker.rejection(undefined, this.rejectionContext));
    }
    const observer = this.#observer?.operation(source?.get(first, second));
    const operation = new ExecuteOperation<T>(
      this,
      fn,
      problem === undefined ? options : undefined,
      observer,
    );
    if (problem === undefined) operation.start();
    else operation.refuse(problem);
    operation.sync = false;
    return operation.promise;
  }

  /**
   * Runs an operation driven by `handler` (see `OperationHandler`), or fails it with
   * `problem` (invalid options), which listeners hear like any failure.
   */
  run<T>(handler: OperationHandler<T>, options: ExecuteOptions | undefined, problem?: unknown): void {
    const observer = this.#observer?.operation(handler.attributes);
    if (observer !== undefined) handler.observed?.(observer);
    const operation = new Operation<T>(this, handler, problem === undefined ? options : undefined, observer);
    if (problem === undefined) operation.start();
    else operation.refuse(problem);
  }

  onEvent(listener: EventListener): () => void {
    if (typeof listener !== 'function') invalid('onEvent(listener)', 'a function', listener);
    this.#listeners = [...this.#listeners, listener];
    this.#updateEmit();
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
      this.#updateEmit();
    };
  }

  #updateEmit(): void {
    const listeners = this.#listeners;
    this.emit =
      listeners.length === 0
        ? undefined
        : (event) => {
            for (const listener of listeners) {
              try {
                listener(event);
              } catch (error) {
                reportListenerError(error);
              }
            }
          };
  }

  with(overrides: PolicyOptions): Policy {
    const o = obj<PolicyOptions>('policy.with', overrides, POLICY_KEYS) ?? {};
    if (o.retry === null || (o.retry !== undefined && o.retry !== false && typeof o.retry !== 'object')) {
      invalid('retry', 'an object ({ maxAttempts, backoff, retryOn, budget }) or false', o.retry);
    }
    const retry =
      o.retry === undefined
        ? this.#raw.retry
        : o.retry === false || this.#raw.retry === false
          ? o.retry
          : { ...this.#raw.retry, ...o.retry };
    const { onEvent: _ignored, ...rest } = this.#raw;
    const next = new PolicyImpl({ ...rest, ...o, retry });
    // Listeners subscribed to this policy also hear the derived one.
    if (o.onEvent === undefined) for (const l of this.#listeners) next.onEvent(l);
    return next;
  }
}

/**
 * @internal Runs an adapter's operation through `policy` as `execute` would, driven by
 * `handler` (see `OperationHandler`). Invalid options fail the operation. A policy made by
 * another copy of breakwater runs it through its public `execute`.
 */
export function runOperation<T>(
  policy: Policy,
  handler: OperationHandler<T>,
  options?: ExecuteOptions,
): void {
  if (!(policy instanceof PolicyImpl)) {
    runForeign(policy, handler, options);
    return;
  }
  const problem = options === undefined ? undefined : executeOptionsError(options, policy.config.clock);
  policy.run(handler, options, problem);
}

/**
 * Creates a policy.
 *
 * @example
 * ```ts
 * import { backoff, circuitBreaker, policy, retryBudget } from 'breakwater';
 * const orders = policy({
 *   name: 'orders',
 *   deadline: 2_000,
 *   attemptTimeout: 500,
 *   retry: {
 *     maxAttempts: 4,
 *     backoff: backoff.exponential({ initialDelay: 50, maxDelay: 2_000 }),
 *     budget: retryBudget({ ratio: 0.1, minPerSecond: 10 }),
 *   },
 *   circuitBreaker: circuitBreaker(),
 *   idempotency: true,
 * });
 * const total: number = await orders.execute(async ({ signal }) => {
 *   signal.throwIfAborted();
 *   return 42;
 * });
 * ```
 */
export function policy(options: PolicyOptions = {}): Policy {
  return new PolicyImpl(options);
}
