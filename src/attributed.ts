/**
 * `policy.execute` for an adapter whose operations carry telemetry attributes: the same
 * operation (one promise, the attempt's function run on every attempt), driven by a handler
 * that tells the policy's observer what the adapter knows (the subject of a publish, the
 * method and host of a fetch). The attributes are looked up only when the policy has an
 * observer that records; no public option is involved.
 *
 * @internal
 * @module
 */
import type { AttemptHandle } from './engine/attempt.js';
import type { OperationHandler } from './engine/handler.js';
import type { OperationAttributes } from './engine/stages.js';
import { runOperation } from './policy.js';
import type { AttemptContext, ExecuteOptions, Policy } from './types.js';

/** Where an adapter's attributes come from: a bounded cache, asked with up to two strings. */
export interface AttributeSource {
  get(first: string, second: string | undefined): OperationAttributes | undefined;
}

/**
 * Runs `attempt` through `policy` as `policy.execute(attempt, options)` would; an observer
 * gets `source.get(first, second)` as the operation's attributes.
 */
export function executeAttributed<T>(
  policy: Policy,
  source: AttributeSource,
  first: string,
  second: string | undefined,
  attempt: (context: AttemptContext) => Promise<T>,
  options: ExecuteOptions,
): Promise<T> {
  const operation = new AttributedOperation(source, first, second, attempt);
  runOperation(policy, operation, options);
  return operation.promise;
}

class AttributedOperation<T> implements OperationHandler<T> {
  readonly promise: Promise<T>;
  readonly #source: AttributeSource;
  readonly #first: string;
  readonly #second: string | undefined;
  readonly #attempt: (context: AttemptContext) => Promise<T>;
  #resolve: (value: T) => void = noop;
  #reject: (error: unknown) => void = noop;

  constructor(
    source: AttributeSource,
    first: string,
    second: string | undefined,
    attempt: (context: AttemptContext) => Promise<T>,
  ) {
    this.#source = source;
    this.#first = first;
    this.#second = second;
    this.#attempt = attempt;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  get attributes(): OperationAttributes | undefined {
    return this.#source.get(this.#first, this.#second);
  }

  startAttempt(attempt: AttemptHandle<T>): void {
    this.#attempt(attempt).then(
      (value) => attempt.succeed(value),
      (error: unknown) => attempt.fail(error),
    );
  }

  succeeded(value: T): void {
    this.#resolve(value);
  }

  failed(error: unknown): void {
    this.#reject(error);
  }
}

function noop(): void {}
