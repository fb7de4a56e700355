/**
 * The contracts of the pipeline's pluggable stages: what an operation asks of an admission
 * stage (a bulkhead, an adaptive limit), of a throttle, and of an observer (telemetry).
 * The engine (`operation.ts`) calls these at fixed points of an operation's life; see
 * docs/architecture.md for the state diagram and where each hook runs.
 *
 * Nothing here imports a transport or OpenTelemetry: stages that need them live in their
 * own subpath and implement these interfaces.
 *
 * @module
 */

import type { AttemptContext } from '../attempt-context.js';
import type { CircuitBreaker } from '../breaker/circuit-breaker.js';
import type { KeyedCircuitBreaker } from '../breaker/keyed.js';
import type { BreakwaterEvent } from '../events.js';

/**
 * One finished attempt, as an admission stage hears it: how long it ran and whether it
 * counts as a drop (it timed out, or failed in a way that says the dependency is
 * overloaded). Used by adaptive limits to learn the right concurrency.
 */
export interface AttemptSample {
  /** How long the attempt ran, ms (the policy's clock). */
  readonly durationMs: number;
  /** The attempt timed out, or its failure counts against the dependency. */
  readonly dropped: boolean;
  /** Operations holding a slot when the attempt ended (the attempt's own included). */
  readonly inFlight: number;
  /** When the attempt ended, ms since the epoch (the policy's clock). */
  readonly now: number;
}

/**
 * An admission stage: caps how many operations run at once (a fixed bulkhead, an adaptive
 * limit). An operation takes one slot before its first attempt and gives it back when it
 * settles; retries and hedges run in the same slot.
 *
 * @internal
 */
export interface Admission {
  readonly maxQueue: number;
  /** Operations holding a slot now. */
  readonly active: number;
  /** Operations waiting for a slot now. */
  readonly queued: number;
  /** Takes a slot at once when one is free. */
  tryAcquire(): boolean;
  /**
   * Queues for a slot. Returns a cancel function, or undefined when the queue is full too.
   * `grant` is called once a slot is held.
   */
  enqueue(grant: () => void): (() => void) | undefined;
  /** Gives a slot back. */
  release(): void;
  /** The rejection for a full stage (cheap: no stack), naming the policy when given. */
  rejection(context?: { readonly policy?: string | undefined }): Error;
  /**
   * Optional: hears every attempt that ran to an end (adaptive limits learn from it);
   * returns the limit's move, if it moved.
   */
  sample?(sample: AttemptSample): { readonly previous: number; readonly limit: number } | undefined;
}

/**
 * A throttle: asked before every attempt whether to send it at all, and told how every
 * attempt ended (client-side adaptive throttling, `adaptiveThrottle()`).
 */
export interface Throttle {
  /** Whether to send an attempt now; `random` is the policy's source, uniform in [0, 1). */
  allow(random: () => number, now: number): boolean;
  /** An attempt ended: `accepted` is false when its failure counts against the dependency. */
  record(accepted: boolean, now: number): void;
  /** The rejection for a throttled attempt (cheap: no stack, never retried). */
  rejection(context?: { readonly policy?: string | undefined }): Error;
}

/** Low-cardinality attributes an adapter gives an operation (`rpc.method`, `server.address`). */
export type OperationAttributes = Readonly<Record<string, string | number | boolean>>;

/** What an observer learns of the policy it is bound to. */
export interface ObservedPolicy {
  readonly name: string;
  readonly breaker: CircuitBreaker | undefined;
  readonly keyedBreaker: KeyedCircuitBreaker | undefined;
}

/**
 * An observer stage (telemetry): watches operations without changing their course. A
 * policy binds it once, at construction; a policy without one pays nothing.
 */
export interface Telemetry {
  /** Binds the observer to a policy (called once per policy, `policy.with()` included). */
  bind(policy: ObservedPolicy): PolicyObserver;
}

/** An observer bound to one policy. */
export interface PolicyObserver {
  /**
   * An operation starts. Called synchronously inside `execute` (or an adapter's call), so
   * the caller's active context is current; the returned observer hears the operation.
   * Undefined when nothing would record it (no SDK): the operation then runs as without
   * an observer, and builds no events for it.
   */
  operation(attributes: OperationAttributes | undefined): OperationObserver | undefined;
}

/** An observer of one operation. */
export interface OperationObserver {
  /** Every event of the operation, in order, synchronously (`operation-end` last). */
  event(event: BreakwaterEvent): void;
  /**
   * Starts an attempt: must call `start.call(thisArg, attempt)` once, synchronously, with
   * whatever context the observer wants active (the operation's span).
   */
  runAttempt<A extends AttemptContext, H>(start: (this: H, attempt: A) => void, thisArg: H, attempt: A): void;
  /**
   * Optional: opens a CLIENT span for an attempt that an adapter sends itself, under the
   * operation's span, for a transport whose own instrumentation sees one call and not its
   * attempts (grpc's makes one span per call, around every attempt). Called from the
   * handler's `startAttempt`. Undefined when the operation is not traced.
   */
  clientAttempt?(attempt: number, info: ClientAttemptInfo): ClientAttemptSpan | undefined;
}

/** What an adapter says of the requests its attempts send (one frozen object per method and peer). */
export interface ClientAttemptInfo {
  /** The attempt spans' name, as the transport's instrumentation names its spans. */
  readonly name: string;
  /** Their attributes, the transport's own (`rpc.system`, `rpc.service`, `server.address`...): bounded. */
  readonly attributes: OperationAttributes;
  /** The attribute that holds the number of attempts sent before this one (none on the first). */
  readonly previousAttempts: string;
  /** The attribute that holds the status code the attempt ended with. */
  readonly statusCode: string;
}

/** One attempt's CLIENT span, as the adapter that sends the attempt drives it. */
export interface ClientAttemptSpan {
  /**
   * Calls `fn.call(thisArg, arg)` with the attempt span active, so what runs below sees it.
   * A throw ends the span as failed and is thrown on.
   */
  run<H, A>(fn: (this: H, arg: A) => void, thisArg: H, arg: A): void;
  /** Writes the attempt's trace context into the outgoing request (W3C `traceparent`...). */
  inject<C>(carrier: C, set: (carrier: C, key: string, value: string) => void): void;
  /**
   * The attempt's request ended with the transport's status `code`; `error` is its
   * message when it failed, undefined when it succeeded. Ends the span; later calls are
   * ignored.
   */
  end(code: number, error: string | undefined): void;
}
