/**
 * The chart: a self-contained SVG (no scripts, fonts or other files) with two panels over
 * the run's time axis: the success rate and the p99 checkout latency of the orders sent in
 * each time bucket, one line per run, the phases shaded behind them and the deadline drawn
 * across the latency panel.
 *
 * @module
 */
import type { SeriesPoint } from '../metrics.js';
import type { OrderFlowResult } from '../run.js';
import { PHASES } from '../scenario.js';

const WIDTH = 980;
const LEFT = 72;
const RIGHT = 24;
const TOP = 112;
const PANEL = 190;
const GAP = 64;
const HEIGHT = TOP + PANEL * 2 + GAP + 56;
const COLORS = { unprotected: '#c0392b', protected: '#1f6fb2' } as const;
const NAMES = { unprotected: 'unprotected', protected: 'breakwater' } as const;

const xml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Four round ticks above 0 whose last is at least `value`: steps of 1, 2, 2.5 or 5 × 10^n. */
function axisTicks(value: number): number[] {
  const rough = Math.max(1, value) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  return [0, 1, 2, 3, 4].map((i) => i * step);
}

interface Panel {
  readonly top: number;
  readonly max: number;
  readonly ticks: number[];
  readonly label: (value: number) => string;
  readonly title: string;
  readonly value: (point: SeriesPoint) => number;
}

export function renderChart(result: OrderFlowResult): string {
  const totalMs = PHASES.length * result.phaseMs;
  const x = (ms: number): number => LEFT + (ms / totalMs) * (WIDTH - LEFT - RIGHT);
  const worstP99 = Math.max(
    result.deadlineMs,
    ...result.runs.flatMap((run) => run.series.map((p) => p.p99Ms)),
  );
  const latencyTicks = axisTicks(worstP99 * 1.05);
  const panels: Panel[] = [
    {
      top: TOP,
      max: 100,
      ticks: [0, 25, 50, 75, 100],
      label: (v) => `${v}%`,
      title: 'checkouts that succeeded',
      value: (p) => p.successRate * 100,
    },
    {
      top: TOP + PANEL + GAP,
      max: latencyTicks[latencyTicks.length - 1] ?? 1,
      ticks: latencyTicks,
      label: (v) => `${fmt(v)} ms`,
      title: 'p99 checkout latency',
      value: (p) => p.p99Ms,
    },
  ];
  const y = (panel: Panel, value: number): number => panel.top + PANEL - (value / panel.max) * PANEL;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="28" font-size="17" font-weight="600">order-flow: the same load, without and with breakwater</text>`,
    `<text x="${LEFT}" y="48" fill="#555">${xml(
      `${result.rate} orders/s (open loop), ${PHASES.length} phases of ${(result.phaseMs / 1_000).toFixed(1)} s; ` +
        `each point: the orders sent in ${result.runs[0]?.bucketMs ?? 0} ms`,
    )}</text>`,
  );
  // Legend
  let legendX = WIDTH - RIGHT - 250;
  for (const run of result.runs) {
    out.push(
      `<line x1="${legendX}" y1="44" x2="${legendX + 24}" y2="44" stroke="${COLORS[run.mode]}" stroke-width="3"/>`,
      `<text x="${legendX + 30}" y="48">${NAMES[run.mode]}</text>`,
    );
    legendX += 120;
  }
  // Phase bands and names
  PHASES.forEach((phase, index) => {
    const x0 = x(index * result.phaseMs);
    const x1 = x((index + 1) * result.phaseMs);
    for (const panel of panels) {
      out.push(
        `<rect x="${x0.toFixed(1)}" y="${panel.top}" width="${(x1 - x0).toFixed(1)}" height="${PANEL}" fill="${index % 2 === 0 ? '#f3f4f6' : '#fafafa'}"/>`,
      );
    }
    out.push(
      `<text x="${((x0 + x1) / 2).toFixed(1)}" y="${TOP - 10}" text-anchor="middle" fill="#333">${xml(phase.title)}</text>`,
    );
  });
  for (const panel of panels) {
    out.push(`<text x="${LEFT}" y="${panel.top - 30}" font-weight="600">${xml(panel.title)}</text>`);
    for (const tick of panel.ticks) {
      const ty = y(panel, tick).toFixed(1);
      out.push(
        `<line x1="${LEFT}" y1="${ty}" x2="${WIDTH - RIGHT}" y2="${ty}" stroke="#d9d9d9" stroke-width="0.6"/>`,
        `<text x="${LEFT - 6}" y="${ty}" dy="4" text-anchor="end" fill="#555">${xml(panel.label(tick))}</text>`,
      );
    }
    for (const run of result.runs) {
      const points = run.series
        .map((p) => `${x(p.t + run.bucketMs / 2).toFixed(1)},${y(panel, panel.value(p)).toFixed(1)}`)
        .join(' ');
      // The unprotected line is drawn wider, underneath: where the two runs agree, both show.
      const width = run.mode === 'unprotected' ? 4 : 2;
      out.push(
        `<polyline points="${points}" fill="none" stroke="${COLORS[run.mode]}" stroke-width="${width}" stroke-linejoin="round"/>`,
      );
    }
  }
  // The deadline across the latency panel
  const latency = panels[1] as Panel;
  const dy = y(latency, result.deadlineMs).toFixed(1);
  out.push(
    `<line x1="${LEFT}" y1="${dy}" x2="${WIDTH - RIGHT}" y2="${dy}" stroke="#222" stroke-width="1.2" stroke-dasharray="6 4"/>`,
    `<text x="${WIDTH - RIGHT - 4}" y="${dy}" dy="-5" text-anchor="end" fill="#222">checkout deadline ${fmt(result.deadlineMs)} ms</text>`,
  );
  // Time axis
  const axisY = latency.top + PANEL;
  for (let s = 0; s * 1_000 <= totalMs; s += totalMs > 30_000 ? 5 : 2) {
    out.push(
      `<text x="${x(s * 1_000).toFixed(1)}" y="${axisY + 18}" text-anchor="middle" fill="#555">${s} s</text>`,
    );
  }
  out.push(
    `<text x="${(LEFT + WIDTH - RIGHT) / 2}" y="${axisY + 40}" text-anchor="middle" fill="#555">time since the load started</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
