/**
 * A short run of the order-flow example (2.5 s phases), asserting the claims it makes on the
 * numbers it measured: every comparison is between the run's own numbers and its own
 * deadline or budget, never a speed figure. The margins hold on a loaded 2-core machine.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhaseNumbers } from '../../../examples/order-flow/metrics.js';
import { NATS_HELP, natsAvailable } from '../../../examples/order-flow/nats/server.js';
import { type OrderFlowResult, type RunResult, runOrderFlow } from '../../../examples/order-flow/run.js';
import { PHASES, type PhaseName } from '../../../examples/order-flow/scenario.js';

/**
 * breakwater aborts a checkout at its deadline; what the shopper measures can end a little
 * later (timers fire late and the load generator sends late on a busy machine).
 */
const DEADLINE_SLACK_MS = 250;

function available(): boolean {
  if (natsAvailable()) return true;
  if (process.env.CI === 'true')
    throw new Error(`the order-flow example needs NATS under CI=true\n${NATS_HELP}`);
  console.warn(
    'skipping the order-flow example: no nats-server on PATH, no NATS_URL (apt-get install nats-server)',
  );
  return false;
}

/** Active handles by type (sockets, servers, child processes, timers...). */
function handles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Handle types of which there are more now than in `before`. */
function leftBehind(before: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [type, count] of handles()) if (count > (before.get(type) ?? 0)) extra.push(type);
  return extra;
}

function phase(run: RunResult, name: PhaseName): PhaseNumbers {
  const found = run.phases[PHASES.findIndex((p) => p.name === name)];
  if (found === undefined) throw new Error(`no phase ${name}`);
  return found;
}

describe.skipIf(!available())('order-flow example: a short run, without and with breakwater', () => {
  let result: OrderFlowResult;
  let unprotected: RunResult;
  let protectedRun: RunResult;
  let leaked: string[] = [];

  beforeAll(async () => {
    const before = handles();
    result = await runOrderFlow({ phaseMs: 2_500, rate: 40 });
    const runs = new Map(result.runs.map((run) => [run.mode, run]));
    unprotected = runs.get('unprotected') as RunResult;
    protectedRun = runs.get('protected') as RunResult;
    // A child process's pipes close a moment after it exits: give them a second.
    for (let i = 0; i < 20 && leftBehind(before).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    leaked = leftBehind(before);
  }, 120_000);

  it('ran both modes through the five phases with load in each', () => {
    expect(result.runs.map((run) => run.mode)).toEqual(['unprotected', 'protected']);
    for (const run of result.runs) {
      expect(run.phases).toHaveLength(PHASES.length);
      // 40 orders/s for 2.5 s per phase: the open loop sends every one of them.
      for (const p of run.phases) expect(p.requests).toBe(100);
    }
  });

  it('counted every message the stream stored', () => {
    for (const run of result.runs) {
      expect(run.stream.counted).toBe(run.stream.messages);
      expect(run.total.ordersCreated + run.total.duplicateCopiesStored).toBe(
        run.stream.messages - run.stream.warmUp,
      );
    }
  });

  it('protected: checkout p99 stays within its deadline in every phase', () => {
    for (const p of protectedRun.phases)
      expect(p.p99Ms).toBeLessThanOrEqual(result.deadlineMs + DEADLINE_SLACK_MS);
  });

  it('protected: no retry storm reaches Loyalty during its spike (calls per request within the retry budgets)', () => {
    const spike = phase(protectedRun, 'loyalty-spike');
    expect(spike.loyaltyCalls).toBeGreaterThan(0);
    expect(spike.callsPerRequest).toBeLessThanOrEqual(result.retryBudgetBound);
  });

  it('protected: every order is shipped exactly once, through lost acks and a Shipping outage', () => {
    expect(protectedRun.drained).toBe(true);
    expect(protectedRun.total.ordersCreated).toBeGreaterThan(0);
    for (const p of protectedRun.phases) expect(p.packagesShipped).toBe(p.ordersCreated);
    expect(protectedRun.total.packagesShipped).toBe(protectedRun.total.ordersCreated);
    expect(protectedRun.total.emailsSent).toBe(protectedRun.total.ordersCreated);
    expect(protectedRun.total.duplicateOrders).toBe(0);
    // The lost acks were real: retried publishes reached the server and it dropped the copies.
    expect(phase(protectedRun, 'lost-acks').duplicatePublishesRemoved).toBeGreaterThan(0);
    expect(protectedRun.total.duplicateCopiesStored).toBe(0);
    // Shipping's resilientHandler dead-lettered no good order through the outage and the lost
    // acks (its count and the dead-letter stream agree), and called the carrier once per order.
    expect(protectedRun.total.messagesDeadLettered).toBe(protectedRun.stream.deadLetters);
    expect(protectedRun.stream.deadLetters).toBe(0);
    expect(protectedRun.total.carrierCalls).toBe(protectedRun.total.ordersCreated);
  });

  it('unprotected: the spike cascades (failed checkouts or p99 past the deadline), lost acks store copies', () => {
    const spike = phase(unprotected, 'loyalty-spike');
    expect(spike.successRate < 1 || spike.p99Ms > result.deadlineMs).toBe(true);
    expect(spike.callsPerRequest).toBeGreaterThan(phase(protectedRun, 'loyalty-spike').callsPerRequest);
    // Counted for the carts the publishes were for, which a lingering cascade may have placed
    // in an earlier phase: over the whole run.
    expect(unprotected.total.duplicateCopiesStored).toBeGreaterThan(0);
  });

  it('protected: the slowest checkout’s trace, from the SDK’s spans, crosses the services', () => {
    expect(unprotected.trace).toBeUndefined();
    const rows = protectedRun.trace ?? [];
    const [root, edge] = rows;
    expect(root).toMatchObject({ service: 'Shopper', span: 'place order', depth: 0, startMs: 0 });
    expect(edge).toMatchObject({ service: 'Shopper', span: 'breakwater checkout', depth: 1 });
    // The shopper's attempt reached Checkout, whose calls are in the trace under it.
    const checkout = rows.filter((r) => r.service === 'Checkout');
    expect(checkout.length).toBeGreaterThan(0);
    for (const row of checkout) expect(row.depth).toBe(row.span.startsWith('grpc.') ? 3 : 2);
    // Checkout's gRPC calls show their attempts.
    expect(checkout.some((r) => r.span.startsWith('grpc.'))).toBe(true);
    for (const row of rows.slice(1)) {
      if (row.span.startsWith('grpc.')) {
        // A gRPC attempt's CLIENT span, under its call's breakwater span.
        expect(row.span).toMatch(/^grpc\.orderflow\.v1\.\w+\/\w+$/);
        expect(row.outcome).toMatch(/^attempt \d+, status \d+$/);
      } else {
        expect(row.span).toMatch(/^breakwater (checkout|discount|orders|loyalty|publish)$/);
        expect(row.outcome).toMatch(
          /^(success|error|circuit_open|deadline_exceeded|bulkhead_rejected|aborted), \d+ attempts?$/,
        );
      }
      expect(row.startMs).toBeGreaterThanOrEqual(0);
      expect(row.startMs + row.durationMs).toBeLessThanOrEqual((root?.durationMs ?? 0) + 1);
    }
  });

  it('leaves no server, socket, child process or timer behind', () => {
    expect(leaked).toEqual([]);
  });
});
