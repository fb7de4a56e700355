/**
 * breakwater/otel through the HTTP adapter against a real node:http server, with
 * `@opentelemetry/instrumentation-undici` registered (`startSpanHook: undiciResendCount()`)
 * and the real SDK: the operation span under the caller's span, one undici CLIENT span per
 * attempt under it, `http.request.resend_count` on retries, the span's status on failure,
 * a breaker opening in the events counter and the state gauge.
 *
 * instrumentation-undici listens on diagnostics channels, which undici publishes whenever
 * it is loaded: registering it after undici was imported is fine (unlike gRPC's).
 */
import { metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Agent, type Dispatcher, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { httpInterceptor, resilientFetch } from '../../../src/http/index.js';
import { backoff, keyedCircuitBreaker, type PolicyOptions, policy } from '../../../src/index.js';
import { openTelemetry, undiciResendCount } from '../../../src/otel/index.js';
import { countOf, histogramCount, pointWith, Sdk } from '../../otel/sdk.js';
import { TestServer } from '../http/server.js';

const sdk = new Sdk();
let unregister: () => void = () => {};

beforeAll(() => {
  trace.setGlobalTracerProvider(sdk.tracerProvider);
  metrics.setGlobalMeterProvider(sdk.meterProvider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  unregister = registerInstrumentations({
    instrumentations: [new UndiciInstrumentation({ startSpanHook: undiciResendCount() })],
    tracerProvider: sdk.tracerProvider,
  });
});
afterAll(async () => {
  unregister();
  await sdk.shutdown();
  trace.disable();
  metrics.disable();
  propagation.disable();
});

const clients = (): ReadableSpan[] => sdk.finished().filter((s) => s.kind === SpanKind.CLIENT);

describe('breakwater/otel through httpInterceptor and resilientFetch', () => {
  let server: TestServer;
  const dispatchers: Dispatcher[] = [];
  const agent = (options: PolicyOptions): Dispatcher => {
    const d = new Agent().compose(httpInterceptor(policy(options)));
    dispatchers.push(d);
    return d;
  };

  beforeEach(async () => {
    server = await TestServer.start();
    sdk.spans.reset();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.close()));
    await server.close();
  });

  it('a retried request: one operation span, two undici CLIENT spans under it, the second resent', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(n === 1 ? 503 : 200);
      res.end(n === 1 ? 'busy' : 'order 42');
    };
    const dispatcher = agent({
      name: 'orders',
      retry: { backoff: backoff.constant(1) },
      telemetry: openTelemetry(),
    });
    await sdk.inSpan('checkout', async () => {
      const res = await request(server.url('/orders/42'), { dispatcher });
      expect(await res.body.text()).toBe('order 42');
    });

    const checkout = sdk.span('checkout');
    const op = sdk.span('breakwater orders');
    expect(op.kind).toBe(SpanKind.INTERNAL);
    expect(op.parentSpanContext?.spanId).toBe(checkout.spanContext().spanId);
    expect(op.attributes).toMatchObject({
      'breakwater.policy': 'orders',
      'breakwater.attempts': 2,
      'breakwater.outcome': 'success',
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
    });
    // Bounded cardinality: no URL path on breakwater's span.
    expect(Object.values(op.attributes).some((v) => String(v).includes('/orders/42'))).toBe(false);
    expect(op.events.map((e) => e.name)).toEqual(['breakwater.retry']);
    expect(op.events[0]?.attributes).toMatchObject({ 'breakwater.attempt': 1, 'error.type': '503' });

    const [first, second] = clients();
    expect(clients()).toHaveLength(2);
    for (const client of [first, second]) {
      expect(client?.parentSpanContext?.spanId).toBe(op.spanContext().spanId);
    }
    expect(first?.attributes['http.request.resend_count']).toBeUndefined();
    expect(second?.attributes['http.request.resend_count']).toBe(1);
    expect(server.requests.map((r) => String(r.headers.traceparent).split('-')[2])).toEqual(
      [first, second].map((c) => c?.spanContext().spanId),
    );

    const attempts = await sdk.points('breakwater.attempt.duration');
    expect(
      histogramCount(attempts, {
        'breakwater.policy': 'orders',
        'breakwater.attempt.outcome': 'error',
        'breakwater.attempt.retry': false,
        'http.request.method': 'GET',
      }),
    ).toBe(1);
    expect(
      histogramCount(attempts, {
        'breakwater.policy': 'orders',
        'breakwater.attempt.outcome': 'success',
        'breakwater.attempt.retry': true,
      }),
    ).toBe(1);
  });

  it('resilientFetch nests the same way', async () => {
    server.handler = (_req, res, n) => {
      res.writeHead(n === 1 ? 503 : 200);
      res.end('ok');
    };
    const fetchOrders = resilientFetch(
      policy({
        name: 'orders-fetch',
        retry: { backoff: backoff.constant(1) },
        telemetry: openTelemetry(),
      }),
    );
    const res = await fetchOrders(server.url('/orders/42'));
    await res.text();
    const op = sdk.span('breakwater orders-fetch');
    expect(op.attributes).toMatchObject({
      'breakwater.attempts': 2,
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
    });
    expect(Object.values(op.attributes).some((v) => String(v).includes('/orders/42'))).toBe(false);
    const spans = clients();
    expect(spans).toHaveLength(2);
    for (const client of spans) expect(client.parentSpanContext?.spanId).toBe(op.spanContext().spanId);
    expect(spans[1]?.attributes['http.request.resend_count']).toBe(1);
  });

  it('retries that run out: outcome error, status ERROR, the refusal on the span', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end('down');
    };
    const dispatcher = agent({
      name: 'orders-down',
      retry: { maxAttempts: 2, backoff: backoff.constant(1) },
      telemetry: openTelemetry(),
    });
    const res = await request(server.url('/'), { dispatcher });
    expect(res.statusCode).toBe(503); // the caller gets the last answer, as undici returns it
    await res.body.dump();
    const op = sdk.span('breakwater orders-down');
    expect(op.attributes['breakwater.outcome']).toBe('error');
    expect(op.attributes['error.type']).toBe('503');
    expect(op.status.code).toBe(SpanStatusCode.ERROR);
    expect(op.events.map((e) => e.name)).toEqual([
      'breakwater.retry',
      'breakwater.retry_refused',
      'exception',
    ]);
    expect(op.events[1]?.attributes?.['breakwater.retry_refused.reason']).toBe('max_attempts');
  });

  it('a breaker opening shows in the events counter and the state gauge (per origin); then it rejects', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end('down');
    };
    const breaker = keyedCircuitBreaker({ consecutiveFailures: 2, openDuration: 60_000 });
    const dispatcher = agent({
      name: 'orders-breaker',
      retry: false,
      circuitBreaker: breaker,
      telemetry: openTelemetry(),
    });
    for (let i = 0; i < 2; i++) await (await request(server.url('/'), { dispatcher })).body.dump();
    const rejected = await request(server.url('/'), { dispatcher }).catch((e: unknown) => e);
    expect((rejected as { code?: string }).code).toBe('BREAKWATER_CIRCUIT_OPEN');
    expect(server.requests).toHaveLength(2);

    const events = await sdk.points('breakwater.events');
    expect(
      countOf(events, { 'breakwater.policy': 'orders-breaker', 'breakwater.event': 'circuit_opened' }),
    ).toBe(1);
    expect(
      countOf(events, { 'breakwater.policy': 'orders-breaker', 'breakwater.event': 'circuit_rejected' }),
    ).toBe(1);
    const gauge = await sdk.points('breakwater.circuit.state');
    const open = pointWith(gauge, {
      'breakwater.policy': 'orders-breaker',
      'breakwater.circuit.key': server.origin,
      'breakwater.circuit.state': 'open',
    });
    expect(open?.value).toBe(1);

    const ops = sdk.finished().filter((s) => s.name === 'breakwater orders-breaker');
    expect(ops.map((s) => s.attributes['breakwater.outcome'])).toEqual(['error', 'error', 'circuit_open']);
    for (const op of ops) expect(op.status.code).toBe(SpanStatusCode.ERROR);
    expect(ops[2]?.events.map((e) => e.name)).toContain('breakwater.circuit_rejected');
    const durations = await sdk.points('breakwater.operation.duration');
    expect(
      histogramCount(durations, {
        'breakwater.policy': 'orders-breaker',
        'breakwater.outcome': 'circuit_open',
      }),
    ).toBe(1);
  });
});
