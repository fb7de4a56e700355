/**
 * The adaptive limit against a real gRPC server whose latency the test sets: a closed-loop
 * client (more callers than the limit can ever admit, queueing for a slot) through
 * `grpcInterceptor`, the limit learning from every call. It must rise while the server is
 * fast, fall when the server slows, and rise again when it recovers.
 *
 * Timing on a loaded machine: each phase runs until the limit has moved far enough or a
 * generous ceiling passes, and the assertions check the direction with margins, never an
 * exact value or a number of windows.
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grpcInterceptor } from '../../../src/grpc/index.js';
import {
  type AdaptiveLimit,
  type AdaptiveLimitOptions,
  adaptiveLimit,
  type BreakwaterEvent,
  policy,
} from '../../../src/index.js';
import type { GetOrderRequest, Order, OrderServiceClient } from '../../fixtures/grpc/generated/orders.js';
import { clientOptions, getOrder, makeClient, type OrdersServer, startServer } from '../grpc/harness.js';

const FAST_MS = 50;
const SLOW_MS = 250;
/** More callers than `maxLimit`: the limit, not the callers, holds concurrency down. */
const CALLERS = 24;
const BOUNDS = { initialLimit: 8, minLimit: 1, maxLimit: 16, maxQueue: CALLERS } as const;
/** Short windows so a phase takes a second or two; at least 5 calls each. */
const WINDOW = { minMs: 50, maxMs: 100, minSamples: 5 } as const;

/** Polls `done` until it holds or `ceilingMs` passes (then the assertions say what happened). */
async function until(done: () => boolean, ceilingMs: number): Promise<void> {
  const end = Date.now() + ceilingMs;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('adaptive limit against a real gRPC server', () => {
  let server: OrdersServer;
  let delayMs = FAST_MS;
  let inFlight = 0;
  let maxInFlight = 0;

  beforeEach(async () => {
    server = await startServer();
    delayMs = FAST_MS;
    inFlight = 0;
    maxInFlight = 0;
    server.getOrderHandler = (
      call: ServerUnaryCall<GetOrderRequest, Order>,
      callback: sendUnaryData<Order>,
    ) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const timer = setTimeout(() => {
        inFlight--;
        callback(null, { id: call.request.id, item: 'book', quantity: 1 });
      }, delayMs);
      call.once('cancelled', () => {
        clearTimeout(timer);
        inFlight--;
      });
    };
  });

  afterEach(async () => {
    server.calls.length = 0;
    await server.stop();
  });

  /** Runs the closed loop until `stop()`; counts outcomes. */
  function load(client: OrderServiceClient) {
    let running = true;
    const tally = { ok: 0, failed: 0 };
    const callers = Array.from({ length: CALLERS }, async () => {
      while (running) {
        const { error } = await getOrder(client).outcome;
        if (error === undefined) tally.ok++;
        else tally.failed++;
      }
    });
    return {
      tally,
      stop: async () => {
        running = false;
        await Promise.all(callers);
      },
    };
  }

  it.each([
    ['vegas', { algorithm: 'vegas' }],
    ['gradient2', { algorithm: 'gradient2' }],
  ] as const)(
    '%s: rises while the server is fast, falls when it slows, rises when it recovers',
    async (_, algorithm) => {
      const limit: AdaptiveLimit = adaptiveLimit({
        ...algorithm,
        ...BOUNDS,
        window: WINDOW,
      } as AdaptiveLimitOptions);
      const changes: { previous: number; limit: number; phase: string }[] = [];
      let phase = 'fast';
      const p = policy({
        name: 'orders',
        bulkhead: limit,
        retry: false,
        onEvent: (event: BreakwaterEvent) => {
          if (event.type === 'limit-changed')
            changes.push({ previous: event.previous, limit: event.limit, phase });
        },
      });
      const client = makeClient('generated', server.address, clientOptions([grpcInterceptor(p)]));
      const run = load(client);
      try {
        // Fast: nothing queues at the server, so the limit grows from its initial value.
        await until(() => limit.limit >= BOUNDS.initialLimit + 4, 6_000);
        const fast = limit.limit;
        expect(fast).toBeGreaterThanOrEqual(BOUNDS.initialLimit + 4);

        // Slow: every call takes five times as long; the limit must come down.
        phase = 'slow';
        delayMs = SLOW_MS;
        await until(() => limit.limit <= Math.floor(fast * 0.6), 10_000);
        const slow = limit.limit;
        expect(slow).toBeLessThanOrEqual(Math.floor(fast * 0.75));

        // Recovered: fast again; the limit must climb back.
        phase = 'recovered';
        delayMs = FAST_MS;
        await until(() => limit.limit >= slow + 4, 10_000);
        const recovered = limit.limit;
        expect(recovered).toBeGreaterThanOrEqual(slow + 4);

        // The policy reported the moves as limit-changed events, each phase in its direction.
        const moved = (name: string, sign: number) =>
          changes.some((c) => c.phase === name && Math.sign(c.limit - c.previous) === sign);
        expect(moved('fast', 1)).toBe(true);
        expect(moved('slow', -1)).toBe(true);
        expect(moved('recovered', 1)).toBe(true);
        for (const c of changes) {
          expect(c.limit).toBeGreaterThanOrEqual(BOUNDS.minLimit);
          expect(c.limit).toBeLessThanOrEqual(BOUNDS.maxLimit);
        }
      } finally {
        await run.stop();
        client.close();
      }
      // The callers queued for a slot rather than being refused, and the server never saw more
      // calls at once than the limit allows.
      expect(run.tally.failed).toBe(0);
      expect(run.tally.ok).toBeGreaterThan(0);
      expect(maxInFlight).toBeLessThanOrEqual(BOUNDS.maxLimit);
      expect([limit.active, limit.queued]).toEqual([0, 0]);
    },
  );
});
