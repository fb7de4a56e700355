/**
 * breakwater/otel with `@opentelemetry/instrumentation-grpc` against a real grpc-js server.
 *
 * instrumentation-grpc wraps the client's methods (`client.getOrder(...)`), not the channel:
 * it makes one CLIENT span per call, around everything the call's interceptors do, and
 * writes that span's `traceparent` into the call's metadata before breakwater's
 * interceptor sees it. Its span is the logical call; under it, a traced policy makes the
 * breakwater span, and under that one CLIENT span per attempt (siblings, as undici's
 * instrumentation gives for HTTP), each carrying its own `traceparent` to the server, so
 * the server's span of each attempt sits under the attempt that reached it.
 *
 * The instrumentation patches grpc-js as it is loaded, through `require`: it is registered
 * first, grpc-js is then required (the ESM import of the tests and of the adapter reuses
 * that CommonJS module), and everything that imports grpc-js is imported after that.
 */
import { createRequire } from 'node:module';
import type { Interceptor } from '@grpc/grpc-js';
import type { HrTime } from '@opentelemetry/api';
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
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
const { InterceptingCall, status } = await import('@grpc/grpc-js');
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
const hrMs = (t: HrTime): number => t[0] * 1e3 + t[1] / 1e6;
/**
 * Whether span time `a` is not after `b`. Each SDK span anchors its clock on Date.now() when
 * it starts, so times of two spans can disagree by up to a millisecond.
 */
const notAfter = (a: HrTime | undefined, b: HrTime | undefined): boolean =>
  a !== undefined && b !== undefined && hrMs(a) <= hrMs(b) + 1;

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
  const retried = (name: string, extra: Partial<Parameters<typeof policy>[0]> = {}) =>
    policy({
      name,
      retry: { maxAttempts: 3, backoff: backoff.constant(1) },
      telemetry: openTelemetry(),
      ...extra,
    });

  it('a retried call: the grpc CLIENT span, the breakwater span under it, one CLIENT span per attempt under that', async () => {
    server.script(harness.GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE, details: 'warming up' });
    const c = client(retried('orders'), { target: server.address });
    await sdk.inSpan('checkout', async () => {
      const { error } = await harness.getOrder(c, 'o-1').outcome;
      expect(error).toBeUndefined();
    });
    expect(server.seen(harness.GET_ORDER)).toHaveLength(2);
    const checkout = sdk.span('checkout');
    const op = sdk.span('breakwater orders');
    const clients = byKind(SpanKind.CLIENT);
    // instrumentation-grpc's span of the call: the caller's child, the breakwater span's parent.
    const call = clients.find((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-grpc');
    expect(call?.name).toBe(GET_ORDER_SPAN);
    expect(call?.parentSpanContext?.spanId).toBe(checkout.spanContext().spanId);
    expect(op.kind).toBe(SpanKind.INTERNAL);
    expect(op.parentSpanContext?.spanId).toBe(call?.spanContext().spanId);
    expect(op.attributes).toMatchObject({
      'breakwater.policy': 'orders',
      'breakwater.attempts': 2,
      'breakwater.outcome': 'success',
      'rpc.method': 'orders.v1.OrderService/GetOrder',
    });
    expect(op.events.map((e) => e.name)).toEqual(['breakwater.retry']);
    expect(op.events[0]?.attributes).toMatchObject({ 'breakwater.attempt': 1, 'error.type': '14' });

    // breakwater's attempt spans: siblings under the breakwater span, in order, named and
    // attributed as instrumentation-grpc names and attributes its own.
    const attempts = clients
      .filter((s) => s.instrumentationScope.name === 'breakwater')
      .sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime));
    expect(attempts).toHaveLength(2);
    expect(clients).toHaveLength(3);
    const [first, second] = attempts as [ReadableSpan, ReadableSpan];
    const [host, port] = server.address.split(':');
    for (const attempt of attempts) {
      expect(attempt.name).toBe(GET_ORDER_SPAN);
      expect(attempt.parentSpanContext?.spanId).toBe(op.spanContext().spanId);
      expect(attempt.spanContext().traceId).toBe(checkout.spanContext().traceId);
      expect(attempt.attributes).toMatchObject({
        'rpc.system': 'grpc',
        'rpc.service': 'orders.v1.OrderService',
        'rpc.method': 'GetOrder',
        'server.address': host,
        'server.port': Number(port),
      });
    }
    expect(first.attributes['rpc.grpc.status_code']).toBe(status.UNAVAILABLE);
    expect(first.attributes['previous-rpc-attempts']).toBeUndefined();
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: 'warming up' });
    expect(first.attributes['error.type']).toBe('14');
    expect(second.attributes['rpc.grpc.status_code']).toBe(status.OK);
    expect(second.attributes['previous-rpc-attempts']).toBe(1);
    expect(second.status.code).toBe(SpanStatusCode.UNSET);
    expect(notAfter(first.endTime, second.startTime)).toBe(true);

    // Each attempt carried its own traceparent: the server's span of each is its child.
    const served = byKind(SpanKind.SERVER).sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime));
    expect(served).toHaveLength(2);
    expect(served.map((s) => s.parentSpanContext?.spanId)).toEqual(
      attempts.map((a) => a.spanContext().spanId),
    );
    const sent = server.seen(harness.GET_ORDER).map((c) => c.header('traceparent'));
    expect(sent).toEqual(attempts.map((a) => `00-${a.spanContext().traceId}-${a.spanContext().spanId}-01`));
  });

  it('an interceptor listed after breakwater’s runs inside the attempt span', async () => {
    const seen: (string | undefined)[] = [];
    const spy: Interceptor = (options, next) => {
      seen.push(trace.getActiveSpan()?.spanContext().spanId);
      return new InterceptingCall(next(options));
    };
    server.script(harness.GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = harness.makeClient(
      'generated',
      server.address,
      harness.clientOptions([grpcInterceptor(retried('spied')), spy]),
    );
    clients.push(c);
    expect((await harness.getOrder(c, 'o-1').outcome).error).toBeUndefined();
    const attempts = byKind(SpanKind.CLIENT).filter((s) => s.instrumentationScope.name === 'breakwater');
    expect(attempts).toHaveLength(2);
    expect(new Set(seen)).toEqual(new Set(attempts.map((a) => a.spanContext().spanId)));
    // No target known (no `target`, no tagChannelTarget): no server.address.
    expect(attempts[0]?.attributes['server.address']).toBeUndefined();
  });

  it('an attempt cut by its attempt timeout ends its span as failed before the retry starts', async () => {
    server.script(harness.GET_ORDER, { kind: 'hang' });
    const c = client(retried('timeouts', { attemptTimeout: 100 }));
    expect((await harness.getOrder(c, 'o-1').outcome).error).toBeUndefined();
    const attempts = byKind(SpanKind.CLIENT)
      .filter((s) => s.instrumentationScope.name === 'breakwater')
      .sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime));
    expect(attempts).toHaveLength(2);
    // grpc-js's deadline (the attempt's own) and breakwater's attempt timeout fire at the
    // same instant: whichever comes first ends the attempt, DEADLINE_EXCEEDED from grpc-js or
    // CANCELLED when breakwater abandons it for the retry.
    expect([status.DEADLINE_EXCEEDED, status.CANCELLED]).toContain(
      attempts[0]?.attributes['rpc.grpc.status_code'],
    );
    expect(attempts[0]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(notAfter(attempts[0]?.endTime, attempts[1]?.startTime)).toBe(true);
    expect(attempts[1]?.attributes['rpc.grpc.status_code']).toBe(status.OK);
    expect(sdk.span('breakwater timeouts').attributes['breakwater.attempts']).toBe(2);
  });

  it('a hedged call: the attempts are siblings; the loser’s span ends, cancelled, when the winner answers', async () => {
    server.script(harness.GET_ORDER, { kind: 'hang' });
    const c = client(
      policy({
        name: 'hedged',
        retry: { maxAttempts: 2 },
        hedge: { maxAttempts: 2, delay: 20 },
        telemetry: openTelemetry(),
      }),
    );
    expect((await harness.getOrder(c, 'o-1').outcome).error).toBeUndefined();
    const op = sdk.span('breakwater hedged');
    const attempts = byKind(SpanKind.CLIENT)
      .filter((s) => s.instrumentationScope.name === 'breakwater')
      .sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime));
    expect(attempts).toHaveLength(2);
    for (const a of attempts) expect(a.parentSpanContext?.spanId).toBe(op.spanContext().spanId);
    const [loser, winner] = attempts as [ReadableSpan, ReadableSpan];
    expect(winner.attributes['rpc.grpc.status_code']).toBe(status.OK);
    expect(winner.attributes['previous-rpc-attempts']).toBe(1);
    expect(loser.attributes['rpc.grpc.status_code']).toBe(status.CANCELLED);
    expect(loser.status.code).toBe(SpanStatusCode.ERROR);
    expect(notAfter(loser.endTime, op.endTime)).toBe(true);
  });

  it('no attempt spans without telemetry, or with tracing: false', async () => {
    for (const orders of [
      policy({ name: 'plain', retry: { maxAttempts: 2, backoff: backoff.constant(1) } }),
      retried('untraced', { telemetry: openTelemetry({ tracing: false }) }),
    ]) {
      server.script(harness.GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
      expect((await harness.getOrder(client(orders), 'o-1').outcome).error).toBeUndefined();
    }
    expect(byKind(SpanKind.CLIENT).filter((s) => s.instrumentationScope.name === 'breakwater')).toEqual([]);
    expect(byKind(SpanKind.CLIENT)).toHaveLength(2);
    // The server's spans are children of instrumentation-grpc's call span, as before.
    const served = byKind(SpanKind.SERVER);
    expect(served).toHaveLength(4);
  });

  it('a sampled-out operation makes no attempt spans; its own context still reaches the server', async () => {
    // The caller's span is sampled out: with the SDK's default (parent-based) sampler, so is
    // everything under it; the trace id still goes to the server.
    server.script(harness.GET_ORDER, { kind: 'fail', code: status.UNAVAILABLE });
    const c = client(retried('sampled-out'));
    const parent = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 0,
    });
    await context.with(trace.setSpan(context.active(), parent), async () => {
      expect((await harness.getOrder(c, 'o-1').outcome).error).toBeUndefined();
    });
    expect(sdk.finished().filter((s) => s.kind === SpanKind.CLIENT)).toEqual([]);
    const sent = server.seen(harness.GET_ORDER).map((call) => call.header('traceparent'));
    expect(sent).toHaveLength(2);
    for (const header of sent)
      expect(header).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
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
