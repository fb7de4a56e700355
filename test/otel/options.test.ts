/** openTelemetry()'s options: validated up front, each mistake named. */
import { describe, expect, it } from 'vitest';
import { openTelemetry } from '../../src/otel/index.js';
import { expectInvalid, thrownInvalid } from '../support/invalid.js';

describe('openTelemetry options', () => {
  it('takes no options, or any of the four', () => {
    expect(typeof openTelemetry().bind).toBe('function');
    expect(typeof openTelemetry({}).bind).toBe('function');
    expect(typeof openTelemetry({ tracing: false, metrics: false }).bind).toBe('function');
    expect(typeof openTelemetry({ tracing: undefined, tracerProvider: undefined }).bind).toBe('function');
  });

  it('rejects an unknown option, naming it and the allowed ones', () => {
    const error = thrownInvalid(() => openTelemetry({ tracer: {} } as never));
    expect(error.option).toBe('openTelemetry.tracer');
    expect(error.message).toBe(
      'unknown option "tracer" in openTelemetry; allowed: tracerProvider, meterProvider, tracing, metrics',
    );
  });

  it('rejects options that are not an object', () => {
    expectInvalid(() => openTelemetry(null as never), 'openTelemetry');
    expectInvalid(() => openTelemetry('on' as never), 'openTelemetry');
  });

  it('rejects a provider without its factory method', () => {
    expectInvalid(() => openTelemetry({ tracerProvider: {} as never }), 'openTelemetry.tracerProvider');
    expectInvalid(() => openTelemetry({ tracerProvider: null as never }), 'openTelemetry.tracerProvider');
    expectInvalid(
      () => openTelemetry({ meterProvider: { getTracer() {} } as never }),
      'openTelemetry.meterProvider',
    );
  });

  it('rejects switches that are not booleans', () => {
    expectInvalid(() => openTelemetry({ tracing: 'yes' as never }), 'openTelemetry.tracing');
    expectInvalid(() => openTelemetry({ metrics: 0 as never }), 'openTelemetry.metrics');
  });

  it('bind() wants a policy name', () => {
    expectInvalid(
      () => openTelemetry().bind({ name: '', breaker: undefined, keyedBreaker: undefined }),
      'policy.name',
    );
  });
});
