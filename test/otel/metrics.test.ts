/**
 * openTelemetry()'s metrics with the real SDK (a reader that collects on demand):
 * durations in seconds, the events counter, the circuit state gauge per breaker and per
 * key, and bounded attribute sets.
 */
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { keyedCircuitBreaker } from '../../src/breaker/keyed.js';
import type { ObservedPolicy, Telemetry } from '../../src/engine/stages.js';
import { CircuitOpenError } from '../../src/errors.js';
import { openTelemetry } from '../../src/otel/index.js';
import { StepClock } from '../breaker/helpers.js';
import { Operation } from './driver.js';
import { countOf, histogramCount, pointWith, Sdk } from './sdk.js';

let sdk: Sdk;
let telemetry: Telemetry;

beforeEach(() => {
  sdk = new Sdk();
  telemetry = openTelemetry({ meterProvider: sdk.meterProvider, tracing: false });
});
afterEach(async () => {
  await sdk.shutdown();
});

const bind = (policy: Partial<ObservedPolicy> = {}) =>
  telemetry.bind({ name: 'orders', breaker: undefined, keyedBreaker: undefined, ...policy });
const reset = () => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });

describe('breakwater.operation.duration and breakwater.attempt.duration', () => {
  it('are histograms in seconds with the documented attributes', async () => {
    const orders = bind();
    new Operation(orders, 'orders')
      .attempt(1)
      .attemptEnd(1, 'failure', reset())
      .retry(1, 1, reset())
      .attempt(2)
      .attemptEnd(2, 'timeout', reset())
      .retry(2, 1, reset())
      .attempt(3)
      .attemptEnd(3, 'success')
      .succeed();
    new Operation(orders, 'orders').attempt(1).attemptEnd(1, 'success').succeed();
    const metrics = await sdk.metrics();
    const operation = metrics.get('breakwater.operation.duration');
    expect(operation?.descriptor.unit).toBe('s');
    expect(operation?.dataPoints).toHaveLength(1);
    expect(operation?.dataPoints[0]?.attributes).toEqual({
      'breakwater.policy': 'orders',
      'breakwater.outcome': 'success',
    });
    const histogram = operation?.dataPoints[0]?.value as Histogram;
    expect(histogram.count).toBe(2);
    // Seconds, with buckets fine enough for sub-millisecond calls.
    expect(histogram.buckets.boundaries[0]).toBe(0.0001);
    expect(histogram.max).toBeLessThan(5);

    const attempts = metrics.get('breakwater.attempt.duration');
    expect(attempts?.descriptor.unit).toBe('s');
    const points = attempts?.dataPoints ?? [];
    expect(points.map((p) => p.attributes)).toEqual(
      expect.arrayContaining([
        {
          'breakwater.policy': 'orders',
          'breakwater.attempt.outcome': 'error',
          'breakwater.attempt.retry': false,
        },
        {
          'breakwater.policy': 'orders',
          'breakwater.attempt.outcome': 'timeout',
          'breakwater.attempt.retry': true,
        },
        {
          'breakwater.policy': 'orders',
          'breakwater.attempt.outcome': 'success',
          'breakwater.attempt.retry': true,
        },
        {
          'breakwater.policy': 'orders',
          'breakwater.attempt.outcome': 'success',
          'breakwater.attempt.retry': false,
        },
      ]),
    );
    expect(points).toHaveLength(4);
  });

  it('measure real time, not the events’ clock', async () => {
    const o = new Operation(bind(), 'orders').attempt(1);
    const until = performance.now() + 20;
    while (performance.now() < until) {
      // the attempt runs for 20 ms
    }
    o.attemptEnd(1, 'success', undefined, 0).succeed();
    const [point] = await sdk.points('breakwater.attempt.duration');
    const sum = (point?.value as Histogram | undefined)?.sum ?? 0;
    expect(sum).toBeGreaterThanOrEqual(0.02);
    expect(sum).toBeLessThan(5);
  });

  it("an attempt-end without its attempt-start falls back to the event's own duration", async () => {
    new Operation(bind(), 'orders').attemptEnd(1, 'success', undefined, 250).succeed();
    const [point] = await sdk.points('breakwater.attempt.duration');
    expect((point?.value as Histogram | undefined)?.sum).toBe(0.25);
  });

  it('record each operation outcome', async () => {
    const orders = bind();
    new Operation(orders, 'orders')
      .circuitRejected(1, 100)
      .fail(CircuitOpenError.fast(100, undefined, undefined));
    new Operation(orders, 'orders').attempt(1).attemptEnd(1, 'failure', reset()).fail(reset());
    const points = await sdk.points('breakwater.operation.duration');
    expect(histogramCount(points, { 'breakwater.outcome': 'circuit_open' })).toBe(1);
    expect(histogramCount(points, { 'breakwater.outcome': 'error' })).toBe(1);
  });

  it("carry the adapter's attributes", async () => {
    const orders = bind();
    const getOrder = { 'rpc.method': 'GetOrder' };
    new Operation(orders, 'orders', getOrder).attempt(1).attemptEnd(1, 'success').succeed();
    new Operation(orders, 'orders', getOrder).attempt(1).attemptEnd(1, 'success').succeed();
    new Operation(orders, 'orders', { 'rpc.method': 'CreateOrder' })
      .attempt(1)
      .attemptEnd(1, 'success')
      .succeed();
    const points = await sdk.points('breakwater.operation.duration');
    expect(histogramCount(points, { 'rpc.method': 'GetOrder', 'breakwater.outcome': 'success' })).toBe(2);
    expect(histogramCount(points, { 'rpc.method': 'CreateOrder' })).toBe(1);
    const attempts = await sdk.points('breakwater.attempt.duration');
    expect(histogramCount(attempts, { 'rpc.method': 'GetOrder', 'breakwater.attempt.retry': false })).toBe(2);
  });
});

describe('breakwater.events', () => {
  it('counts every decision, by event (and a refused retry by reason)', async () => {
    const orders = bind();
    const error = reset();
    new Operation(orders, 'orders')
      .attempt(1)
      .attemptEnd(1, 'failure', error)
      .retry(1, 1, error)
      .attempt(2)
      .attemptEnd(2, 'failure', error)
      .stateChange('closed', 'open')
      .refused(2, 'circuit-open', error)
      .fail(error);
    new Operation(orders, 'orders')
      .circuitRejected(1, 50)
      .fail(CircuitOpenError.fast(50, undefined, undefined));
    new Operation(orders, 'orders')
      .stateChange('open', 'half-open')
      .attempt(1)
      .attemptEnd(1, 'success')
      .stateChange('half-open', 'closed')
      .succeed();
    new Operation(orders, 'orders').bulkheadRejected().fail(new Error('full'));
    new Operation(orders, 'orders')
      .attempt(1)
      .attemptEnd(1, 'deadline', error)
      .deadlineExceeded(100)
      .fail(error);
    new Operation(orders, 'orders')
      .attempt(1)
      .attemptEnd(1, 'failure', error)
      .refused(1, 'budget', error)
      .fail(error);

    const points = await sdk.points('breakwater.events');
    const count = (event: string) => countOf(points, { 'breakwater.event': event });
    expect(count('retry')).toBe(1);
    expect(count('circuit_opened')).toBe(1);
    expect(count('circuit_rejected')).toBe(1);
    expect(count('circuit_half_opened')).toBe(1);
    expect(count('circuit_closed')).toBe(1);
    expect(count('bulkhead_rejected')).toBe(1);
    expect(count('deadline_exceeded')).toBe(1);
    expect(
      countOf(points, {
        'breakwater.event': 'retry_refused',
        'breakwater.retry_refused.reason': 'circuit_open',
      }),
    ).toBe(1);
    expect(
      countOf(points, { 'breakwater.event': 'retry_refused', 'breakwater.retry_refused.reason': 'budget' }),
    ).toBe(1);
    for (const point of points) expect(point.attributes['breakwater.policy']).toBe('orders');
    expect(new Set(points.map((p) => p.attributes['breakwater.event']))).toEqual(
      new Set([
        'retry',
        'retry_refused',
        'circuit_opened',
        'circuit_rejected',
        'circuit_half_opened',
        'circuit_closed',
        'bulkhead_rejected',
        'deadline_exceeded',
      ]),
    );
  });

  it('no attribute carries a key, an idempotency key, a URL or a message', async () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1 });
    const orders = bind({ keyedBreaker: keyed });
    const error = Object.assign(new Error('GET https://api.example/orders/42 failed for idem-7f3a'), {
      code: 'ECONNRESET',
    });
    new Operation(orders, 'orders', undefined, 'https://api.example')
      .attempt(1)
      .attemptEnd(1, 'failure', error)
      .stateChange('closed', 'open')
      .refused(1, 'circuit-open', error)
      .fail(error);
    for (const name of [
      'breakwater.events',
      'breakwater.operation.duration',
      'breakwater.attempt.duration',
    ]) {
      for (const point of await sdk.points(name)) {
        const values = Object.values(point.attributes).map(String);
        expect(values.some((v) => v.includes('api.example') || v.includes('idem') || v.includes('42'))).toBe(
          false,
        );
      }
    }
  });
});

describe('breakwater.circuit.state', () => {
  const states = async (): Promise<Record<string, unknown>[]> =>
    (await sdk.points('breakwater.circuit.state')).map((p) => ({ ...p.attributes, value: p.value }));

  it('one series per state, 1 for the current one, for every breaker a policy holds', async () => {
    const clock = new StepClock();
    const breaker = circuitBreaker({ consecutiveFailures: 1, openDuration: 1_000, clock });
    bind({ breaker });
    expect(await states()).toEqual([
      { 'breakwater.policy': 'orders', 'breakwater.circuit.state': 'closed', value: 1 },
      { 'breakwater.policy': 'orders', 'breakwater.circuit.state': 'open', value: 0 },
      { 'breakwater.policy': 'orders', 'breakwater.circuit.state': 'half_open', value: 0 },
      { 'breakwater.policy': 'orders', 'breakwater.circuit.state': 'isolated', value: 0 },
    ]);
    breaker.record(breaker.acquire(), new Error('down'), true, 1);
    expect(breaker.state).toBe('open');
    const open = await states();
    expect(open.filter((s) => s.value === 1)).toEqual([
      { 'breakwater.policy': 'orders', 'breakwater.circuit.state': 'open', value: 1 },
    ]);
    // Collecting does not move an open breaker whose time is up: it shows open until a call probes.
    clock.advance(1_000);
    expect((await states()).find((s) => s.value === 1)?.['breakwater.circuit.state']).toBe('open');
    expect(breaker.state).toBe('half-open');
    expect((await states()).find((s) => s.value === 1)?.['breakwater.circuit.state']).toBe('half_open');
    breaker.isolate();
    expect((await states()).find((s) => s.value === 1)?.['breakwater.circuit.state']).toBe('isolated');
  });

  it('a keyed breaker: one set of series per key while the key is tracked', async () => {
    const clock = new StepClock();
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1, maxKeys: 2, clock });
    bind({ keyedBreaker: keyed });
    expect(await states()).toEqual([]);
    const down = keyed.get('https://down.example');
    down.record(down.acquire(), new Error('down'), true, 1);
    keyed.get('https://up.example');
    const points = await states();
    expect(points).toHaveLength(8);
    expect(points.filter((p) => p.value === 1)).toEqual([
      {
        'breakwater.policy': 'orders',
        'breakwater.circuit.state': 'open',
        'breakwater.circuit.key': 'https://down.example',
        value: 1,
      },
      {
        'breakwater.policy': 'orders',
        'breakwater.circuit.state': 'closed',
        'breakwater.circuit.key': 'https://up.example',
        value: 1,
      },
    ]);
    // maxKeys 2: a third key drops the least recently used closed one. Its series are
    // reported once more, all 0 (a cumulative SDK keeps a series' last value: it must not
    // say "closed" for ever), then no more.
    keyed.get('https://new.example');
    const after = await states();
    const gone = after.filter((p) => p['breakwater.circuit.key'] === 'https://up.example');
    expect(gone.map((p) => p.value)).toEqual([0, 0, 0, 0]);
    expect(after.filter((p) => p.value === 1).map((p) => p['breakwater.circuit.key'])).toEqual([
      'https://down.example',
      'https://new.example',
    ]);
    // The SDK keeps the all-0 series; breakwater observes only the keys tracked now.
    const next = await states();
    expect(
      next.filter((p) => p['breakwater.circuit.key'] === 'https://up.example').map((p) => p.value),
    ).toEqual([0, 0, 0, 0]);
  });

  it('a breaker shared by policy.with() under the same name is reported once; under another name, again', async () => {
    const breaker = circuitBreaker();
    bind({ breaker });
    bind({ breaker });
    expect(await states()).toHaveLength(4);
    bind({ name: 'orders-admin', breaker });
    const points = await states();
    expect(points).toHaveLength(8);
    expect(
      pointWith(await sdk.points('breakwater.circuit.state'), { 'breakwater.policy': 'orders-admin' }),
    ).toBeDefined();
  });

  it('a policy without a breaker adds no series', async () => {
    bind();
    expect(await states()).toEqual([]);
  });
});

describe('metrics: false', () => {
  it('records nothing', async () => {
    const quiet = openTelemetry({ meterProvider: sdk.meterProvider, tracing: false, metrics: false });
    const observer = quiet.bind({ name: 'orders', breaker: circuitBreaker(), keyedBreaker: undefined });
    new Operation(observer, 'orders')
      .attempt(1)
      .attemptEnd(1, 'failure', reset())
      .retry(1, 1, reset())
      .succeed();
    expect(await sdk.metrics()).toEqual(new Map());
  });
});
