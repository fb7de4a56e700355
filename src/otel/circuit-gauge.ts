/**
 * The breakers behind `breakwater.circuit.state`: every breaker a policy with this
 * telemetry holds, observed when the metric reader collects (one series per state, 1 for
 * the current state and 0 for the others; for a keyed breaker, per key while the key is
 * tracked).
 *
 * @module
 */
import type { ObservableResult } from '@opentelemetry/api';
import type { CircuitBreaker, CircuitState } from '../breaker/circuit-breaker.js';
import type { KeyedCircuitBreaker } from '../breaker/keyed.js';
import type { ObservedPolicy } from '../engine/stages.js';
import { ATTR_CIRCUIT_KEY, ATTR_CIRCUIT_STATE, ATTR_POLICY, CIRCUIT_STATES } from './names.js';
import { STATE_VALUE } from './outcome.js';

interface Watched {
  readonly policy: string;
  /**
   * Held weakly: a policy (and its breaker) thrown away must not be kept alive, nor
   * reported for ever, by the telemetry it was built with.
   */
  readonly breaker: WeakRef<CircuitBreaker> | undefined;
  readonly keyed: WeakRef<KeyedCircuitBreaker> | undefined;
  /** The keys reported at the last collection ('' for a plain breaker). */
  reported: Set<string>;
}

/** @internal */
export class CircuitRegistry {
  #watched: Watched[] = [];

  /**
   * Watches the policy's breaker, if it has one. A breaker is watched once per policy name
   * (`policy.with()` shares the breaker and, unless renamed, the name).
   */
  watch(policy: ObservedPolicy): void {
    const { name, breaker, keyedBreaker } = policy;
    const target: object | undefined = breaker ?? keyedBreaker;
    if (target === undefined) return;
    for (const w of this.#watched) {
      if (w.policy === name && (w.breaker ?? w.keyed)?.deref() === target) return;
    }
    this.#watched.push({
      policy: name,
      breaker: breaker === undefined ? undefined : new WeakRef(breaker),
      keyed: breaker === undefined && keyedBreaker !== undefined ? new WeakRef(keyedBreaker) : undefined,
      reported: new Set(),
    });
  }

  /**
   * Reports every watched breaker's state. A key that is gone (dropped by the keyed
   * breaker, or its breaker collected) is reported once more with 0 for every state: an
   * SDK with cumulative temporality keeps a series' last value, and that value must not
   * say "closed" (or "open") for ever about a key that no longer exists.
   */
  observe(result: ObservableResult): void {
    const kept: Watched[] = [];
    for (const w of this.#watched) {
      const now = new Set<string>();
      const breaker = w.breaker?.deref();
      const keyed = w.keyed?.deref();
      if (breaker !== undefined) {
        observeState(result, w.policy, breaker.current, undefined);
        now.add('');
      } else if (keyed !== undefined) {
        for (const key of keyed.keys()) {
          const one = keyed.peek(key);
          if (one === undefined) continue;
          observeState(result, w.policy, one.current, key);
          now.add(key);
        }
      }
      for (const key of w.reported) {
        if (!now.has(key))
          observeState(result, w.policy, undefined, key === '' && w.keyed === undefined ? undefined : key);
      }
      w.reported = now;
      if (breaker !== undefined || keyed !== undefined) kept.push(w);
    }
    this.#watched = kept;
  }
}

/**
 * One series per state: 1 for `state`, 0 for the others (all 0 when `state` is undefined:
 * the breaker is gone). Read from `current`, not `state`: reading `state` may turn an open
 * breaker half-open (and emit a change), and collecting a metric must not change what it
 * measures. An open breaker whose open time is up shows as open until a call probes it.
 */
function observeState(
  result: ObservableResult,
  policy: string,
  state: CircuitState | undefined,
  key: string | undefined,
): void {
  const current = state === undefined ? undefined : STATE_VALUE[state];
  for (const value of CIRCUIT_STATES) {
    const attributes =
      key === undefined
        ? { [ATTR_POLICY]: policy, [ATTR_CIRCUIT_STATE]: value }
        : { [ATTR_POLICY]: policy, [ATTR_CIRCUIT_STATE]: value, [ATTR_CIRCUIT_KEY]: key };
    result.observe(value === current ? 1 : 0, attributes);
  }
}
