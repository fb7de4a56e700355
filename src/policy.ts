/**
 * `policy()`: validates options once, and runs operations through the pipeline
 *
 *   caller signal + deadline → bulkhead → retry (budget, backoff) → circuit breaker
 *     → attempt timeout → your function
 *
 * A Policy is immutable and safe to share across concurrent calls; per-call state lives
 * in an {@link Execution}. Shared mutable things (breakers, budgets, bulkheads) are
 * explicit objects you may pass to several policies.
 *
 * @module
 */
import { LightSignal } from './abort.js';
import { type CircuitBreaker, reportListenerError } from './breaker/circuit-breaker.js';
import { isKeyedCircuitBreaker, type KeyedCircuitBreaker } from './breaker/keyed.js';
import { isBulkhead } from './bulkhead.js';
import { systemClock } from './clock.js';
import { TimerLane } from './deadline.js';
import type { BreakwaterEvent, EventListener } from './events.js';
import {
  Execution,
  executeLean,
  executeOwned,
  isLeanOptions,
  type OwnedOperation,
  ownedAttempts,
  rejectSoon,
  settleOwned,
} from './execution.js';
import { newIdempotencyKey } from './idempotency.js';
import { type Backoff, custom, exponential, isBackoff } from './retry/backoff.js';
import { isRetryBudget, type RetryBudget, retryBudget } from './retry/budget.js';
import type {
  AttemptContext,
  ExecuteOptions,
  Policy,
  PolicyConfig,
  PolicyOptions,
  PolicyRuntime,
  RetryOn,
  RetryOptions,
} from './types.js';
import { bool, invalid, num, obj, fn as validateFn } from './validate.js';

export type {
  AttemptContext,
  ExecuteOptions,
  Policy,
  PolicyConfig,
  PolicyOptions,
  RetryOn,
  RetryOptions,
} from './types.js';

const POLICY_KEYS = [
  'name',
  'deadline',
  'attemptTimeout',
  'retry',
  'circuitBreaker',
  'bulkhead',
  'idempotency',
  'onEvent',
  'clock',
  'random',
] as const;
const RETRY_KEYS = ['maxAttempts', 'backoff', 'retryOn', 'budget'] as const;
const MAX_TIMER = 2_147_483_647;

function resolve(options: PolicyOptions): { config: PolicyConfig; raw: PolicyOptions } {
  const o = obj<PolicyOptions>('policy', options, POLICY_KEYS) ?? {};
  const name = o.name ?? 'default';
  if (typeof name !== 'string' || name.length === 0) invalid('name', 'a non-empty string', name);
  const deadline =
    o.deadline === undefined
      ? undefined
      : num('deadline', o.deadline, 0, { min: 0, exclusiveMin: true, max: MAX_TIMER });
  const attemptTimeout =
    o.attemptTimeout === undefined
      ? undefined
      : num('attemptTimeout', o.attemptTimeout, 0, { min: 0, exclusiveMin: true, max: MAX_TIMER });
  const clock = o.clock === undefined ? systemClock : o.clock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    invalid('clock', 'a Clock { now, setTimeout, clearTimeout }', clock);
  }
  const random = validateFn<() => number>('random', o.random) ?? Math.random;

  let maxAttempts = 1;
  let backoffStrategy: Backoff = exponential();
  let retryOn: RetryOn | undefined;
  let budget: RetryBudget | undefined;
  let rawRetry: RetryOptions | false | undefined = o.retry;
  if (o.retry !== false) {
    if (o.retry === null) invalid('retry', 'an object or false', null);
    const r = obj<RetryOptions>('retry', o.retry ?? {}, RETRY_KEYS) ?? {};
    maxAttempts = num('retry.maxAttempts', r.maxAttempts, 3, { min: 1, max: 1_000, integer: true });
    if (r.backoff !== undefined) {
      if (isBackoff(r.backoff)) backoffStrategy = r.backoff;
      else if (typeof r.backoff === 'function') backoffStrategy = custom(r.backoff);
      else
        invalid('retry.backoff', 'a backoff strategy (backoff.exponential(), ...) or a function', r.backoff);
    }
    retryOn = validateFn<RetryOn>('retry.retryOn', r.retryOn);
    if (r.budget === undefined) {
      // Every policy gets a budget so that retries can never turn into a storm; a policy
      // derived with `with()` keeps sharing it (see below).
      budget = maxAttempts > 1 ? retryBudget({ clock }) : undefined;
    } else if (r.budget === false) {
      budget = undefined;
    } else if (isRetryBudget(r.budget)) {
      budget = r.budget;
    } else {
      invalid('retry.budget', 'a retryBudget() or false', r.budget);
    }
    // `with()` shares this budget; when there is none because this policy never retries,
    // a derived policy that does retry gets a default budget of its own.
    rawRetry = { ...r, budget: budget ?? r.budget };
  }

  let breaker: CircuitBreaker | undefined;
  let keyedBreaker: KeyedCircuitBreaker | undefined;
  if (o.circuitBreaker !== undefined) {
    if (isKeyedCircuitBreaker(o.circuitBreaker)) keyedBreaker = o.circuitBreaker;
    else if (
      typeof o.circuitBreaker === 'object' &&
      o.circuitBreaker !== null &&
      typeof (o.circuitBreaker as CircuitBreaker).acquire === 'function'
    ) {
      breaker = o.circuitBreaker as CircuitBreaker;
    } else {
      invalid('circuitBreaker', 'a circuitBreaker() or keyedCircuitBreaker()', o.circuitBreaker);
    }
  }
  if (o.bulkhead !== undefined && !isBulkhead(o.bulkhead)) invalid('bulkhead', 'a bulkhead()', o.bulkhead);

  let generateKey: (() => string) | undefined;
  if (typeof o.idempotency === 'object' && o.idempotency !== null) {
    const i = obj<{ generate: () => string }>('idempotency', o.idempotency, ['generate']);
    generateKey = validateFn<() => string>('idempotency.generate', i?.generate);
    if (generateKey === undefined) invalid('idempotency.generate', 'a function', undefined);
  } else if (bool('idempotency', o.idempotency, false)) {
    generateKey = newIdempotencyKey;
  }
  validateFn('onEvent', o.onEvent);

  const config: PolicyConfig = Object.freeze({
    name,
    deadline,
    attemptTimeout,
    maxAttempts,
    backoff: backoffStrategy,
    retryOn,
    budget,
    breaker,
    keyedBreaker,
    bulkhead: o.bulkhead,
    generateKey,
    clock,
    random,
  });
  return { config, raw: { ...o, retry: rawRetry } };
}

/** @internal */
export class PolicyImpl implements Policy, PolicyRuntime {
  readonly config: PolicyConfig;
  readonly #raw: PolicyOptions;
  /** Undefined while nobody listens, so the pipeline builds no events. */
  emit: ((event: BreakwaterEvent) => void) | undefined;
  #listeners: EventListener[] = [];
  /** @internal Shared timers for the policy's deadline and attempt timeout. */
  readonly deadlineLane: TimerLane;
  readonly attemptLane: TimerLane;
  /**
   * Whether a call without a deadline of its own may take the lean path: no bulkhead, keyed
   * breaker or listener, and no deadline that could fire before the attempt timeout.
   */
  #lean = false;

  constructor(options: PolicyOptions) {
    const { config, raw } = resolve(options);
    this.config = config;
    this.#raw = raw;
    this.deadlineLane = new TimerLane(config.clock);
    this.attemptLane = new TimerLane(config.clock);
    this.#updateEmit();
    if (options.onEvent !== undefined) this.onEvent(options.onEvent);
  }

  get name(): string {
    return this.config.name;
  }

  execute<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T> {
    const breaker = this.config.breaker;
    // The first attempt runs without per-operation state (see executeLean).
    if (typeof fn === 'function' && this.#leanFor(options)) return executeLean(this, fn, options);
    // While a dependency is down, an open breaker's rejection is what every call costs:
    // refuse a plain call before any per-call state exists. (Calls with options or
    // listeners take the same decision in Execution.start(), which also reports it.)
    if (
      breaker !== undefined &&
      options === undefined &&
      this.emit === undefined &&
      breaker.current !== 'closed' &&
      typeof fn === 'function'
    ) {
      const permit = breaker.acquire();
      if (permit < 0) return rejectSoon(breaker.rejection(undefined));
      breaker.release(permit); // admitted as a probe: the attempt asks for its own permit
    }
    return new Execution<T>(this, fn, options).start();
  }

  /** `execute` for an adapter's owned operation (see {@link runOwned}). */
  runOwned<T>(owner: OwnedOperation<T>, options: ExecuteOptions | undefined): void {
    const signal = options?.signal;
    // Nothing to race on the owned lean path: only an adapter's own signal, not yet aborted.
    if (
      (signal === undefined || (signal instanceof LightSignal && !signal.aborted)) &&
      this.#leanFor(options)
    ) {
      executeOwned(this, owner, options);
      return;
    }
    settleOwned(this.execute(ownedAttempts(owner), options), owner);
  }

  /** Whether a call with `options` may run its first attempt on the lean path. */
  #leanFor(options: ExecuteOptions | undefined): boolean {
    const breaker = this.config.breaker;
    return (
      this.#lean &&
      (breaker === undefined || breaker.current === 'closed') &&
      (options === undefined || isLeanOptions(options))
    );
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
    const cfg = this.config;
    // With an attempt timeout shorter than the deadline, the deadline cannot stop a first
    // attempt: only its timeout can, and the lean path races that one.
    this.#lean =
      this.emit === undefined &&
      cfg.bulkhead === undefined &&
      cfg.keyedBreaker === undefined &&
      (cfg.deadline === undefined || (cfg.attemptTimeout !== undefined && cfg.attemptTimeout < cfg.deadline));
  }

  with(overrides: PolicyOptions): Policy {
    const o = obj<PolicyOptions>('policy.with', overrides, POLICY_KEYS) ?? {};
    if (o.retry === null) invalid('retry', 'an object or false', null);
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
 * @internal Runs an adapter's operation through `policy` as `execute` would, reporting
 * with callbacks instead of promises (see `OwnedOperation`). A policy made by another
 * copy of breakwater runs it through its `execute`.
 */
export function runOwned<T>(policy: Policy, owner: OwnedOperation<T>, options?: ExecuteOptions): void {
  if (policy instanceof PolicyImpl) policy.runOwned(owner, options);
  else settleOwned(policy.execute(ownedAttempts(owner), plainOptions(options)), owner);
}

/**
 * `options` for a policy of another copy of breakwater, which may call `retryOn` as a plain
 * function: a copy whose `retryOn` is bound to `options`.
 */
function plainOptions(options: ExecuteOptions | undefined): ExecuteOptions | undefined {
  const retryOn = options?.retryOn;
  if (options === undefined || retryOn === undefined) return options;
  return {
    signal: options.signal,
    deadline: options.deadline,
    idempotencyKey: options.idempotencyKey,
    key: options.key,
    retryOn: (error, context) => retryOn.call(options, error, context),
  };
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
