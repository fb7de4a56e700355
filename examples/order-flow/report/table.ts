/**
 * The side-by-side table: one block per phase, one column per run, the rows the story
 * needs. Every number comes from the result; the claims at the end are computed from it.
 *
 * @module
 */
import type { PhaseNumbers } from '../metrics.js';
import type { OrderFlowResult, RunResult } from '../run.js';
import { PHASES } from '../scenario.js';

const COLUMN = { unprotected: 'unprotected', protected: 'breakwater' } as const;
const LABEL_WIDTH = 48;
const CELL_WIDTH = 18;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => `${int(n)} ms`;
const pct = (n: number): string => `${(n * 100).toFixed(1)}%`;
const ratio = (n: number): string => n.toFixed(2);

function shippedVsCreated(n: PhaseNumbers): string {
  const diff = n.packagesShipped - n.ordersCreated;
  const text = `${int(n.packagesShipped)} / ${int(n.ordersCreated)}`;
  return diff === 0 ? text : `${text} (${diff > 0 ? '+' : ''}${int(diff)})`;
}

interface Row {
  readonly label: string;
  readonly cell: (n: PhaseNumbers, run: RunResult) => string;
}

function phaseRows(deadlineMs: number, failingService: string): Row[] {
  return [
    { label: 'checkout requests', cell: (n) => int(n.requests) },
    { label: 'succeeded', cell: (n) => pct(n.successRate) },
    { label: 'checkout latency p50', cell: (n) => ms(n.p50Ms) },
    { label: `checkout latency p99 (deadline ${int(deadlineMs)})`, cell: (n) => ms(n.p99Ms) },
    { label: `calls reaching ${failingService} per request`, cell: (n) => ratio(n.callsPerRequest) },
    {
      label: 'breaker transitions',
      cell: (n, run) => (run.mode === 'protected' ? int(n.breakerTransitions) : '-'),
    },
    { label: 'duplicate publishes removed', cell: (n) => int(n.duplicatePublishesRemoved) },
    { label: 'packages shipped / orders created', cell: shippedVsCreated },
  ];
}

const TOTAL_ROWS: Row[] = [
  { label: 'checkout requests', cell: (n) => int(n.requests) },
  { label: 'succeeded', cell: (n) => pct(n.successRate) },
  { label: 'orders created', cell: (n) => int(n.ordersCreated) },
  { label: '  of which a cart ordered again', cell: (n) => int(n.duplicateOrders) },
  { label: 'packages shipped', cell: (n) => int(n.packagesShipped) },
  {
    label: 'emails sent / stock reservations',
    cell: (n) => `${int(n.emailsSent)} / ${int(n.stockReservations)}`,
  },
  { label: 'events stored twice in the stream', cell: (n) => int(n.duplicateCopiesStored) },
  { label: 'duplicate publishes removed (msgID)', cell: (n) => int(n.duplicatePublishesRemoved) },
  { label: 'redeliveries stopped by the guard', cell: (n) => int(n.redeliveriesGuarded) },
  {
    label: 'messages dead-lettered (Shipping)',
    cell: (n, run) => (run.mode === 'protected' ? int(n.messagesDeadLettered) : '-'),
  },
  { label: 'checkouts priced without loyalty points', cell: (n) => int(n.servedWithoutPoints) },
  { label: 'calls reaching Loyalty', cell: (n) => int(n.loyaltyCalls) },
  { label: 'publish requests sent', cell: (n) => int(n.publishAttempts) },
  { label: "calls reaching Shipping's carrier", cell: (n) => int(n.carrierCalls) },
];

function block(
  title: string,
  rows: Row[],
  runs: RunResult[],
  pick: (run: RunResult) => PhaseNumbers,
): string[] {
  const header = ''.padEnd(LABEL_WIDTH) + runs.map((run) => COLUMN[run.mode].padStart(CELL_WIDTH)).join('');
  const lines = [title, header];
  for (const row of rows) {
    const cells = runs.map((run) => row.cell(pick(run), run).padStart(CELL_WIDTH)).join('');
    lines.push(`  ${row.label.padEnd(LABEL_WIDTH - 2)}${cells}`);
  }
  return lines;
}

/** The per-phase blocks and the totals, as lines of text. */
export function formatTable(result: OrderFlowResult): string[] {
  const lines: string[] = [];
  PHASES.forEach((spec, index) => {
    const title = `${spec.title}: ${spec.what}`;
    const rows = phaseRows(result.deadlineMs, spec.failing.service);
    lines.push(...block(title, rows, result.runs, (run) => run.phases[index] as PhaseNumbers), '');
  });
  lines.push(
    ...block('whole run (all phases, after the drain)', TOTAL_ROWS, result.runs, (run) => run.total),
  );
  return lines;
}

/** What the numbers say, one line per claim, computed from the result. */
export function formatClaims(result: OrderFlowResult): string[] {
  const lines: string[] = [];
  for (const run of result.runs) {
    const worstP99 = Math.max(...run.phases.map((p) => p.p99Ms));
    const lowest = Math.min(...run.phases.map((p) => p.successRate));
    const spike = run.phases[PHASES.findIndex((p) => p.name === 'loyalty-spike')];
    const { packagesShipped: shipped, ordersCreated: created } = run.total;
    const name = COLUMN[run.mode];
    lines.push(
      `${name}: worst phase p99 ${ms(worstP99)} (deadline ${ms(result.deadlineMs)}), lowest success ${pct(lowest)}, ` +
        `${ratio(spike?.callsPerRequest ?? 0)} calls per request reached Loyalty during its spike` +
        (run.mode === 'protected' ? ` (retry budgets allow at most ${ratio(result.retryBudgetBound)})` : '') +
        `, ${int(shipped)} packages shipped for ${int(created)} orders` +
        (run.mode === 'protected' ? `, ${int(run.total.messagesDeadLettered)} dead-lettered` : '') +
        (run.drained ? '' : ' (NOT drained: some work was still pending at the end)'),
    );
  }
  return lines;
}

/** The breaker transitions of the protected run, by breaker, in order. */
export function formatTransitions(run: RunResult): string[] {
  const byBreaker = new Map<string, string[]>();
  for (const t of run.transitions) {
    const list = byBreaker.get(t.breaker) ?? [];
    list.push(`${(t.at / 1_000).toFixed(1)}s ${t.to}`);
    byBreaker.set(t.breaker, list);
  }
  return [...byBreaker].map(([breaker, list]) => `  ${breaker} breaker: ${list.join(', ')}`);
}
