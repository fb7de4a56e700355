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
import { type CircuitBreaker, reportListenerError } from './breaker/circuit-breaker.js';
import { isKeyedCircuitBreaker, type KeyedCircuitBreaker } from './breaker/keyed.js';
import { type Bulkhead, isBulkhead } from './bulkhead.js';
import { type Clock, systemClock } from './clock.js';
import { TimerLane } from './deadline.js';
import type { BreakwaterEvent, EventListener } from './events.js';
import { Execution } from './execution.js';
import { newIdempotencyKey } from './idempotency.js';
import { type Backoff, type BackoffFunction, custom, exponential, isBackoff } from './retry/backoff.js';
import { isRetryBudget, type RetryBudget, retryBudget } from './retry/budget.js';
import type { RetryDecision } from './retry/classify.js';
import { bool, invalid, num, obj, fn as validateFn } from './validate.js';

/** What your function receives on every attempt. */
export interface AttemptContext {
  /** 1-based attempt number. */
  readonly attempt: number;
  /**
   * Aborted when this attempt must stop: the deadline passed, the attempt timed out
   * (reason: AttemptTimeoutError), or the caller aborted (reason: the caller's reason).
   * Created on first read, so an attempt that never reads it pays nothing.
   */
  readonly signal: AbortSignal;
  /** The operation's deadline, ms since the epoch, or undefined when it has none. */
  readonly deadline: number | undefined;
  /** The earlier of the deadline and this attempt's timeout, ms since the epoch. */
  readonly attemptDeadline: number | undefined;
  /** Milliseconds left before the deadline (Infinity when there is none, 0 once passed). */
  remaining(): number;
  /** The operation's idempotency key, identical on every attempt; undefined when off. */
  readonly idempotencyKey: string | undefined;
  /** The call's key (the keyed breaker's key), if any. */
  readonly key: string | undefined;
}

/** Decides whether a failed attempt is retried; may return a server hint. */
export type RetryOn = (error: unknown, context: AttemptContext) => RetryDecision;

/** Retry options. */
export interface RetryOptions {
  /**
   * Total attempts, the first one included: 1 means no retry.
   * @default 3
   */
  maxAttempts?: number | undefined;
  /**
   * Delay between attempts: a strategy from `backoff`, or `(retry, previousDelay) => ms`.
   * @default backoff.exponential() (100 ms doubling to 10 s, full jitter)
   */
  backoff?: Backoff | BackoffFunction | undefined;
  /**
   * Which failures to retry. Returns a boolean, or `{ retry, after }` where `after` is a
   * server-requested delay in ms. Adapters supply their transport's rules when unset.
   * @default retry everything except breakwater's rejections, aborts and programmer errors
   */
  retryOn?: RetryOn | undefined;
  /**
   * A retry budget, consulted before every retry. `false` turns budgeting off.
   * @default a budget of this policy's own: 10% of requests + 10 retries/s over 10 s
   */
  budget?: RetryBudget | false | undefined;
}

/** Options of {@link policy}. Every one is optional: `policy()` retries 3 times with backoff. */
export interface PolicyOptions {
  /**
   * Name used in events and telemetry.
   * @default 'default'
   */
  name?: string | undefined;
  /**
   * Time for the whole operation, every attempt and every wait, in ms. Unset: no deadline
   * (unless the call passes one).
   */
  deadline?: number | undefined;
  /** Time for one attempt, in ms; a timed-out attempt may be retried. Unset: none. */
  attemptTimeout?: number | undefined;
  /**
   * Retry options, or `false` for a single attempt.
   * @default { maxAttempts: 3 }
   */
  retry?: RetryOptions | false | undefined;
  /** A circuit breaker, or a keyed one (one state per call key). Unset: none. */
  circuitBreaker?: CircuitBreaker | KeyedCircuitBreaker | undefined;
  /** A bulkhead. Unset: none. */
  bulkhead?: Bulkhead | undefined;
  /**
   * Give every operation an idempotency key (a random UUID), stable across its attempts.
   * A caller's own key (`execute(fn, { idempotencyKey })`) is always used.
   * @default false
   */
  idempotency?: boolean | { generate: () => string } | undefined;
  /** Receives every event, synchronously. */
  onEvent?: EventListener | undefined;
  /** Source of time. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Source of randomness for jitter, uniform in [0, 1).
   * @default Math.random
   */
  random?: (() => number) | undefined;
}

/** Per-call options of {@link Policy.execute}. */
export interface ExecuteOptions {
  /** The caller's signal: aborting it rejects at once with its reason; no attempt follows. */
  signal?: AbortSignal | undefined;
  /**
   * An absolute deadline, ms since the epoch (e.g. propagated from upstream). The earlier
   * of this and the policy's deadline applies.
   */
  deadline?: number | undefined;
  /** The caller's own idempotency key (an order id) instead of a generated one. */
  idempotencyKey?: string | undefined;
  /** Key of a keyed circuit breaker (a host, a target, a stream). */
  key?: string | undefined;
  /**
   * Classification for this call, replacing the policy's `retry.retryOn`. Adapters pass
   * their transport's rules here when the policy has none of its own.
   */
  retryOn?: RetryOn | undefined;
}

/** @internal The validated, frozen configuration of a policy. */
export interface PolicyConfig {
  readonly name: string;
  readonly deadline: number | undefined;
  readonly attemptTimeout: number | undefined;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly retryOn: RetryOn | undefined;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreaker | undefined;
  readonly keyedBreaker: KeyedCircuitBreaker | undefined;
  readonly bulkhead: Bulkhead | undefined;
  readonly generateKey: (() => string) | undefined;
  readonly clock: Clock;
  readonly random: () => number;
}

/** A resilience policy. Immutable and shareable; see {@link policy}. */
export interface Policy {
  /** The policy's name. */
  readonly name: string;
  /** The validated configuration (read-only). */
  readonly config: PolicyConfig;
  /**
   * Runs `fn` through the policy. Resolves with its result; rejects with the last
   * attempt's own error when retrying stops, or with a {@link BreakwaterError}
   * (circuit open, deadline exceeded, bulkhead full), or the caller's abort reason.
   */
  execute<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T>;
  /** Subscribes to this policy's events; returns the unsubscribe function. */
  onEvent(listener: EventListener): () => void;
  /** A new policy with some options replaced; breakers, budgets and bulkheads stay shared. */
  with(overrides: PolicyOptions): Policy;
}

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
export class PolicyImpl implements Policy {
  readonly config: PolicyConfig;
  readonly #raw: PolicyOptions;
  /** Undefined while nobody listens, so the pipeline builds no events. */
  emit: ((event: BreakwaterEvent) => void) | undefined;
  #listeners: EventListener[] = [];
  /** @internal Shared timers for the policy's deadline and attempt timeout. */
  readonly deadlineLane: TimerLane;
  readonly attemptLane: TimerLane;

  constructor(options: PolicyOptions) {
    const { config, raw } = resolve(options);
    this.config = config;
    this.#raw = raw;
    this.deadlineLane = new TimerLane(config.clock);
    this.attemptLane = new TimerLane(config.clock);
    if (options.onEvent !== undefined) this.onEvent(options.onEvent);
  }

  get name(): string {
    return this.config.name;
  }

  /** @internal Whether nothing can interrupt an attempt, so the first one may skip the general loop. */
  simple(): boolean {
    const cfg = this.config;
    return (
      cfg.deadline === undefined &&
      cfg.attemptTimeout === undefined &&
      cfg.bulkhead === undefined &&
      this.emit === undefined
    );
  }

  execute<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T> {
    return new Execution<T>(this, fn, options).start();
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
