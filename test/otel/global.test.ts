/**
 * openTelemetry() with the global providers (its default): while no SDK is registered, an
 * operation gets no observer (it runs as without telemetry); an SDK
 * registered after the policy was built is picked up (tracing at once, metrics within
 * RECHECK operations). This file owns the process's global providers.
 */
import { metrics, trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { openTelemetry } from '../../src/otel/index.js';
import { RECHECK } from '../../src/otel/sources.js';
import { Operation } from './driver.js';
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
    expect(a).toBeUndefined();
    expect(b).toBeUndefined();
    // No observer: the engine runs the operation as without telemetry (no events, no context).
  });
});

describe('an SDK registered after the policy was built', () => {
  it('is traced from the next operation, and measured within RECHECK operations', async () => {
    const orders = openTelemetry().bind(observed);
    expect(orders.operation(undefined)).toBeUndefined();

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
