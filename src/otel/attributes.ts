/**
 * The attribute sets one policy records with, built once per combination and reused: a
 * policy's attributes plus the adapter's (`rpc.method`, `server.address`...) plus the
 * measurement's own (outcome, event). Adapters that pass the same attributes object for
 * the same method or origin get the same sets back.
 *
 * @module
 */
import type { Attributes } from '@opentelemetry/api';
import type { OperationAttributes } from '../engine/stages.js';
import {
  ATTR_ATTEMPT_OUTCOME,
  ATTR_ATTEMPT_RETRY,
  ATTR_EVENT,
  ATTR_OUTCOME,
  ATTR_POLICY,
  ATTR_RETRY_REFUSED_REASON,
  type AttemptOutcomeValue,
  type OperationOutcome,
  type PolicyEventValue,
} from './names.js';

/** @internal */
export class AttributeSets {
  /** The operation span's attributes at start: the policy's name and the adapter's. */
  readonly base: Attributes;
  readonly #cache = new Map<string, Attributes>();
  readonly #operations: { [outcome in OperationOutcome]?: Attributes } = {};
  readonly #firsts: { [outcome in AttemptOutcomeValue]?: Attributes } = {};
  readonly #retries: { [outcome in AttemptOutcomeValue]?: Attributes } = {};

  constructor(policy: string, adapter: OperationAttributes | undefined) {
    // The policy's name last, so an adapter cannot replace it.
    this.base = Object.freeze({ ...adapter, [ATTR_POLICY]: policy });
  }

  /** `breakwater.operation.duration`'s attributes. */
  operation(outcome: OperationOutcome): Attributes {
    // Read on every operation: a property per outcome, no key to build.
    let set = this.#operations[outcome];
    if (set === undefined) {
      set = Object.freeze({ ...this.base, [ATTR_OUTCOME]: outcome });
      this.#operations[outcome] = set;
    }
    return set;
  }

  /** `breakwater.attempt.duration`'s attributes. */
  attempt(outcome: AttemptOutcomeValue, retry: boolean): Attributes {
    const sets = retry ? this.#retries : this.#firsts;
    let set = sets[outcome];
    if (set === undefined) {
      set = Object.freeze({ ...this.base, [ATTR_ATTEMPT_OUTCOME]: outcome, [ATTR_ATTEMPT_RETRY]: retry });
      sets[outcome] = set;
    }
    return set;
  }

  /** `breakwater.events`' attributes; a refused retry also says why. */
  event(event: PolicyEventValue, reason?: string): Attributes {
    if (reason === undefined) return this.#get(`e${event}`, ATTR_EVENT, event);
    const key = `e${event}/${reason}`;
    let set = this.#cache.get(key);
    if (set === undefined) {
      set = Object.freeze({ ...this.base, [ATTR_EVENT]: event, [ATTR_RETRY_REFUSED_REASON]: reason });
      this.#cache.set(key, set);
    }
    return set;
  }

  #get(key: string, name: string, value: string): Attributes {
    let set = this.#cache.get(key);
    if (set === undefined) {
      set = Object.freeze({ ...this.base, [name]: value });
      this.#cache.set(key, set);
    }
    return set;
  }
}
