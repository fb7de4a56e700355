/**
 * `openTelemetry()`'s object: bound to each policy that takes it, it hands every
 * operation an observer (or the shared no-op one while nothing records).
 *
 * @module
 */
import { trace } from '@opentelemetry/api';
import type {
  ObservedPolicy,
  OperationAttributes,
  OperationObserver,
  PolicyObserver,
  Telemetry,
} from '../engine/stages.js';
import { invalid } from '../validate.js';
import { AttributeSets } from './attributes.js';
import { CircuitRegistry } from './circuit-gauge.js';
import { SPAN_PREFIX } from './names.js';
import { type OperationScope, OperationTelemetry } from './operation.js';
import type { OpenTelemetryConfig } from './options.js';
import { MeterSource, TraceSource } from './sources.js';

/** @internal */
export class OpenTelemetryTelemetry implements Telemetry {
  readonly #trace: TraceSource | undefined;
  readonly #meter: MeterSource | undefined;
  readonly #circuits = new CircuitRegistry();

  constructor(config: OpenTelemetryConfig) {
    this.#trace = config.tracing
      ? new TraceSource(config.tracerProvider ?? trace.getTracerProvider())
      : undefined;
    this.#meter = config.metrics ? new MeterSource(config.meterProvider, this.#circuits) : undefined;
  }

  bind(policy: ObservedPolicy): PolicyObserver {
    const name = policy?.name;
    if (typeof name !== 'string' || name.length === 0) invalid('policy.name', 'a non-empty string', name);
    const meter = this.#meter;
    if (meter !== undefined) {
      this.#circuits.watch(policy);
      // Looks the meter provider up now (the first look is at once), so that a breaker's
      // state is reported from the start, before any operation.
      void meter.instruments;
    }
    return new PolicyTelemetry(name, this.#trace, this.#meter);
  }
}

/** @internal The observer bound to one policy. */
class PolicyTelemetry implements PolicyObserver, OperationScope {
  readonly spanName: string;
  readonly #name: string;
  readonly #trace: TraceSource | undefined;
  readonly #meter: MeterSource | undefined;
  /** The sets of operations without adapter attributes (core `execute`). */
  readonly #plain: AttributeSets;
  /** The sets of each adapter attributes object, while the adapter keeps it. */
  readonly #byAttributes = new WeakMap<OperationAttributes, AttributeSets>();

  constructor(name: string, traceSource: TraceSource | undefined, meter: MeterSource | undefined) {
    this.#name = name;
    this.spanName = SPAN_PREFIX + name;
    this.#trace = traceSource;
    this.#meter = meter;
    this.#plain = new AttributeSets(name, undefined);
  }

  operation(attributes: OperationAttributes | undefined): OperationObserver | undefined {
    const tracer = this.#trace?.tracer;
    const instruments = this.#meter?.instruments;
    // Nothing records: the operation runs as without telemetry, and builds no events.
    if (tracer === undefined && instruments === undefined) return undefined;
    return new OperationTelemetry(this, this.#sets(attributes), tracer, instruments);
  }

  #sets(attributes: OperationAttributes | undefined): AttributeSets {
    if (attributes === undefined) return this.#plain;
    let sets = this.#byAttributes.get(attributes);
    if (sets === undefined) {
      sets = new AttributeSets(this.#name, attributes);
      this.#byAttributes.set(attributes, sets);
    }
    return sets;
  }
}
