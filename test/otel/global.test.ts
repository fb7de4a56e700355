/**
 * openTelemetry() with the global providers (its default): while no SDK is registered, an
 * operation gets the shared no-op observer and the caller's context is left alone; an SDK
 * registered after the policy was built is picked up (tracing at once, metrics within
 * RECHECK operations). This file owns the process's global providers.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { activeAttempt, openTelemetry } from '../../src/otel/index.js';
import { NOOP_OPERATION } from '../../src/otel/operation.js';
import { RECHECK } from '../../src/otel/sources.js';
import { attemptContext, Operation } from './driver.js';
import { histogramCount, Sdk } from './sdk.js';

const sdk = new Sdk();
afterAll(async () => {
  await sdk.shutdown();
  trace.disable();
  metrics.disable();
});

const observed = { name: 'orders', breaker: circuitBreaker(), keyedBreaker: undefined };

describe('with no SDK registered', () => {
  it('every operation gets the shared no-op observer, which starts attempts untouched', () => {
    const orders = openTelemetry().bind(observed);
    const a = orders.operation(undefined);
    const b = orders.operation({ 'rpc.method': 'GetOrder' });
    expect(a).toBe(NOOP_OPERATION);
    expect(b).toBe(NOOP_OPERATION);
    const self = { calls: 0 };
    const before = context.active();
    a.runAttempt(
      function (this: typeof self, ctx) {
        this.calls += ctx.attempt;
        expect(context.active()).toBe(before);
        expect(activeAttempt()).toBeUndefined();
      },
      self,
      attemptContext(2),
    );
    expect(self.calls).toBe(2);
    a.event({ type: 'attempt-start', policy: 'orders', at: 1, attempt: 1, key: undefined });
  });
});

describe('an SDK registered after the policy was built', () => {
  it('is traced from the next operation, and measured within RECHECK operations', async () => {
    const orders = openTelemetry().bind(observed);
    expect(orders.operation(undefined)).toBe(NOOP_OPERATION);

    trace.setGlobalTracerProvider(sdk.tracerProvider);
    new Operation(orders, 'orders').attempt(1).attemptEnd(1, 'success').succeed();
    expect(sdk.span('breakwater orders').attributes['breakwater.outcome']).toBe('success');

    metrics.setGlobalMeterProvider(sdk.meterProvider);
    for (let i = 0; i < RECHECK; i++)
      new Operation(orders, 'orders').attempt(1).attemptEnd(1, 'success').succeed();
    const points = await sdk.points('breakwater.operation.duration');
    const counted = histogramCount(points, { 'breakwater.outcome': 'success' });
    expect(counted).toBeGreaterThan(0);
    expect(counted).toBeLessThanOrEqual(RECHECK);
    // The breaker's state is observed too, once the meter records.
    expect((await sdk.points('breakwater.circuit.state')).length).toBe(4);
  });

  it('a policy built once the SDK is there is measured from its first operation', async () => {
    const payments = openTelemetry().bind({ name: 'payments', breaker: undefined, keyedBreaker: undefined });
    new Operation(payments, 'payments').attempt(1).attemptEnd(1, 'success').succeed();
    const points = await sdk.points('breakwater.operation.duration');
    expect(histogramCount(points, { 'breakwater.policy': 'payments' })).toBe(1);
  });
});
