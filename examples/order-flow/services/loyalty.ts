/**
 * Loyalty: how many points a customer has. It works on a few calls at a time (a small
 * pool, like its database connections); the others wait their turn. When it is cold every
 * call takes hundreds of ms, so a queue builds up: what callers do then (wait, give up,
 * retry) decides whether the queue drains or grows.
 *
 * A call whose caller gave up while it waited (cancelled, or past its deadline) is dropped
 * when its turn comes rather than worked on: gRPC tells the server, so it would be silly
 * not to look. The same server runs in both runs.
 *
 * @module
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Faults } from '../faults.js';
import type { Recorder } from '../metrics.js';
import type { PointsReply, PointsRequest } from '../proto.js';
import { LOYALTY_COLD_START_MS, LOYALTY_SLOTS } from '../scenario.js';
import { between, type Timers } from '../timers.js';

interface Job {
  readonly call: ServerUnaryCall<PointsRequest, PointsReply>;
  readonly callback: sendUnaryData<PointsReply>;
}

export function loyaltyService(recorder: Recorder, faults: Faults, timers: Timers) {
  const queue: Job[] = [];
  let busy = 0;

  const work = async (job: Job): Promise<void> => {
    const ms = faults.loyaltyCold
      ? between(LOYALTY_COLD_START_MS.min, LOYALTY_COLD_START_MS.max)
      : between(1, 4);
    await timers.sleep(ms);
    if (!job.call.cancelled) job.callback(null, { points: pointsOf(job.call.request.customer) });
  };

  const pump = (): void => {
    while (busy < LOYALTY_SLOTS && queue.length > 0) {
      const job = queue.shift();
      if (job === undefined || job.call.cancelled) continue;
      busy++;
      void work(job).finally(() => {
        busy--;
        pump();
      });
    }
  };

  return {
    GetPoints(call: ServerUnaryCall<PointsRequest, PointsReply>, callback: sendUnaryData<PointsReply>): void {
      recorder.count('loyalty', call.request.cart);
      queue.push({ call, callback });
      pump();
    },
  };
}

/** A stable number of points per customer. */
function pointsOf(customer: string): number {
  let hash = 0;
  for (const char of customer) hash = (hash * 31 + char.charCodeAt(0)) % 1_000;
  return hash;
}
