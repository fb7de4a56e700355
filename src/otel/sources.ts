/**
 * Where spans and measurements go, and whether anything records them. A policy with
 * `openTelemetry()` and no SDK registered must cost next to nothing, so the no-op is
 * detected up front instead of being called per event:
 *
 * - Tracing: the global tracer provider is a proxy that delegates to the registered SDK
 *   (or to the API's no-op). Checking its delegate is one property read per operation,
 *   and an SDK registered after the policy was built is seen at once.
 * - Metrics: the global meter provider has no proxy: it is the SDK's once one is
 *   registered, the API's no-op before. Instruments made from a no-op meter are the API's
 *   shared no-op instruments; while they are, the provider is looked up again every
 *   {@link RECHECK} operations (a decrement per operation in between).
 *
 * @module
 */
import {
  type Counter,
  createNoopMeter,
  type Histogram,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Tracer,
  type TracerProvider,
  ValueType,
} from '@opentelemetry/api';
import type { CircuitRegistry } from './circuit-gauge.js';
import {
  DURATION_BUCKETS,
  METRIC_ATTEMPT_DURATION,
  METRIC_CIRCUIT_STATE,
  METRIC_EVENTS,
  METRIC_OPERATION_DURATION,
  SCOPE,
} from './names.js';

/** The API's no-op tracer provider: what a proxy delegates to while no SDK is registered. */
const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();
/** The API's shared no-op histogram: what every no-op meter's `createHistogram` returns. */
const NOOP_HISTOGRAM: Histogram = createNoopMeter().createHistogram(METRIC_OPERATION_DURATION);

/** Operations between two looks at the global meter provider while it is a no-op. */
export const RECHECK = 1_024;

interface Delegating {
  getDelegate(): TracerProvider;
}

/** @internal The tracer, and whether anything records its spans. */
export class TraceSource {
  readonly #tracer: Tracer;
  readonly #proxy: Delegating | undefined;

  constructor(provider: TracerProvider) {
    this.#tracer = provider.getTracer(SCOPE);
    // Duck-typed: the global provider may come from another copy of the API.
    this.#proxy =
      typeof (provider as Partial<Delegating>).getDelegate === 'function'
        ? (provider as unknown as Delegating)
        : undefined;
  }

  /** The tracer; undefined while the provider delegates to the API's no-op. */
  get tracer(): Tracer | undefined {
    const proxy = this.#proxy;
    return proxy !== undefined && proxy.getDelegate() === NOOP_TRACER_PROVIDER ? undefined : this.#tracer;
  }
}

/** @internal The synchronous instruments (the state gauge is observed by callback). */
export interface Instruments {
  readonly operationDuration: Histogram;
  readonly attemptDuration: Histogram;
  readonly events: Counter;
}

/** @internal The instruments, made lazily from the meter provider once it records. */
export class MeterSource {
  readonly #explicit: MeterProvider | undefined;
  readonly #circuits: CircuitRegistry;
  /** The provider the instruments were last made from (or found to be a no-op). */
  #provider: MeterProvider | undefined = undefined;
  #instruments: Instruments | undefined = undefined;
  #countdown = 1;

  constructor(explicit: MeterProvider | undefined, circuits: CircuitRegistry) {
    this.#explicit = explicit;
    this.#circuits = circuits;
  }

  /** The instruments; undefined while the meter provider is the API's no-op. */
  get instruments(): Instruments | undefined {
    const instruments = this.#instruments;
    if (instruments !== undefined || --this.#countdown > 0) return instruments;
    this.#countdown = RECHECK;
    this.#resolve();
    return this.#instruments;
  }

  #resolve(): void {
    const provider = this.#explicit ?? metrics.getMeterProvider();
    if (provider === this.#provider) return;
    this.#provider = provider;
    const meter = provider.getMeter(SCOPE);
    const advice = { explicitBucketBoundaries: [...DURATION_BUCKETS] };
    const operationDuration = meter.createHistogram(METRIC_OPERATION_DURATION, {
      description: 'Duration of operations run through a breakwater policy: every attempt and wait.',
      unit: 's',
      valueType: ValueType.DOUBLE,
      advice,
    });
    if (operationDuration === NOOP_HISTOGRAM) return;
    const attemptDuration = meter.createHistogram(METRIC_ATTEMPT_DURATION, {
      description: 'Duration of single attempts made by a breakwater policy.',
      unit: 's',
      valueType: ValueType.DOUBLE,
      advice,
    });
    const events = meter.createCounter(METRIC_EVENTS, {
      description: 'Decisions a breakwater policy took: retries, refusals, rejections, breaker changes.',
      unit: '{event}',
      valueType: ValueType.INT,
    });
    const circuits = this.#circuits;
    meter
      .createObservableGauge(METRIC_CIRCUIT_STATE, {
        description: 'State of a circuit breaker: 1 for its current state, 0 for the others.',
        unit: '1',
        valueType: ValueType.INT,
      })
      .addCallback((result) => circuits.observe(result));
    this.#instruments = { operationDuration, attemptDuration, events };
  }
}
