/**
 * The timer stage: arms a deadline or an attempt timeout on the policy's shared lane (see
 * `TimerLane` in ../deadline.ts), or on a timer of its own when the expiry is out of the
 * lane's order (a deadline propagated from upstream, a clock that stepped back).
 *
 * @internal
 * @module
 */
import type { Clock, TimerHandle } from '../clock.js';
import { type LaneEntry, MAX_TIMER, type TimerLane } from '../deadline.js';

/** Something with an expiry: on a lane, or on a timer of its own. */
export interface TimedEntry extends LaneEntry {
  /** The timer of its own, while it has one. */
  ownTimer: TimerHandle | undefined;
}

/** Arms `entry` to expire at `entry.timerAt`; `now` is the current time. */
export function arm(lane: TimerLane, clock: Clock, entry: TimedEntry, now: number): void {
  if (lane.add(entry)) return;
  entry.timerDone = false;
  armOwn(clock, entry, entry.timerAt - now);
}

/**
 * A timer of the entry's own. Timers cannot wait longer than 2^31 - 1 ms (Node fires a
 * longer one after 1 ms), so a far expiry is reached in steps, and fires only once due.
 */
function armOwn(clock: Clock, entry: TimedEntry, delay: number): void {
  entry.ownTimer = clock.setTimeout(
    () => {
      entry.ownTimer = undefined;
      if (entry.timerDone) return;
      const left = entry.timerAt - clock.now();
      if (left > 0) {
        armOwn(clock, entry, left);
        return;
      }
      entry.timerDone = true;
      entry.onTimer();
    },
    Math.max(0, Math.min(delay, MAX_TIMER)),
  );
}

/** Disarms `entry` (a no-op once it fired or was disarmed). */
export function disarm(lane: TimerLane, clock: Clock, entry: TimedEntry): void {
  if (entry.timerDone) return;
  const own = entry.ownTimer;
  if (own !== undefined) {
    entry.timerDone = true;
    entry.ownTimer = undefined;
    clock.clearTimeout(own);
  } else {
    lane.remove(entry);
  }
}
