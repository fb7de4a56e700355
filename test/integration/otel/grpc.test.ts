/**
 * breakwater/otel with `@opentelemetry/instrumentation-grpc` against a real grpc-js server.
 *
 * instrumentation-grpc wraps the client's methods (`client.getOrder(...)`), not the channel:
 * it makes one CLIENT span per call, around everything the call's interceptors do, and
 * writes that span's `traceparent` into the call's metadata before breakwater's
 * interceptor sees it. So under it, the breakwater span covers the attempts, and the
 * attempts show on the server side: one SERVER span per attempt, siblings under the
 * CLIENT span. (Per-attempt CLIENT spans, as undici's instrumentation gives, would need
 * the attempts to go through something the instrumentation wraps; see docs/otel.md.)
 *
 * The instrumentation patches grpc-js as it is loaded, through `require`: it is registered
 * first, grpc-js is then required (the ESM import of the tests and of the adapter reuses
 * that CommonJS module), and everything that imports grpc-js is imported after that.
 */
import { createRequire } from 'node:module';
import { metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
import { Sdk } from '../../otel/sdk.js';
import type { OrdersServer } from '../grpc/harness.js';

const sdk = new Sdk();
trace.setGlobalTracerProvider(sdk.tracerProvider);
metrics.setGlobalMeterProvider(sdk.meterProvider);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const unregister = registerInstrumentations({
  instrumentations: [new GrpcInstrumentation()],
  tracerProvider: sdk.tracerProvider,
});
createRequire(import.meta.url)('@grpc/grpc-js');
const { status } = await import('@grpc/grpc-js');
const harness = await import('../grpc/harness.js');
const { grpcInterceptor } = await import('../../../src/grpc/index.js');
const { backoff, circuitBreaker, policy } = await import('../../../src/index.js');
const { openTelemetry } = await import('../../../src/otel/index.js');

const GET_ORDER_SPAN = 'grpc.orders.v1.OrderService/GetOrder';

let server: OrdersServer;
const clients: OrderServiceClient[] = [];
const client = (...args: Parameters<typeof grpcInterceptor>) => {
  const c = harness.makeClient(
    'proto-loader',
    server.address,
    harness.clientOptions([grpcInterceptor(...args)]),
  );
  clients.push(c);
  return c;
};

beforeEach(async () => {
  server = await harness.startServer();
  sdk.spans.reset();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.stop();
});
afterAll(async () => {
  unregister();
  await sdk.shutdown();
  trace.disable();
  metrics.disable();
  propagation.disable();
});

const byKind = (kind: SpanKind): ReadableSpan[] => sdk.finished().filter((s) => s.kind === kind);

describe('instrumentation-grpc and breakwater’s interceptor', () => {
  it('a retried call is one grpc CLIENT span; each attempt is a SERVER span under it', async () => {
    server.script(harness.GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = client(policy({ name: 'orders', retry: { maxAttempts: 3, backoff: backoff.constant(1) } }));
    const { error } = await harness.getOrder(c, 'o-1').outcome;
    expect(error).toBeUndefined();
    expect(server.seen(harness.GET_ORDER)).toHaveLength(2);
    const [call] = byKind(SpanKind.CLIENT);
    expect(byKind(SpanKind.CLIENT)).toHaveLength(1);
    expect(call?.name).toBe(GET_ORDER_SPAN);
    const attempts = byKind(SpanKind.SERVER);
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts) {
      expect(attempt.spanContext().traceId).toBe(call?.spanContext().traceId);
      expect(attempt.parentSpanContext?.spanId).toBe(call?.spanContext().spanId);
    }
  });
});

describe('breakwater/otel through grpcInterceptor', () => {
  it('the breakwater span sits under the grpc CLIENT span and covers both attempts', async () => {
    server.script(harness.GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const orders = policy({
      name: 'orders',
      retry: { maxAttempts: 3, backoff: backoff.constant(1) },
      telemetry: openTelemetry(),
    });
    await sdk.inSpan('checkout', async () => {
      const { error } = await harness.getOrder(client(orders), 'o-1').outcome;
      expect(error).toBeUndefined();
    });
    const checkout = sdk.span('checkout');
    // The server's spans have the method's name too: the call is the one CLIENT span.
    const [call] = byKind(SpanKind.CLIENT) as [ReadableSpan];
    expect(byKind(SpanKind.CLIENT)).toHaveLength(1);
    expect(call.name).toBe(GET_ORDER_SPAN);
    const op = sdk.span('breakwater orders');
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.parentSpanContext?.spanId).toBe(checkout.spanContext().spanId);
    expect(op.kind).toBe(SpanKind.INTERNAL);
    expect(op.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(op.attributes).toMatchObject({
      'breakwater.policy': 'orders',
      'breakwater.attempts': 2,
      'breakwater.outcome': 'success',
    });
    // The adapter's attribute: the method's fully qualified name (no leading slash).
    expect(op.attributes['rpc.method']).toBe('orders.v1.OrderService/GetOrder');
    expect(op.events.map((e) => e.name)).toEqual(['breakwater.retry']);
    expect(op.events[0]?.attributes).toMatchObject({ 'breakwater.attempt': 1, 'error.type': '14' });
    const attempts = byKind(SpanKind.SERVER);
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts)
      expect(attempt.spanContext().traceId).toBe(checkout.spanContext().traceId);

    const points = await sdk.points('breakwater.attempt.duration');
    const mine = points.filter((p) => p.attributes['breakwater.policy'] === 'orders');
    expect(mine.map((p) => p.attributes['breakwater.attempt.outcome']).sort()).toEqual(['error', 'success']);
    for (const p of mine) expect(p.attributes['rpc.method']).toBe('orders.v1.OrderService/GetOrder');
  });

  it('a failed call sets the breakwater span’s status; an open breaker shows in the events counter and the gauge', async () => {
    server.script(
      harness.GET_ORDER,
      { kind: 'fail', code: status.UNAVAILABLE },
      { kind: 'fail', code: status.UNAVAILABLE },
    );
    const orders = policy({
      name: 'orders-breaker',
      retry: false,
      circuitBreaker: circuitBreaker({ consecutiveFailures: 2, openDuration: 60_000 }),
      telemetry: openTelemetry(),
    });
    const c = client(orders);
    for (let i = 0; i < 3; i++) await harness.getOrder(c, 'o-1').outcome;
    expect(server.seen(harness.GET_ORDER)).toHaveLength(2); // the third is refused by the breaker
    const ops = sdk.finished().filter((s) => s.name === 'breakwater orders-breaker');
    expect(ops.map((s) => s.attributes['breakwater.outcome'])).toEqual(['error', 'error', 'circuit_open']);
    for (const op of ops) expect(op.status.code).toBe(SpanStatusCode.ERROR);
    expect(ops[0]?.attributes['error.type']).toBe('14');

    const events = await sdk.points('breakwater.events');
    const count = (event: string) =>
      events.find(
        (p) =>
          p.attributes['breakwater.event'] === event &&
          p.attributes['breakwater.policy'] === 'orders-breaker',
      )?.value;
    expect(count('circuit_opened')).toBe(1);
    expect(count('circuit_rejected')).toBe(1);
    const gauge = await sdk.points('breakwater.circuit.state');
    const open = gauge.find(
      (p) =>
        p.attributes['breakwater.policy'] === 'orders-breaker' &&
        p.attributes['breakwater.circuit.state'] === 'open',
    );
    expect(open?.value).toBe(1);
  });
});
