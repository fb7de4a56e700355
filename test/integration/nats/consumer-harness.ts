/**
 * What the resilientHandler integration suites share: a short-deadline dead-letter
 * publisher, and a consumer loop that records every delivery (its count, when it arrived,
 * when it was settled, and what resilientHandler did with it).
 */
import { type BreakwaterEvent, backoff, policy } from '../../../src/index.js';
import { jetStreamPublisher, type ResilientOutcome } from '../../../src/nats/index.js';
import { type ClientKit, type ConsumerState, type KitMsg, type PullMode, until } from './clients.js';

/**
 * Waits until the durable consumer `worker` has nothing pending and nothing awaiting an ack,
 * and returns its state. A plain ack is fire-and-forget: the server may count it a moment
 * after the handler's outcome resolved, so the state is read until it settles (5 s at most).
 */
export async function drained(kit: ClientKit, stream: string): Promise<ConsumerState> {
  let state: ConsumerState | undefined;
  await until(
    async () => {
      state = await kit.consumerState(stream, 'worker');
      return state.pending === 0 && state.ackPending === 0;
    },
    {
      timeoutMs: 5_000,
      what: () => `nothing pending or unacked on ${stream} (last: ${JSON.stringify(state)})`,
    },
  );
  return state as ConsumerState;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A delivery as the test saw it. */
export interface Delivery {
  readonly count: number;
  /** performance.now() when it arrived. */
  readonly at: number;
  /** performance.now() when handle() resolved (after the ack, nak or term). */
  settledAt: number;
  outcome?: ResilientOutcome;
}

/** A dead-letter publisher with a short, bounded policy. */
export function dlqPublisher(kit: ClientKit, onEvent?: (event: BreakwaterEvent) => void) {
  return jetStreamPublisher(
    kit.js,
    policy({
      deadline: 5_000,
      attemptTimeout: 300,
      retry: { maxAttempts: 10, backoff: backoff.constant(20), budget: false },
      ...(onEvent === undefined ? {} : { onEvent }),
    }),
  );
}

/** Runs `handle` over the durable consumer `worker` until `done(deliveries)`; returns the deliveries. */
export async function runConsumer(
  kit: ClientKit,
  stream: string,
  mode: PullMode,
  handle: (msg: KitMsg) => Promise<ResilientOutcome>,
  done: (deliveries: Delivery[]) => boolean,
  what: string,
): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  const loop = await kit.consume(
    stream,
    'worker',
    async (msg) => {
      const delivery: Delivery = { count: msg.info.deliveryCount ?? 0, at: performance.now(), settledAt: 0 };
      deliveries.push(delivery);
      delivery.outcome = await handle(msg);
      delivery.settledAt = performance.now();
    },
    mode,
  );
  try {
    await until(() => done(deliveries), { what, timeoutMs: 15_000 });
  } finally {
    await loop.stop();
  }
  return deliveries;
}
