/**
 * openTelemetry()'s spans, driven through the observer contract with the real SDK: one
 * INTERNAL span per operation under the caller's span, attempts run with it active, span
 * events for what the policy decided, the outcome and the error status at the end.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyObserver } from '../../src/engine/stages.js';
import {
  AttemptTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  DeadlineExceededError,
} from '../../src/errors.js';
import { activeAttempt, openTelemetry, undiciResendCount } from '../../src/otel/index.js';
import { Operation } from './driver.js';
import { Sdk } from './sdk.js';

let sdk: Sdk;
let orders: PolicyObserver;

beforeEach(() => {
  sdk = new Sdk();
  orders = sdk.tracedObserver();
});
afterEach(async () => {
  await sdk.shutdown();
});

const op = (attributes?: Record<string, string>) => new Operation(orders, 'orders', attributes);
/** The span's own events (the SDK's `exception` event left out). */
const events = (span: ReadableSpan) =>
  span.events.filter((e) => e.name !== 'exception').map((e) => ({ name: e.name, attributes: e.attributes }));

/** A transport error as undici gives it. */
const reset = () => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });

describe('the operation span', () => {
  it('is one INTERNAL span named after the policy, a child of the caller span, ended at operation-end', () => {
    const caller = sdk.inSpan('checkout', (span) => {
      op().attempt(1).attemptEnd(1, 'success').succeed();
      return span;
    });
    const span = sdk.span('breakwater orders');
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(span.spanContext().traceId).toBe(caller.spanContext().traceId);
    expect(span.instrumentationScope.name).toBe('breakwater');
    expect(span.attributes).toEqual({
      'breakwater.policy': 'orders',
      'breakwater.attempts': 1,
      'breakwater.outcome': 'success',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toEqual([]);
  });

  it('is a root span when the caller has none', () => {
    op().attempt(1).attemptEnd(1, 'success').succeed();
    expect(sdk.span('breakwater orders').parentSpanContext).toBeUndefined();
  });

  it("carries the adapter's attributes", () => {
    op({ 'rpc.method': 'GetOrder', 'server.address': 'orders.internal' })
      .attempt(1)
      .attemptEnd(1, 'success')
      .succeed();
    expect(sdk.span('breakwater orders').attributes).toMatchObject({
      'breakwater.policy': 'orders',
      'rpc.method': 'GetOrder',
      'server.address': 'orders.internal',
    });
  });

  it("an adapter attribute cannot replace the policy's name", () => {
    op({ 'breakwater.policy': 'spoofed' }).attempt(1).attemptEnd(1, 'success').succeed();
    expect(sdk.span('breakwater orders').attributes['breakwater.policy']).toBe('orders');
  });

  it('events after operation-end are ignored (the span is not touched once ended)', () => {
    const o = op().attempt(1).attemptEnd(1, 'success').succeed();
    o.retry(1, 10, reset());
    expect(sdk.span('breakwater orders').events).toEqual([]);
  });
});

describe('attempts run with the operation span active', () => {
  it('runAttempt calls start once, synchronously, with its this, inside the span; attempts are siblings', () => {
    const seen: { span: string | undefined; attempt: number | undefined; self: unknown }[] = [];
    let o: Operation | undefined;
    sdk.inSpan('checkout', () => {
      o = op();
      for (const n of [1, 2]) {
        o.attempt(n, (ctx) => {
          seen.push({
            span: trace.getActiveSpan()?.spanContext().spanId,
            attempt: activeAttempt(),
            self: ctx,
          });
          // A transport's instrumentation starts its CLIENT span here.
          sdk.tracer.startSpan(`GET #${ctx.attempt}`, { kind: SpanKind.CLIENT }).end();
        });
        if (n === 1) o.attemptEnd(1, 'failure', reset()).retry(1, 20, reset());
      }
      o.attemptEnd(2, 'success').succeed();
    });
    const operation = sdk.span('breakwater orders');
    expect(seen.map((s) => s.span)).toEqual([operation.spanContext().spanId, operation.spanContext().spanId]);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    for (const name of ['GET #1', 'GET #2']) {
      expect(sdk.span(name).parentSpanContext?.spanId).toBe(operation.spanContext().spanId);
    }
    // Outside the attempt, the caller's context is back.
    expect(activeAttempt()).toBeUndefined();
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('the context survives into the attempt’s asynchronous work', async () => {
    let resolveLater: (value: number | undefined) => void = () => {};
    const later = new Promise<number | undefined>((resolve) => {
      resolveLater = resolve;
    });
    const o = op();
    o.attempt(1, () => {
      setTimeout(() => resolveLater(activeAttempt()), 1);
    });
    expect(await later).toBe(1);
    o.attemptEnd(1, 'success').succeed();
  });

  it('undiciResendCount() gives http.request.resend_count to attempts after the first', () => {
    const hook = undiciResendCount();
    const counts: unknown[] = [];
    const o = op();
    o.attempt(1, () => counts.push(hook({})));
    o.attemptEnd(1, 'failure', reset()).retry(1, 1, reset());
    o.attempt(2, () => counts.push(hook({})));
    o.attemptEnd(2, 'failure', reset()).retry(2, 1, reset());
    o.attempt(3, () => counts.push(hook({})));
    o.attemptEnd(3, 'success').succeed();
    expect(counts).toEqual([{}, { 'http.request.resend_count': 1 }, { 'http.request.resend_count': 2 }]);
    expect(hook({})).toEqual({});
  });

  it('a sampled-out span records nothing but still carries the trace into attempts', async () => {
    const off = new Sdk({ sampler: new AlwaysOffSampler() });
    const observer = off.tracedObserver();
    let inside: string | undefined;
    new Operation(observer, 'orders')
      .attempt(1, () => {
        inside = trace.getActiveSpan()?.spanContext().traceId;
      })
      .attemptEnd(1, 'failure', reset())
      .retry(1, 5, reset())
      .attempt(2)
      .attemptEnd(2, 'failure', reset())
      .refused(2, 'max-attempts', reset())
      .fail(reset());
    expect(inside).toMatch(/^[0-9a-f]{32}$/);
    expect(inside).not.toBe('0'.repeat(32));
    expect(off.finished()).toEqual([]);
    await off.shutdown();
  });
});

describe('span events', () => {
  it('breakwater.retry: the failed attempt, the delay in seconds, the failure type, the server hint', () => {
    const busy = Object.assign(new Error('busy'), { statusCode: 503 });
    op()
      .attempt(1)
      .attemptEnd(1, 'failure', reset())
      .retry(1, 250, reset())
      .attempt(2)
      .attemptEnd(2, 'failure', busy)
      .retry(2, 1_500, busy, 'server-hint')
      .attempt(3)
      .attemptEnd(3, 'success')
      .succeed();
    const span = sdk.span('breakwater orders');
    expect(events(span)).toEqual([
      {
        name: 'breakwater.retry',
        attributes: {
          'breakwater.attempt': 1,
          'breakwater.retry.delay': 0.25,
          'error.type': 'UND_ERR_SOCKET',
          'breakwater.retry.server_hint': false,
        },
      },
      {
        name: 'breakwater.retry',
        attributes: {
          'breakwater.attempt': 2,
          'breakwater.retry.delay': 1.5,
          'error.type': '503',
          'breakwater.retry.server_hint': true,
        },
      },
    ]);
    expect(span.attributes['breakwater.attempts']).toBe(3);
    expect(span.attributes['breakwater.outcome']).toBe('success');
  });

  it('breakwater.retry_refused: why retrying stopped', () => {
    const error = reset();
    op()
      .attempt(1)
      .attemptEnd(1, 'failure', error)
      .retry(1, 10, error)
      .attempt(2)
      .attemptEnd(2, 'failure', error)
      .refused(2, 'budget', error)
      .fail(error);
    expect(events(sdk.span('breakwater orders'))[1]).toEqual({
      name: 'breakwater.retry_refused',
      attributes: {
        'breakwater.attempt': 2,
        'breakwater.retry_refused.reason': 'budget',
        'error.type': 'UND_ERR_SOCKET',
      },
    });
  });

  it('breakwater.circuit_rejected: the attempt refused and when the breaker lets a probe through', () => {
    op()
      .circuitRejected(1, 4_000)
      .fail(CircuitOpenError.fast(4_000, undefined, undefined));
    const span = sdk.span('breakwater orders');
    expect(events(span)).toEqual([
      {
        name: 'breakwater.circuit_rejected',
        attributes: { 'breakwater.attempt': 1, 'breakwater.circuit.retry_after': 4 },
      },
    ]);
    expect(span.attributes['breakwater.outcome']).toBe('circuit_open');
    expect(span.attributes['breakwater.attempts']).toBe(0);
  });

  it('an isolated breaker (retry after Infinity) leaves retry_after out', () => {
    op()
      .circuitRejected(1, Number.POSITIVE_INFINITY)
      .fail(CircuitOpenError.fast(Number.POSITIVE_INFINITY, undefined, undefined));
    expect(sdk.span('breakwater orders').events[0]?.attributes).toEqual({ 'breakwater.attempt': 1 });
  });

  it('breakwater.deadline_exceeded: attempts started and the time spent', () => {
    const error = new DeadlineExceededError(2_000, { cause: reset() });
    op()
      .attempt(1)
      .attemptEnd(1, 'failure', reset())
      .retry(1, 10, reset())
      .attempt(2)
      .attemptEnd(2, 'deadline', error)
      .deadlineExceeded(2_000)
      .fail(error);
    const span = sdk.span('breakwater orders');
    expect(events(span)[1]).toEqual({
      name: 'breakwater.deadline_exceeded',
      attributes: { 'breakwater.attempt': 2, 'breakwater.deadline.elapsed': 2 },
    });
    expect(span.attributes['breakwater.outcome']).toBe('deadline_exceeded');
  });
});

describe('outcome and status', () => {
  const failed = (error: unknown, build?: (o: Operation) => Operation): ReadableSpan => {
    const o = op();
    (
      build ??
      ((x: Operation) => x.attempt(1).attemptEnd(1, 'failure', error).refused(1, 'not-retryable', error))
    )(o).fail(error);
    return sdk.span('breakwater orders');
  };

  it('a failure: outcome error, status ERROR with the message, the exception recorded, error.type', () => {
    const error = Object.assign(new Error('order service answered 503'), { statusCode: 503 });
    const span = failed(error);
    expect(span.attributes['breakwater.outcome']).toBe('error');
    expect(span.attributes['error.type']).toBe('503');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'order service answered 503' });
    const exception = span.events.find((e) => e.name === 'exception');
    expect(exception?.attributes?.['exception.message']).toBe('order service answered 503');
    expect(exception?.attributes?.['exception.type']).toBe('Error'); // the SDK's own naming
  });

  it('a last attempt that timed out is an error (AttemptTimeoutError)', () => {
    const error = new AttemptTimeoutError(100);
    const span = failed(error, (o) =>
      o.attempt(1).attemptEnd(1, 'timeout', error).refused(1, 'max-attempts', error),
    );
    expect(span.attributes['breakwater.outcome']).toBe('error');
    expect(span.attributes['error.type']).toBe('BREAKWATER_ATTEMPT_TIMEOUT');
  });

  it('a full bulkhead: bulkhead_rejected, no attempt', () => {
    const error = BulkheadRejectedError.fast(4, 0);
    const span = failed(error, (o) => o.bulkheadRejected());
    expect(span.attributes['breakwater.outcome']).toBe('bulkhead_rejected');
    expect(span.attributes['breakwater.attempts']).toBe(0);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toMatch(/^Bulkhead full/);
  });

  it("a rejection that an adapter surfaced as its transport's error (cause: the rejection) keeps its outcome", () => {
    const open = CircuitOpenError.fast(1_000, 'orders:50051', undefined);
    const grpcError = Object.assign(new Error('14 UNAVAILABLE: Circuit breaker is open'), {
      code: 14,
      cause: open,
    });
    const span = failed(grpcError, (o) => o.circuitRejected(1, 1_000));
    expect(span.attributes['breakwater.outcome']).toBe('circuit_open');
    expect(span.attributes['error.type']).toBe('14');
  });

  it('the caller aborting an attempt: aborted, whatever its reason', () => {
    const reason = new Error('client went away');
    const span = failed(reason, (o) => o.attempt(1).attemptEnd(1, 'aborted', reason));
    expect(span.attributes['breakwater.outcome']).toBe('aborted');
  });

  it("the caller aborting between attempts with AbortController's default reason: aborted", () => {
    const controller = new AbortController();
    controller.abort();
    const span = failed(controller.signal.reason, (o) =>
      o.attempt(1).attemptEnd(1, 'failure', reset()).retry(1, 1_000, reset()),
    );
    expect(span.attributes['breakwater.outcome']).toBe('aborted');
    expect(span.attributes['error.type']).toBe('AbortError');
  });

  it("a caller's AbortSignal.timeout() before the first attempt: aborted", async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    const span = failed(signal.reason, (o) => o);
    expect(span.attributes['breakwater.outcome']).toBe('aborted');
    expect(span.attributes['error.type']).toBe('TimeoutError');
  });

  it('a non-Error failure still sets the status (a string is recorded as the exception)', () => {
    const span = failed('no luck');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no luck' });
    expect(span.attributes['error.type']).toBe('_OTHER');
    const other = new Sdk();
    const observer = other.tracedObserver();
    new Operation(observer, 'orders').attempt(1).attemptEnd(1, 'failure', 42).fail(42);
    expect(other.span('breakwater orders').status).toEqual({ code: SpanStatusCode.ERROR });
  });
});

describe('tracing: false', () => {
  it('makes no span and leaves the context alone', () => {
    const observer = openTelemetry({
      tracerProvider: sdk.tracerProvider,
      tracing: false,
      metrics: false,
    }).bind({ name: 'orders', breaker: undefined, keyedBreaker: undefined });
    let active: string | undefined;
    sdk.inSpan('checkout', (caller) => {
      new Operation(observer, 'orders')
        .attempt(1, () => {
          active = trace.getActiveSpan()?.spanContext().spanId;
          expect(activeAttempt()).toBeUndefined();
        })
        .attemptEnd(1, 'success')
        .succeed();
      expect(active).toBe(caller.spanContext().spanId);
    });
    expect(sdk.finished().map((s) => s.name)).toEqual(['checkout']);
    expect(context.active()).toBeDefined();
  });
});
