/**
 * `policy.execute` for an adapter whose operations carry telemetry attributes (the subject
 * of a publish, the method and host of a fetch): the same operation, whose observer gets
 * `source.get(first, second)`, asked only when the policy has an observer that records. A
 * policy of another copy of breakwater runs it through its public `execute`, without them.
 *
 * @internal
 * @module
 */
import { type AttributeSource, PolicyImpl } from './policy.js';
import type { AttemptContext, ExecuteOptions, Policy } from './types.js';

export type { AttributeSource } from './policy.js';

/** Runs `attempt` through `policy` as `policy.execute(attempt, options)` would. */
export function executeAttributed<T>(
  policy: Policy,
  source: AttributeSource,
  first: string,
  second: string | undefined,
  attempt: (context: AttemptContext) => Promise<T>,
  options: ExecuteOptions,
): Promise<T> {
  if (policy instanceof PolicyImpl) return policy.executeAttributed(attempt, options, source, first, second);
  return policy.execute(attempt, options);
}
