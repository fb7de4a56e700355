/**
 * The trace of one checkout as a text waterfall: one line per span, indented by nesting,
 * with where it started and how long it ran (ms since the shopper placed the order), and
 * a bar on a shared time scale.
 *
 * @module
 */
import type { WaterfallRow } from '../tracing.js';

const BAR_WIDTH = 40;

export function formatWaterfall(rows: readonly WaterfallRow[]): string[] {
  const root = rows[0];
  if (root === undefined) return [];
  const total = Math.max(root.durationMs, 1e-3);
  const spanWidth = Math.max(4, ...rows.map((r) => r.span.length + 2 * r.depth));
  const serviceWidth = Math.max(7, ...rows.map((r) => r.service.length));
  const lines = [
    `the slowest protected checkout, as the OpenTelemetry SDK recorded it (${fixed(root.durationMs)} ms):`,
    `  ${'service'.padEnd(serviceWidth)}  ${'span'.padEnd(spanWidth)}  ${'start'.padStart(9)}  ${'duration'.padStart(9)}  ${'timeline'.padEnd(BAR_WIDTH)}  outcome`,
  ];
  for (const row of rows) {
    const from = Math.min(BAR_WIDTH - 1, Math.floor((row.startMs / total) * BAR_WIDTH));
    const width = Math.max(1, Math.round((row.durationMs / total) * BAR_WIDTH));
    const bar = ' '.repeat(from) + '█'.repeat(Math.min(width, BAR_WIDTH - from));
    lines.push(
      `  ${row.service.padEnd(serviceWidth)}  ${`${'  '.repeat(row.depth)}${row.span}`.padEnd(spanWidth)}  ${fixed(row.startMs).padStart(9)}  ${fixed(row.durationMs).padStart(9)}  ${bar.padEnd(BAR_WIDTH)}  ${row.outcome}`,
    );
  }
  return lines;
}

/** ms with 3 decimals below 1 ms (a breaker answers in microseconds), 1 above. */
function fixed(ms: number): string {
  return ms < 1 ? ms.toFixed(3) : ms.toFixed(1);
}
