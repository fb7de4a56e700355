// breakwater/otel's cost: the full pipeline (retry + breaker + budget + deadline + attempt
// timeout, as in core.bench.mjs) on the success path of `async () => 1`, without telemetry,
// with `openTelemetry()` and no SDK registered (the API's no-op: the target is at most 10%
// more CPU per call), and with the SDK recording traces, metrics or both; beside them, the
// floor: the same SDK work written by hand around the plain pipeline, with no
// breakwater/otel at all (see lib/otel-variant.mjs for every variant).
//
// Each variant runs in a fresh process (the AsyncLocalStorage context manager turns async
// hooks on for its whole process), the order rotated each round; the figure is CPU per call
// (user + system, the garbage collector's threads included), and a round's differences are
// taken within the round.
//
// Polly's published figure for the same question, beside ours: its TelemetryBenchmark
// (App-vNext/Polly, bench/BenchmarkDotNet.Artifacts/results/
// Polly.Core.Benchmarks.TelemetryBenchmark-report-github.md, commit cf50bc5) runs one
// strategy that reports one event per execution: 39.5 ns without telemetry, 271.7 ns with
// a meter listener (323.9 ns with six enrichment tags), .NET 9 on an i7-13700H; metrics
// only, no traces.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';

const { policy } = await loadBreakwater();
const { openTelemetry } = await loadBreakwater('otel');
// The engine takes `telemetry` once the core pipeline is in; until then there is nothing
// to measure (and nothing is written to RESULTS.md).
try {
  policy({ telemetry: openTelemetry() });
} catch (error) {
  if (error?.code !== 'BREAKWATER_INVALID_OPTIONS') throw error;
  console.log(`otel bench skipped: this build's policy() does not take \`telemetry\` yet (${error.message})`);
  process.exit(0);
}

/** Every variant lib/otel-variant.mjs runs (its header says what each is). */
const VARIANTS = [
  'plain',
  'nosdk',
  'traces',
  'metrics',
  'both',
  'both-memory',
  'bare-traces',
  'bare-metrics',
  'bare-both',
];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const variantFile = fileURLToPath(new URL('./lib/otel-variant.mjs', import.meta.url));

const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const round = {};
  for (let i = 0; i < VARIANTS.length; i++) {
    const variant = VARIANTS[(i + r) % VARIANTS.length];
    const child = spawnSync(process.execPath, [variantFile, variant, String(CALLS)], {
      encoding: 'utf8',
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0) throw new Error(`${variant} failed (exit ${child.status})`);
    round[variant] = JSON.parse(child.stdout.trim().split('\n').pop()).ns;
  }
  rounds.push(round);
  console.log(
    `round ${r + 1}/${ROUNDS}: ${VARIANTS.map((v) => `${v} ${round[v].toFixed(0)} ns`).join(', ')}`,
  );
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (v) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(2)} µs` : `${v.toFixed(0)} ns`);
const pct = (v) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;
/** The median of `f(round)` over the rounds, with its spread (min to max). */
const stat = (f) => {
  const values = rounds.map(f);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
};
const cell = (s, format = fmt) => `${format(s.median)} (${format(s.min)} to ${format(s.max)})`;
const added = (v, over = 'plain') => stat((round) => round[v] - round[over]);

const LABEL = {
  plain: 'full pipeline',
  nosdk: '+ openTelemetry(), no SDK',
  traces: '+ openTelemetry(), SDK: traces only',
  metrics: '+ openTelemetry(), SDK: metrics only',
  both: '+ openTelemetry(), SDK: traces and metrics',
  'both-memory': '+ openTelemetry(), SDK: both, spans to an in-memory exporter (as tests do)',
  'bare-traces': 'the SDK alone: one span, active around the attempt',
  'bare-metrics': 'the SDK alone: two histogram records',
  'bare-both': 'the SDK alone: both',
};
const rows = VARIANTS.map((v) => {
  const own = stat((round) => round[v]);
  return `| ${LABEL[v]} | ${cell(own)} | ${v === 'plain' ? '' : cell(added(v))} |`;
});
const over = ['traces', 'metrics', 'both'].map((v) => {
  const floor = `bare-${v}`;
  return `| ${v === 'both' ? 'traces and metrics' : `${v} only`} | ${fmt(added(floor).median)} | ${fmt(added(v).median)} | ${cell(added(v, floor))} |`;
});
const noSdkCost = stat((round) => round.nosdk / round.plain - 1);
const body = `Success path of \`async () => 1\` through the full pipeline (retry + breaker + budget +
deadline + attempt timeout): CPU per call (\`process.cpuUsage\`, user + system, the garbage
collector's threads included) of ${CALLS.toLocaleString('en')} sequential awaited calls after a warm-up, each
variant in a fresh process, ${ROUNDS} rounds in rotated order; the median of the rounds, the
spread (lowest to highest) in brackets; differences are taken within each round. "SDK" is
\`@opentelemetry/sdk-trace-base\` (every operation sampled, a \`BatchSpanProcessor\` to an
exporter that drops the spans, as production exports) and \`@opentelemetry/sdk-metrics\`
(aggregated in memory), with the AsyncLocalStorage context manager; each run checks that
the SDK recorded one span and two histogram points per call. "The SDK alone" is the floor:
the plain pipeline plus, written by hand with no breakwater/otel, what breakwater asks of
the SDK (the span started in the caller's context and made active around the attempt, two
attributes at its end; two histogram records with cached attribute sets).

| variant | CPU per call | added to the full pipeline |
| --- | ---: | ---: |
${rows.join('\n')}

| SDK recording | the SDK alone adds | breakwater/otel adds | breakwater/otel over the floor |
| --- | ---: | ---: | ---: |
${over.join('\n')}

| target | measured | wanted |
| --- | ---: | --- |
| openTelemetry() with no SDK, vs the full pipeline | ${cell(noSdkCost, pct)} | ≤ +10% |

With the SDK recording, what an operation costs is the SDK's: one span costs about what
a hand-written span costs, and \`@opentelemetry/sdk-metrics\` 2.x hashes the attribute
set of every record (\`hashAttributes\`: the keys sorted, then \`JSON.stringify\`), even
when the same frozen object is passed every time, which is most of the metrics cost.
Polly's TelemetryBenchmark (one event per execution, metrics only, .NET 9, i7-13700H;
App-vNext/Polly bench/BenchmarkDotNet.Artifacts/results/
Polly.Core.Benchmarks.TelemetryBenchmark-report-github.md) goes from 39.5 ns to 271.7 ns:
+232 ns.`;
writeSection('otel', 'Telemetry cost (breakwater/otel)', body);
if (noSdkCost.median > 0.1) {
  console.error(`openTelemetry() with no SDK costs ${pct(noSdkCost.median)}: over the 10% target`);
  process.exitCode = 1;
}
