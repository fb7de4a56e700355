/**
 * `OperationObserver.clientAttempt`: the CLIENT span an adapter opens for each attempt it
 * sends itself (gRPC), driven through the observer contract with the real SDK.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClientAttemptInfo, ClientAttemptSpan, PolicyObserver } from '../../src/engine/stages.js';
import { activeAttempt, openTelemetry } from '../../src/otel/index.js';
import { Operation } from './driver.js';
import { Sdk } from './sdk.js';

const info: ClientAttemptInfo = Object.freeze({
  name: 'grpc.orders.v1.OrderService/GetOrder',
  attributes: Object.freeze({ 'rpc.system': 'grpc', 'rpc.method': 'GetOrder' }),
  previousAttempts: 'previous-rpc-attempts',
  statusCode: 'rpc.grpc.status_code',
});

let sdk: Sdk;
let orders: PolicyObserver;
beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
afterAll(() => propagation.disable());
beforeEach(() => {
  sdk = new Sdk();
  orders = sdk.tracedObserver();
});
afterEach(async () => {
  await sdk.shutdown();
});

/** Opens attempt `n`'s span from inside its start, as an adapter's startAttempt does. */
function attempt(o: Operation, n: number, body: (span: ClientAttemptSpan | undefined) => void): void {
  o.attempt(n, (ctx) => body(o.observer?.clientAttempt?.(ctx.attempt, info)));
}

describe('clientAttempt', () => {
  it('opens a CLIENT span per attempt under the operation span; later attempts carry the count before them', () => {
    const carriers: Record<string, string>[] = [];
    const active: (string | undefined)[] = [];
    const attempts: (number | undefined)[] = [];
    const o = new Operation(orders, 'orders');
    for (const n of [1, 2]) {
      attempt(o, n, (span) => {
        const carrier: Record<string, string> = {};
        span?.inject(carrier, (c, k, v) => {
          c[k] = v;
        });
        carriers.push(carrier);
        span?.run(
          function (this: string, arg: number) {
            active.push(trace.getActiveSpan()?.spanContext().spanId);
            attempts.push(activeAttempt());
            expect(this).toBe('self');
            expect(arg).toBe(7);
          },
          'self',
          7,
        );
        span?.end(n === 1 ? 14 : 0, n === 1 ? 'unavailable' : undefined);
        span?.end(2, 'ignored: the span has ended');
      });
      if (n === 1) o.attemptEnd(1, 'failure', new Error('x')).retry(1, 10, new Error('x'));
    }
    o.attemptEnd(2, 'success').succeed();
    const operation = sdk.span('breakwater orders');
    const spans = sdk.finished().filter((s) => s.kind === SpanKind.CLIENT);
    expect(spans).toHaveLength(2);
    const [first, second] = spans;
    for (const s of spans) {
      expect(s.name).toBe(info.name);
      expect(s.parentSpanContext?.spanId).toBe(operation.spanContext().spanId);
      expect(s.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'GetOrder' });
    }
    expect(first?.attributes['previous-rpc-attempts']).toBeUndefined();
    expect(first?.attributes['rpc.grpc.status_code']).toBe(14);
    expect(first?.attributes['error.type']).toBe('14');
    expect(first?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'unavailable' });
    expect(second?.attributes['previous-rpc-attempts']).toBe(1);
    expect(second?.attributes['rpc.grpc.status_code']).toBe(0);
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
    // Each attempt sends its own span's context, and runs with it active (its number too).
    expect(carriers.map((c) => c.traceparent)).toEqual(
      spans.map((s) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`),
    );
    expect(active).toEqual(spans.map((s) => s.spanContext().spanId));
    expect(attempts).toEqual([1, 2]);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('hedged attempts in flight together are siblings, each ended by its own report', () => {
    const o = new Operation(orders, 'orders');
    const open: ClientAttemptSpan[] = [];
    attempt(o, 1, (span) => span !== undefined && open.push(span));
    attempt(o, 2, (span) => span !== undefined && open.push(span));
    open[1]?.end(0, undefined);
    o.attemptEnd(2, 'success').succeed();
    open[0]?.end(1, 'breakwater: attempt abandoned');
    const spans = sdk.finished().filter((s) => s.kind === SpanKind.CLIENT);
    expect(spans.map((s) => s.attributes['rpc.grpc.status_code'])).toEqual([0, 1]);
    const parent = sdk.span('breakwater orders').spanContext().spanId;
    for (const s of spans) expect(s.parentSpanContext?.spanId).toBe(parent);
  });

  it('a throw inside run ends the span as failed and is thrown on', () => {
    const o = new Operation(orders, 'orders');
    const boom = Object.assign(new TypeError('no channel'), { code: 'ERR_BOOM' });
    attempt(o, 1, (span) => {
      expect(() =>
        span?.run(
          () => {
            throw boom;
          },
          undefined,
          undefined,
        ),
      ).toThrow(boom);
      span?.end(0, undefined); // ignored: ended already
    });
    o.attemptEnd(1, 'failure', boom).refused(1, 'not-retryable', boom).fail(boom);
    const [span] = sdk.finished().filter((s) => s.kind === SpanKind.CLIENT);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('ERR_BOOM');
    expect(span?.attributes['rpc.grpc.status_code']).toBeUndefined();
  });

  it('none without tracing, before any attempt, or once the operation ended', () => {
    const untraced = openTelemetry({ tracerProvider: sdk.tracerProvider, metrics: true, tracing: false })
      .bind({ name: 'm', breaker: undefined, keyedBreaker: undefined })
      .operation(undefined);
    expect(untraced?.clientAttempt?.(1, info)).toBeUndefined();
    const o = new Operation(orders, 'orders');
    expect(o.observer?.clientAttempt?.(1, info)).toBeUndefined();
    o.attempt(1).attemptEnd(1, 'success').succeed();
    expect(o.observer?.clientAttempt?.(1, info)).toBeUndefined();
    expect(sdk.finished().filter((s) => s.kind === SpanKind.CLIENT)).toEqual([]);
  });

  it('a sampled-out operation opens no span but sends its own context, sampled flag off', () => {
    const parent = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 0,
    });
    const carrier: Record<string, string> = {};
    context.with(trace.setSpan(context.active(), parent), () => {
      const o = new Operation(orders, 'orders');
      attempt(o, 1, (span) => {
        span?.inject(carrier, (c, k, v) => {
          c[k] = v;
        });
        span?.end(0, undefined);
      });
      o.attemptEnd(1, 'success').succeed();
    });
    expect(sdk.finished()).toEqual([]);
    expect(carrier.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
  });
});
