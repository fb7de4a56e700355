/**
 * The observer contract with a real transport: two attempts of a GET, each started
 * through `runAttempt` as the engine does, against a real node:http server, with
 * `@opentelemetry/instrumentation-undici` registered and `undiciResendCount()` as its
 * `startSpanHook`. undici's CLIENT spans are children of the operation span (attempts as
 * siblings), the second carries `http.request.resend_count = 1`, and the server sees each
 * attempt's own span in `traceparent`. This runs without the engine; the same flow through
 * `httpInterceptor` is in http.test.ts.
 */
import { propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Agent, type Dispatcher, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTelemetry, undiciResendCount } from '../../../src/otel/index.js';
import { Operation } from '../../otel/driver.js';
import { Sdk } from '../../otel/sdk.js';
import { TestServer } from '../http/server.js';

const sdk = new Sdk();
let unregister: () => void = () => {};
let server: TestServer;
let agent: Agent;

beforeAll(async () => {
  trace.setGlobalTracerProvider(sdk.tracerProvider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  unregister = registerInstrumentations({
    instrumentations: [new UndiciInstrumentation({ startSpanHook: undiciResendCount() })],
    tracerProvider: sdk.tracerProvider,
  });
  server = await TestServer.start((_req, res, n) => {
    res.writeHead(n === 1 ? 503 : 200);
    res.end(n === 1 ? 'busy' : 'order 42');
  });
  agent = new Agent();
});
afterAll(async () => {
  unregister();
  await agent.close();
  await server.close();
  await sdk.shutdown();
  trace.disable();
  propagation.disable();
});

/** Starts the request inside the attempt (as the adapter's start does), awaits it outside. */
async function send(operation: Operation, attempt: number): Promise<Dispatcher.ResponseData> {
  let pending: Promise<Dispatcher.ResponseData> | undefined;
  operation.attempt(attempt, () => {
    pending = request(server.url('/orders/42'), { dispatcher: agent });
  });
  const res = await (pending as Promise<Dispatcher.ResponseData>);
  await res.body.text();
  return res;
}

describe('openTelemetry() with instrumentation-undici, through the observer contract', () => {
  it('one operation span; one undici CLIENT span per attempt under it; resend_count on the retry', async () => {
    const orders = openTelemetry().bind({ name: 'orders', breaker: undefined, keyedBreaker: undefined });
    await sdk.inSpan('checkout', async () => {
      const operation = new Operation(orders, 'orders', {
        'http.request.method': 'GET',
        'server.address': '127.0.0.1',
      });
      const first = await send(operation, 1);
      expect(first.statusCode).toBe(503);
      const error = Object.assign(new Error('503'), { statusCode: 503 });
      operation.attemptEnd(1, 'failure', error).retry(1, 1, error);
      const second = await send(operation, 2);
      expect(second.statusCode).toBe(200);
      operation.attemptEnd(2, 'success').succeed();
    });

    const checkout = sdk.span('checkout');
    const op = sdk.span('breakwater orders');
    expect(op.parentSpanContext?.spanId).toBe(checkout.spanContext().spanId);
    expect(op.attributes).toMatchObject({
      'breakwater.policy': 'orders',
      'breakwater.attempts': 2,
      'breakwater.outcome': 'success',
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
    });

    const clients = sdk.finished().filter((s) => s.kind === SpanKind.CLIENT);
    expect(clients).toHaveLength(2);
    for (const client of clients) {
      expect(client.parentSpanContext?.spanId).toBe(op.spanContext().spanId);
      expect(client.spanContext().traceId).toBe(checkout.spanContext().traceId);
    }
    const [first, second] = clients;
    expect(first?.attributes['http.response.status_code']).toBe(503);
    expect(first?.attributes['http.request.resend_count']).toBeUndefined();
    expect(second?.attributes['http.response.status_code']).toBe(200);
    expect(second?.attributes['http.request.resend_count']).toBe(1);

    // The server saw each attempt's own CLIENT span as its parent.
    const parents = server.requests.map((r) => String(r.headers.traceparent).split('-')[2]);
    expect(parents).toEqual(clients.map((c) => c.spanContext().spanId));
  });
});
