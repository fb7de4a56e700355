/**
 * The options of `openTelemetry()` and their validation.
 *
 * @module
 */
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { bool, invalid, obj } from '../validate.js';

/** Options of {@link openTelemetry}. Every one is optional. */
export interface OpenTelemetryOptions {
  /**
   * Where operation spans go.
   * @default the global tracer provider of `@opentelemetry/api` (`trace.getTracerProvider()`),
   * looked up when the policy is built; an SDK registered later is picked up, since the
   * global provider delegates to it.
   */
  tracerProvider?: TracerProvider | undefined;
  /**
   * Where metrics go.
   * @default the global meter provider of `@opentelemetry/api` (`metrics.getMeterProvider()`).
   * While it is the API's no-op, it is looked up again every 1,024 operations, so an SDK
   * registered after the policy was built starts receiving within as many operations.
   */
  meterProvider?: MeterProvider | undefined;
  /**
   * `false`: no spans, and breakwater leaves the active context alone (a transport's spans
   * are children of the caller's span, and {@link undiciResendCount} adds nothing).
   * @default true
   */
  tracing?: boolean | undefined;
  /**
   * `false`: no metrics.
   * @default true
   */
  metrics?: boolean | undefined;
}

/** @internal The validated options. */
export interface OpenTelemetryConfig {
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
  readonly tracing: boolean;
  readonly metrics: boolean;
}

const KEYS = ['tracerProvider', 'meterProvider', 'tracing', 'metrics'] as const;

/** @internal Validates `openTelemetry()`'s options; throws InvalidOptionsError naming the option. */
export function resolveOptions(options: OpenTelemetryOptions | undefined): OpenTelemetryConfig {
  const o = obj<OpenTelemetryOptions>('openTelemetry', options, KEYS) ?? {};
  const tracerProvider = o.tracerProvider;
  if (tracerProvider !== undefined && !hasMethod(tracerProvider, 'getTracer')) {
    invalid('openTelemetry.tracerProvider', 'a TracerProvider (an object with getTracer())', tracerProvider);
  }
  const meterProvider = o.meterProvider;
  if (meterProvider !== undefined && !hasMethod(meterProvider, 'getMeter')) {
    invalid('openTelemetry.meterProvider', 'a MeterProvider (an object with getMeter())', meterProvider);
  }
  return Object.freeze({
    tracerProvider,
    meterProvider,
    tracing: bool('openTelemetry.tracing', o.tracing, true),
    metrics: bool('openTelemetry.metrics', o.metrics, true),
  });
}

function hasMethod(value: unknown, name: string): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[name] === 'function'
  );
}
