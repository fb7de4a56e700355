/**
 * The source of time for everything in breakwater. Injectable so tests can drive timing
 * logic without real sleeps.
 *
 * @module
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Time and timers. The default, {@link systemClock}, uses `Date.now()` and the global
 * timer functions, looked up at call time so fake timers installed by a test framework
 * apply too.
 */
export interface Clock {
  /** Current time in milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; a no-op for one that already fired or was cancelled. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Optional: lets the process exit while this timer is pending (Node's `timer.unref()`).
   * breakwater unrefs a shared timer while no call needs it instead of clearing and
   * re-creating it on every call.
   */
  unref?(handle: TimerHandle): void;
  /** Optional: undoes {@link Clock.unref}. */
  ref?(handle: TimerHandle): void;
}

interface NodeTimer {
  ref(): unknown;
  unref(): unknown;
}

/** The real clock. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number): TimerHandle => setTimeout(callback, ms),
  clearTimeout: (handle: TimerHandle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  unref: (handle: TimerHandle) => {
    (handle as NodeTimer).unref();
  },
  ref: (handle: TimerHandle) => {
    (handle as NodeTimer).ref();
  },
});
