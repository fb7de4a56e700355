/**
 * The CLIENT span of one attempt that an adapter sends itself (gRPC: grpc's own
 * instrumentation makes one span per call, around all its attempts, so breakwater makes
 * the per-attempt spans, under the operation span, as undici's instrumentation does for
 * HTTP). Its context is what the attempt's request carries to the server.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { ClientAttemptInfo, ClientAttemptSpan } from '../engine/stages.js';
import { ATTR_ERROR_TYPE } from './names.js';
import { errorType } from './outcome.js';

/** @internal */
export class ClientAttempt implements ClientAttemptSpan {
  /** The operation's context with this attempt's span in it (or the operation's own, unsampled). */
  readonly #context: Context;
  readonly #span: Span | undefined;
  readonly #statusCode: string;

  constructor(active: Context, span: Span | undefined, statusCode: string) {
    this.#context = span === undefined ? active : trace.setSpan(active, span);
    this.#span = span;
    this.#statusCode = statusCode;
  }

  run<H, A>(fn: (this: H, arg: A) => void, thisArg: H, arg: A): void {
    try {
      context.with(this.#context, fn, thisArg, arg);
    } catch (error) {
      // The attempt failed before its request went out: no status will end the span.
      const span = this.#span;
      if (span?.isRecording()) {
        span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
      throw error;
    }
  }

  inject<C>(carrier: C, set: (carrier: C, key: string, value: string) => void): void {
    propagation.inject(this.#context, carrier, { set });
  }

  end(code: number, error: string | undefined): void {
    const span = this.#span;
    if (span === undefined || !span.isRecording()) return;
    span.setAttribute(this.#statusCode, code);
    if (error !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, String(code));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    }
    span.end();
  }
}

/**
 * Opens attempt `attempt`'s span under `active` (the operation's context, with its span).
 * An operation span that does not record (sampled out) gets no attempt spans: its own
 * context, with the sampling decision, goes to the server instead.
 *
 * @internal
 */
export function openClientAttempt(
  tracer: Tracer,
  active: Context,
  recording: boolean,
  attempt: number,
  info: ClientAttemptInfo,
): ClientAttempt {
  if (!recording) return new ClientAttempt(active, undefined, info.statusCode);
  let attributes: Attributes = info.attributes;
  if (attempt > 1) attributes = { ...attributes, [info.previousAttempts]: attempt - 1 };
  const span = tracer.startSpan(info.name, { kind: SpanKind.CLIENT, attributes }, active);
  return new ClientAttempt(active, span, info.statusCode);
}
