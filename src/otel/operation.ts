/**
 * The observer of one operation: its span (started in the caller's context, made active
 * around every attempt) and its measurements. Built only when something records; see
 * `sources.ts` for how the no-op is detected (the policy then gets no observer) and what an
 * operation costs then.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import type { ClientAttemptInfo, ClientAttemptSpan, OperationObserver } from '../engine/stages.js';
import type { BreakwaterEvent, OperationEndEvent } from '../events.js';
import type { AttemptContext } from '../types.js';
import type { AttributeSets } from './attributes.js';
import { openClientAttempt } from './client-attempt.js';
import {
  ATTR_ATTEMPT,
  ATTR_ATTEMPTS,
  ATTR_CIRCUIT_RETRY_AFTER,
  ATTR_DEADLINE_ELAPSED,
  ATTR_ERROR_TYPE,
  ATTR_OUTCOME,
  ATTR_RETRY_DELAY,
  ATTR_RETRY_REFUSED_REASON,
  ATTR_RETRY_SERVER_HINT,
  EVENT_CIRCUIT_REJECTED,
  EVENT_DEADLINE_EXCEEDED,
  EVENT_RETRY,
  EVENT_RETRY_REFUSED,
  type OperationOutcome,
} from './names.js';
import { attemptOutcome, errorType, failureOutcome, REFUSED_REASON, stateChangeEvent } from './outcome.js';
import { AttemptScope } from './scope.js';
import type { Instruments } from './sources.js';

/** What an operation observer needs of the policy it belongs to. */
export interface OperationScope {
  readonly spanName: string;
}

/** @internal */
export class OperationTelemetry implements OperationObserver {
  readonly #sets: AttributeSets;
  readonly #instruments: Instruments | undefined;
  /** The caller's context when the operation started: the span's parent. */
  readonly #parent: Context;
  readonly #span: Span | undefined;
  readonly #tracer: Tracer | undefined;
  /** Whether the span records (a sampled-out span still propagates, but takes no events). */
  readonly #recording: boolean;
  /** The context the latest attempt started in (the operation span and its number). */
  #attemptContext: Context | undefined = undefined;
  /** performance.now() at the start of the operation and of the attempt running. */
  readonly #startedAt: number;
  #attemptStartedAt = 0;
  /** The error an attempt was aborted with (the caller's reason), if one was. */
  #abortedWith: unknown = undefined;
  #ended = false;

  constructor(
    scope: OperationScope,
    sets: AttributeSets,
    tracer: Tracer | undefined,
    instruments: Instruments | undefined,
  ) {
    this.#sets = sets;
    this.#instruments = instruments;
    // The caller's context matters to the span only: a metrics-only operation skips the lookup.
    const parent = tracer === undefined ? ROOT_CONTEXT : context.active();
    this.#parent = parent;
    this.#tracer = tracer;
    if (tracer !== undefined) {
      const span = tracer.startSpan(
        scope.spanName,
        { kind: SpanKind.INTERNAL, attributes: sets.base },
        parent,
      );
      this.#span = span;
      this.#recording = span.isRecording();
    } else {
      this.#span = undefined;
      this.#recording = false;
    }
    this.#startedAt = instruments === undefined ? 0 : performance.now();
  }

  runAttempt<A extends AttemptContext, H>(
    start: (this: H, attempt: A) => void,
    thisArg: H,
    attempt: A,
  ): void {
    const span = this.#span;
    if (span === undefined) {
      start.call(thisArg, attempt);
      return;
    }
    // Not only when recording: a sampled-out span still carries the trace (and the
    // sampling decision) to the transport's spans and to the server.
    const attemptContext = new AttemptScope(this.#parent, span, attempt.attempt);
    this.#attemptContext = attemptContext;
    context.with(attemptContext, start, thisArg, attempt);
  }

  clientAttempt(attempt: number, info: ClientAttemptInfo): ClientAttemptSpan | undefined {
    const tracer = this.#tracer;
    const active = this.#attemptContext;
    if (tracer === undefined || active === undefined || this.#ended) return undefined;
    return openClientAttempt(tracer, active, this.#recording, attempt, info);
  }

  event(event: BreakwaterEvent): void {
    if (this.#ended) return;
    const instruments = this.#instruments;
    const span = this.#recording ? this.#span : undefined;
    switch (event.type) {
      case 'attempt-start':
        if (instruments !== undefined) this.#attemptStartedAt = performance.now();
        return;
      case 'attempt-end': {
        if (event.outcome === 'aborted') this.#abortedWith = event.error;
        if (instruments === undefined) return;
        const started = this.#attemptStartedAt;
        this.#attemptStartedAt = 0;
        // Without its attempt-start, the event's own duration (the policy's clock) is all there is.
        const ms = started === 0 ? event.durationMs : performance.now() - started;
        instruments.attemptDuration.record(
          ms / 1000,
          this.#sets.attempt(attemptOutcome(event.outcome), event.attempt > 1),
        );
        return;
      }
      case 'retry-scheduled':
        span?.addEvent(EVENT_RETRY, {
          [ATTR_ATTEMPT]: event.attempt,
          [ATTR_RETRY_DELAY]: event.delayMs / 1000,
          [ATTR_ERROR_TYPE]: errorType(event.error),
          [ATTR_RETRY_SERVER_HINT]: event.reason === 'server-hint',
        });
        instruments?.events.add(1, this.#sets.event('retry'));
        return;
      case 'retry-refused': {
        const reason = REFUSED_REASON[event.reason];
        span?.addEvent(EVENT_RETRY_REFUSED, {
          [ATTR_ATTEMPT]: event.attempt,
          [ATTR_RETRY_REFUSED_REASON]: reason,
          [ATTR_ERROR_TYPE]: errorType(event.error),
        });
        instruments?.events.add(1, this.#sets.event('retry_refused', reason));
        return;
      }
      case 'circuit-state-change': {
        const change = stateChangeEvent(event.to);
        if (change !== undefined) instruments?.events.add(1, this.#sets.event(change));
        return;
      }
      case 'circuit-rejected': {
        if (span !== undefined) {
          const attributes: Attributes = { [ATTR_ATTEMPT]: event.attempt };
          // Infinity (an isolated breaker) is left out: not every exporter can encode it.
          if (Number.isFinite(event.retryAfterMs)) {
            attributes[ATTR_CIRCUIT_RETRY_AFTER] = event.retryAfterMs / 1000;
          }
          span.addEvent(EVENT_CIRCUIT_REJECTED, attributes);
        }
        instruments?.events.add(1, this.#sets.event('circuit_rejected'));
        return;
      }
      case 'bulkhead-rejected':
        instruments?.events.add(1, this.#sets.event('bulkhead_rejected'));
        return;
      case 'deadline-exceeded':
        span?.addEvent(EVENT_DEADLINE_EXCEEDED, {
          [ATTR_ATTEMPT]: event.attempt,
          [ATTR_DEADLINE_ELAPSED]: event.elapsedMs / 1000,
        });
        instruments?.events.add(1, this.#sets.event('deadline_exceeded'));
        return;
      case 'operation-end':
        this.#end(event);
        return;
    }
  }

  #end(event: OperationEndEvent): void {
    this.#ended = true;
    const failed = event.outcome === 'failure';
    const outcome: OperationOutcome = failed ? failureOutcome(event.error, this.#abortedWith) : 'success';
    const instruments = this.#instruments;
    if (instruments !== undefined) {
      instruments.operationDuration.record(
        (performance.now() - this.#startedAt) / 1000,
        this.#sets.operation(outcome),
      );
    }
    const span = this.#span;
    if (span === undefined) return;
    if (this.#recording) {
      span.setAttribute(ATTR_ATTEMPTS, event.attempts);
      span.setAttribute(ATTR_OUTCOME, outcome);
      if (failed) recordFailure(span, event.error);
    }
    span.end();
  }
}

function recordFailure(span: Span, error: unknown): void {
  span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
  if (error instanceof Error || isErrorLike(error)) {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else if (typeof error === 'string') {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  } else {
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}

/** An error from another realm, or a DOMException where it is not an Error. */
function isErrorLike(value: unknown): value is { name: string; message: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}
