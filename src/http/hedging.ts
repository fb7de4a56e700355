/**
 * Which requests a hedging policy may hedge, shared by `httpInterceptor` and
 * `resilientFetch`. A hedge sends a request again while the first is still running, so
 * only a request that may be repeated (the rule retries follow, see `repeatability`) and
 * whose body can be sent twice at once is hedged. Any other request runs through a
 * single-attempt copy of the policy: the same breaker, bulkhead, deadline and listeners,
 * no hedge and no retry.
 *
 * @internal
 * @module
 */
import type { Policy } from '../index.js';
import { repeatability } from './classify.js';
import type { RequestSettings, ResolvedHttpOptions } from './options.js';

/** Single-attempt copies of hedging policies, made once per policy. */
const singles = new WeakMap<Policy, Policy>();

/** `policy` with one attempt: no hedge, no retry. */
export function singleAttempt(policy: Policy): Policy {
  let single = singles.get(policy);
  if (single === undefined) {
    single = policy.with({ hedge: false, retry: false });
    singles.set(policy, single);
  }
  return single;
}

/**
 * Whether a request through the hedging `policy` may be hedged: its method may be
 * repeated (GET, PUT, ...), or it has an idempotency key (its own header, the request's
 * `idempotencyKey`, or the policy's `idempotency`), and `idempotent: false` was not set.
 */
export function mayHedge(
  policy: Policy,
  method: string,
  options: ResolvedHttpOptions,
  settings: RequestSettings | undefined,
  hasKeyHeader: () => boolean,
): boolean {
  const ownKey = settings?.idempotencyKey;
  const keyed = ownKey !== undefined || policy.config.generateKey !== undefined;
  return repeatability(method, options, settings?.idempotent, ownKey, hasKeyHeader, () =>
    keyed ? 'key' : undefined,
  ).repeatable;
}
