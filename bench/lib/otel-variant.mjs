// One variant of breakwater/otel's cost, in a process of its own (the AsyncLocalStorage
// context manager turns async hooks on for the whole process once it is used, so variants
// must not share one): the CPU per call (process.cpuUsage, user + system, every thread:
// the garbage collector's included) of N sequential awaited operations, after a warm-up.
// Prints one JSON line. Run by otel.bench.mjs; by hand: node bench/lib/otel-variant.mjs <variant> [calls]
//
//   plain          the full pipeline (retry + breaker + budget + deadline + attempt timeout)
//   nosdk          + openTelemetry(), no SDK registered (the API's no-op)
//   traces         + openTelemetry({ metrics: false }), the SDK recording
//   metrics        + openTelemetry({ tracing: false }), the SDK recording
//   both           + openTelemetry(), the SDK recording traces and metrics
//   both-memory    the same, spans through a SimpleSpanProcessor to an InMemorySpanExporter
//   bare-*         no breakwater/otel: the plain pipeline plus what breakwater asks of the SDK,
//                  written by hand (the floor): one span started in the caller's context and
//                  made active around the attempt, two attributes set at its end; two
//                  histogram records with cached attribute sets
import { loadBreakwater } from './dist.mjs';

const variant = process.argv[2];
if (variant === undefined) throw new Error('usage: node bench/lib/otel-variant.mjs <variant> [calls]');
const CALLS = Number(process.argv[3] ?? 200_000);
const WARM_UP = 50_000;
const { circuitBreaker, policy, retryBudget } = await loadBreakwater();
const { openTelemetry } = await loadBreakwater('otel');
const api = await import('@opentelemetry/api');

const full = (extra = {}) =>
  policy({
    deadline: 10_000,
    attemptTimeout: 5_000,
    retry: { maxAttempts: 3, budget: retryBudget() },
    circuitBreaker: circuitBreaker(),
    ...extra,
  });

/** The SDK as production runs it: a batch processor (to an exporter that drops the spans), metrics in memory. */
async function sdk(memory = false) {
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } = await import(
    '@opentelemetry/sdk-trace-base'
  );
  const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  let exported = 0;
  const dropping = {
    export(spans, done) {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const inMemory = new InMemorySpanExporter();
  let kept = 0;
  class Reader extends MetricReader {
    async onShutdown() {}
    async onForceFlush() {}
  }
  const reader = new Reader();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [
      memory
        ? new SimpleSpanProcessor(inMemory)
        : new BatchSpanProcessor(dropping, { maxQueueSize: 65_536, maxExportBatchSize: 4_096 }),
    ],
  });
  return {
    tracerProvider,
    meterProvider: new MeterProvider({ readers: [reader] }),
    /** Spans exported and histogram points recorded, to check the SDK really recorded. */
    async recorded() {
      await tracerProvider.forceFlush();
      kept += inMemory.getFinishedSpans().length;
      inMemory.reset();
      const spans = memory ? kept : exported;
      const { resourceMetrics } = await reader.collect();
      const points = resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .flatMap((m) => m.dataPoints)
        .reduce((n, p) => n + (typeof p.value === 'object' ? p.value.count : 0), 0);
      return { spans, points };
    },
  };
}

const work = async () => 1;
let run;
let check = async () => ({});
if (variant === 'plain' || variant === 'nosdk') {
  const p = variant === 'plain' ? full() : full({ telemetry: openTelemetry() });
  run = () => p.execute(work);
} else if (!variant.startsWith('bare-')) {
  const s = await sdk(variant === 'both-memory');
  const p = full({
    telemetry: openTelemetry({
      tracerProvider: s.tracerProvider,
      meterProvider: s.meterProvider,
      tracing: variant !== 'metrics',
      metrics: variant !== 'traces',
    }),
  });
  run = () => p.execute(work);
  check = s.recorded;
} else {
  const s = await sdk();
  const p = full();
  const tracing = variant !== 'bare-metrics';
  const metering = variant !== 'bare-traces';
  const tracer = s.tracerProvider.getTracer('bare');
  const meter = s.meterProvider.getMeter('bare');
  const advice = { explicitBucketBoundaries: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1, 10] };
  const opHist = meter.createHistogram('op', { unit: 's', advice });
  const attHist = meter.createHistogram('attempt', { unit: 's', advice });
  const base = Object.freeze({ 'breakwater.policy': 'default' });
  const opAttrs = Object.freeze({ ...base, 'breakwater.outcome': 'success' });
  const attAttrs = Object.freeze({
    ...base,
    'breakwater.attempt.outcome': 'success',
    'breakwater.attempt.retry': false,
  });
  const inSpan = (ctx) => (c) => api.context.with(ctx, work, undefined, c);
  run = async () => {
    const started = metering ? performance.now() : 0;
    let span;
    let fn = work;
    if (tracing) {
      const parent = api.context.active();
      span = tracer.startSpan(
        'breakwater default',
        { kind: api.SpanKind.INTERNAL, attributes: base },
        parent,
      );
      fn = inSpan(api.trace.setSpan(parent, span));
    }
    const value = await p.execute(fn);
    if (metering) {
      const now = performance.now();
      attHist.record((now - started) / 1000, attAttrs);
      opHist.record((now - started) / 1000, opAttrs);
    }
    if (tracing) {
      span.setAttribute('breakwater.attempts', 1);
      span.setAttribute('breakwater.outcome', 'success');
      span.end();
    }
    return value;
  };
  check = s.recorded;
}

for (let i = 0; i < WARM_UP; i++) await run();
const warm = await check();
const before = process.cpuUsage();
for (let i = 0; i < CALLS; i++) await run();
const used = process.cpuUsage(before);
const ns = ((used.user + used.system) * 1000) / CALLS;
// What the SDK recorded during the measured calls (its counts are cumulative).
const after = await check();
const recorded = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (warm[k] ?? 0)]));
if (variant !== 'plain' && variant !== 'nosdk') {
  const wantSpans = variant.endsWith('metrics') ? 0 : CALLS;
  const wantPoints = variant.endsWith('traces') ? 0 : 2 * CALLS;
  if (recorded.spans !== wantSpans || recorded.points !== wantPoints) {
    const got = JSON.stringify(recorded);
    throw new Error(`${variant}: the SDK recorded ${got}, not ${wantSpans} spans and ${wantPoints} points`);
  }
}
process.stdout.write(`${JSON.stringify({ variant, ns, ...recorded })}\n`);
