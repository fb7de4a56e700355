/**
 * The story the example tells: five phases of equal length, the fault each one injects,
 * and the numbers that frame them (the checkout deadline, Loyalty's cold start). Every
 * other number the example prints is measured.
 *
 * @module
 */

/** The checkout's deadline: what the shopper's client waits, end to end, in ms. */
export const CHECKOUT_DEADLINE_MS = 1_000;

/** Loyalty's cold start: each call takes a uniform time in this range (ms). */
export const LOYALTY_COLD_START_MS = { min: 400, max: 600 } as const;

/** Calls Loyalty works on at once (a small pool, like its database connections). */
export const LOYALTY_SLOTS = 8;

/** The cart number of the warm-up orders, sent before the clock starts and not counted. */
export const WARM_UP_CART = 0;

/** How long a JetStream consumer waits for an ack before redelivering (ms, demo scale). */
export const ACK_WAIT_MS = 1_000;

export type PhaseName = 'steady' | 'loyalty-spike' | 'shipping-down' | 'lost-acks' | 'recovery';

/** What the "calls reaching the failing service" row counts in a phase. */
export type FailingCounter = 'loyalty' | 'carrier' | 'publish';

export interface PhaseSpec {
  readonly name: PhaseName;
  readonly title: string;
  /** One line: what happens in this phase. */
  readonly what: string;
  /** The service under stress, and the counter of calls that reached it. */
  readonly failing: { readonly service: string; readonly counter: FailingCounter };
}

export const PHASES: readonly PhaseSpec[] = [
  {
    name: 'steady',
    title: '1. steady',
    what: 'steady traffic, nothing fails',
    failing: { service: 'Loyalty', counter: 'loyalty' },
  },
  {
    name: 'loyalty-spike',
    title: '2. Loyalty latency spike',
    what: `Loyalty cold start: every call takes ${LOYALTY_COLD_START_MS.min}-${LOYALTY_COLD_START_MS.max} ms, ${LOYALTY_SLOTS} at a time`,
    failing: { service: 'Loyalty', counter: 'loyalty' },
  },
  {
    name: 'shipping-down',
    title: '3. Shipping down, then back',
    what: "Shipping's carrier calls hang for 60% of the phase, then it is back",
    failing: { service: "Shipping's carrier", counter: 'carrier' },
  },
  {
    name: 'lost-acks',
    title: '4. lost publish acks',
    what: 'nats-server paused briefly: publishes get no ack in time',
    failing: { service: 'JetStream', counter: 'publish' },
  },
  {
    name: 'recovery',
    title: '5. recovery',
    what: 'nothing fails; what is left of the earlier phases drains',
    failing: { service: 'Loyalty', counter: 'loyalty' },
  },
];

/** A fault switched on or off at a time in the run (ms from its start). */
export interface FaultStep {
  readonly at: number;
  readonly action:
    | 'loyalty-cold'
    | 'loyalty-warm'
    | 'carrier-down'
    | 'carrier-back'
    | 'nats-pause'
    | 'nats-resume';
}

/** How long nats-server stays paused in the lost-acks phase, for a phase of `phaseMs`. */
export function natsPauseMs(phaseMs: number): number {
  return Math.round(Math.min(1_500, phaseMs * 0.75));
}

/** When each fault starts and ends, for phases of `phaseMs` each. */
export function faultTimeline(phaseMs: number): FaultStep[] {
  const start = (phase: PhaseName): number => PHASES.findIndex((p) => p.name === phase) * phaseMs;
  const pauseAt = start('lost-acks') + Math.round(phaseMs * 0.1);
  return [
    { at: start('loyalty-spike'), action: 'loyalty-cold' },
    { at: start('loyalty-spike') + phaseMs, action: 'loyalty-warm' },
    { at: start('shipping-down'), action: 'carrier-down' },
    { at: start('shipping-down') + Math.round(phaseMs * 0.6), action: 'carrier-back' },
    { at: pauseAt, action: 'nats-pause' },
    { at: pauseAt + natsPauseMs(phaseMs), action: 'nats-resume' },
  ];
}

/** The phase a moment of the run (ms from its start) belongs to; after the last, the last. */
export function phaseAt(ms: number, phaseMs: number): number {
  return Math.max(0, Math.min(PHASES.length - 1, Math.floor(ms / phaseMs)));
}
