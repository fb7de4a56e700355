/**
 * The open-loop load generator: orders arrive at a fixed rate, whether or not earlier ones
 * were answered, as shoppers do. (A closed loop, N workers each waiting for its answer
 * before sending the next, slows down exactly when the system does, and so hides the
 * cascade it should show.) Latency is measured from when an order was due to be sent, so a
 * late send counts against the system too.
 *
 * @module
 */
import type { Recorder } from './metrics.js';
import type { Cart, Edge } from './stacks/types.js';

export interface LoadOptions {
  /** Orders per second. */
  readonly rate: number;
  /** How long to keep sending, ms. */
  readonly durationMs: number;
  /** Stops sending at once when aborted. */
  readonly signal?: AbortSignal | undefined;
}

/** The cart for order number `seq`: a few dozen customers, varied amounts. */
export function cartFor(seq: number): Cart {
  return { seq, customer: `customer-${seq % 47}`, amountCents: 1_000 + ((seq * 7_919) % 9_000) };
}

/**
 * Sends orders through `edge` at `rate` for `durationMs`, recording each one's outcome;
 * resolves when every order sent has its answer.
 */
export async function openLoop(edge: Edge, recorder: Recorder, options: LoadOptions): Promise<void> {
  const interval = 1_000 / options.rate;
  const pending = new Set<Promise<void>>();
  let sent = 0;
  await new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      resolve();
    };
    const tick = (): void => {
      timer = undefined;
      const now = recorder.now();
      // Everything due by now goes out now (a late timer sends its backlog at once).
      for (let due = sent * interval; due <= now && due < options.durationMs; due = sent * interval) {
        const seq = recorder.newCart(due);
        sent++;
        const order = edge.placeOrder(cartFor(seq)).then(
          (ok) => recorder.finishCart(seq, ok),
          () => recorder.finishCart(seq, false),
        );
        const tracked = order.finally(() => pending.delete(tracked));
        pending.add(tracked);
      }
      const next = sent * interval;
      if (next >= options.durationMs || options.signal?.aborted) stop();
      else timer = setTimeout(tick, Math.max(0, next - recorder.now()));
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    tick();
  });
  // Interrupted: the caller is tearing everything down, which ends these too.
  if (!options.signal?.aborted) await Promise.allSettled([...pending]);
}
