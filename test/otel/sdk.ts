/**
 * The real OpenTelemetry SDK, recording in memory: a tracer provider with an in-memory
 * span exporter behind a simple (synchronous) processor, a meter provider with a reader
 * that collects on demand, and the async-hooks context manager. Plus readers of what was
 * recorded, so tests assert on spans and data points by name.
 */
import { type Context, context, type Span, type Tracer, trace } from '@opentelemetry/api';
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { PolicyObserver } from '../../src/engine/stages.js';
import { openTelemetry } from '../../src/otel/index.js';

/** A reader that collects when asked (what a periodic exporter does on its timer). */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

let contextManager: AsyncHooksContextManager | undefined;

/** Installs the async-hooks context manager once per process (test file). */
export function useAsyncContext(): void {
  if (contextManager !== undefined) return;
  contextManager = new AsyncHooksContextManager().enable();
  context.setGlobalContextManager(contextManager);
}

export class Sdk {
  readonly spans = new InMemorySpanExporter();
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly #reader = new CollectingReader();

  constructor(options: { sampler?: Sampler } = {}) {
    useAsyncContext();
    this.tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(this.spans)],
      ...(options.sampler === undefined ? {} : { sampler: options.sampler }),
    });
    this.meterProvider = new MeterProvider({ readers: [this.#reader] });
  }

  /** A tracer of the test's own, for the caller's spans. */
  get tracer(): Tracer {
    return this.tracerProvider.getTracer('test');
  }

  /** Runs `fn` with a span of the test's own active (the caller's span). */
  inSpan<T>(name: string, fn: (span: Span, ctx: Context) => T): T {
    const span = this.tracer.startSpan(name);
    const ctx = trace.setSpan(context.active(), span);
    try {
      return context.with(ctx, () => fn(span, ctx));
    } finally {
      span.end();
    }
  }

  /** The observer of a policy named `orders` with `openTelemetry()` tracing (no metrics) into this SDK. */
  tracedObserver(): PolicyObserver {
    return openTelemetry({ tracerProvider: this.tracerProvider, metrics: false }).bind({
      name: 'orders',
      breaker: undefined,
      keyedBreaker: undefined,
    });
  }

  /** Finished spans, in the order they ended. */
  finished(): ReadableSpan[] {
    return this.spans.getFinishedSpans();
  }

  /** The one finished span named `name`. */
  span(name: string): ReadableSpan {
    const found = this.finished().filter((s) => s.name === name);
    if (found.length !== 1) throw new Error(`expected one span named ${name}, found ${found.length}`);
    return found[0] as ReadableSpan;
  }

  /** Every metric collected now, by name. */
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.#reader.collect();
    if (errors.length > 0) throw errors[0];
    const out = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
    }
    return out;
  }

  /** The data points of metric `name` (none when it was never recorded). */
  async points(name: string): Promise<DataPoint<number | Histogram>[]> {
    const metric = (await this.metrics()).get(name);
    return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
  }

  async shutdown(): Promise<void> {
    await this.tracerProvider.shutdown();
    await this.meterProvider.shutdown();
  }
}

/** The data point whose attributes include `match`, or undefined. */
export function pointWith<V>(
  points: DataPoint<V>[],
  match: Record<string, string | number | boolean>,
): DataPoint<V> | undefined {
  return points.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}

/** A counter's value for `match` (0 when there is no such point). */
export function countOf(points: DataPoint<number | Histogram>[], match: Record<string, string>): number {
  const point = pointWith(points, match);
  return point === undefined ? 0 : (point.value as number);
}

/** A histogram point's count for `match` (0 when there is no such point). */
export function histogramCount(
  points: DataPoint<number | Histogram>[],
  match: Record<string, string | boolean>,
): number {
  const point = pointWith(points, match);
  return point === undefined ? 0 : (point.value as Histogram).count;
}
