/**
 * The reference model for the breaker's model-based test (model.test.ts): plain code,
 * written to be obviously correct rather than fast. It keeps every outcome since the window
 * was last cleared and recomputes the window and its rates from scratch on each call.
 */
import type { CircuitState } from '../../src/breaker/circuit-breaker.js';
import type { StepClock } from './helpers.js';

export type Window = { type: 'count'; size: number } | { type: 'time'; durationMs: number; buckets: number };
export type OpenDuration = number | { initialDelay: number; maxDelay: number; multiplier: number };

export interface Config {
  window: Window | undefined; // undefined: pure consecutive-failures mode
  failureRateThreshold: number;
  minimumCalls: number;
  consecutiveFailures: number; // 0: off
  slowCall: { durationMs: number; rateThreshold: number } | undefined;
  openDuration: OpenDuration;
  maxProbes: number;
  successThreshold: number;
}

export type Outcome = 'success' | 'failure' | 'slow' | 'slow-failure' | 'ignored-failure';
export const IGNORED = new Error('isFailure says no');
export const FAILURE = new Error('boom');
export const SLOW_MS = 100;

/**
 * The reference model. The rules, as the documentation states them:
 * - closed: every call is admitted; its outcome goes into the window. The breaker opens
 *   when `consecutiveFailures` failures came in a row, or when the window holds at least
 *   `minimumCalls` calls and failures / calls ≥ failureRateThreshold (or slow / calls ≥ the
 *   slow-call rateThreshold). A time window holds the outcomes of the last `buckets`
 *   buckets of durationMs / buckets ms, the current one included.
 * - open: calls are refused until openDuration has passed (a backoff of the re-open count);
 *   then the next call (or reading `state`) turns it half-open.
 * - half-open: at most maxProbes probes in flight; a failed or slow probe re-opens (and
 *   counts a re-open); successThreshold successful probes close it (and reset the count).
 * - isolated: everything is refused until reset().
 * - Every change of state (and isolate/reset) starts a new generation: a call admitted
 *   earlier is ignored when it ends. Closing empties the window; any change ends a run of
 *   failures.
 */
export class Model {
  state: CircuitState = 'closed';
  openUntil = 0;
  reopens = 0;
  generation = 0;
  outcomes: Array<{ at: number; failure: boolean; slow: boolean }> = [];
  run = 0;
  probesOut = 0;
  probeSuccesses = 0;
  /** Admitted calls not yet ended, with the generation they were admitted in. */
  calls: number[] = [];
  changes: string[] = [];
  lastRetryAfter = 0;

  constructor(
    readonly cfg: Config,
    readonly clock: StepClock,
  ) {}

  #go(to: CircuitState): void {
    if (to !== this.state) this.changes.push(`${this.state}>${to}`);
    this.state = to;
    this.generation++;
    this.run = 0;
    if (to === 'closed') this.outcomes = [];
    if (to === 'half-open') {
      this.probesOut = 0;
      this.probeSuccesses = 0;
    }
  }

  #open(): void {
    const d = this.cfg.openDuration;
    const ms =
      typeof d === 'number' ? d : Math.min(d.maxDelay, d.initialDelay * d.multiplier ** this.reopens);
    this.openUntil = this.clock.now() + ms;
    this.#go('open');
  }

  /** Reading `state`: an open breaker whose time is up turns half-open. */
  readState(): CircuitState {
    if (this.state === 'open' && this.clock.now() >= this.openUntil) this.#go('half-open');
    return this.state;
  }

  /** Returns whether the call is admitted. */
  acquire(): boolean {
    const now = this.clock.now();
    if (this.state === 'isolated') {
      this.lastRetryAfter = Number.POSITIVE_INFINITY;
      return false;
    }
    if (this.state === 'open') {
      if (now < this.openUntil) {
        this.lastRetryAfter = this.openUntil - now;
        return false;
      }
      this.#go('half-open');
    }
    if (this.state === 'half-open') {
      if (this.probesOut >= this.cfg.maxProbes) {
        this.lastRetryAfter = 0;
        return false;
      }
      this.probesOut++;
    }
    this.calls.push(this.generation);
    return true;
  }

  /** The window as it is now: which recorded outcomes still count. */
  #window(): Array<{ failure: boolean; slow: boolean }> {
    const w = this.cfg.window;
    if (w === undefined) return [];
    if (w.type === 'count') return this.outcomes.slice(-w.size);
    const bucketMs = w.durationMs / w.buckets;
    const bucket = (t: number) => Math.floor(t / bucketMs);
    const current = bucket(this.clock.now());
    return this.outcomes.filter((o) => current - bucket(o.at) < w.buckets);
  }

  #shouldOpen(): boolean {
    const cfg = this.cfg;
    if (cfg.consecutiveFailures > 0 && this.run >= cfg.consecutiveFailures) return true;
    const window = this.#window();
    if (cfg.window === undefined || window.length < cfg.minimumCalls) return false;
    const failures = window.filter((o) => o.failure).length;
    const slow = window.filter((o) => o.slow).length;
    if (failures / window.length >= cfg.failureRateThreshold) return true;
    return cfg.slowCall !== undefined && slow / window.length >= cfg.slowCall.rateThreshold;
  }

  /** Ends admitted call number `index` (of `calls`) with an outcome, or with no verdict. */
  end(index: number, outcome: Outcome | 'released'): void {
    const [generation] = this.calls.splice(index, 1);
    if (generation !== this.generation) return; // admitted under an earlier state
    if (outcome === 'released') {
      if (this.state === 'half-open') this.probesOut--;
      return;
    }
    const failure = outcome === 'failure' || outcome === 'slow-failure';
    const slow = this.cfg.slowCall !== undefined && (outcome === 'slow' || outcome === 'slow-failure');
    if (this.state === 'closed') {
      this.outcomes.push({ at: this.clock.now(), failure, slow });
      this.run = failure ? this.run + 1 : 0;
      if (this.#shouldOpen()) this.#open();
    } else if (this.state === 'half-open') {
      if (failure || slow) {
        this.reopens++;
        this.#open();
        return;
      }
      this.probesOut--;
      this.probeSuccesses++;
      if (this.probeSuccesses >= this.cfg.successThreshold) {
        this.reopens = 0;
        this.#go('closed');
      }
    }
  }

  isolate(): void {
    this.#go('isolated');
  }

  reset(): void {
    this.reopens = 0;
    this.#go('closed');
  }
}
