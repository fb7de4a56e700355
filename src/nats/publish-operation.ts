/**
 * One publish (or one stream lookup) as an operation of the engine: the publisher drives
 * it with its own handler rather than through `policy.execute`, so that telemetry can
 * record the subject as `messaging.destination.name`. The handler is a promise and the
 * attempt's function, as `execute` would make them; the attributes are read only when the
 * policy has an observer.
 *
 * @internal
 * @module
 */
import type { AttemptHandle } from '../engine/attempt.js';
import type { OperationHandler } from '../engine/handler.js';
import type { OperationAttributes } from '../engine/stages.js';
import type { AttemptContext, ExecuteOptions, Policy } from '../index.js';
import { runOperation } from '../policy.js';

const DESTINATION = 'messaging.destination.name';
/**
 * Subjects a publisher keeps attributes for. Subjects are the application's to choose,
 * and may carry an id (`orders.created.<id>`): past the cap, a publish carries none, so a
 * metric never has more than this many series per policy from one publisher.
 */
export const MAX_SUBJECTS = 100;

/** The `messaging.destination.name` attributes of one publisher's subjects, capped. */
export class SubjectAttributes {
  readonly #bySubject = new Map<string, OperationAttributes>();

  get(subject: string): OperationAttributes | undefined {
    let attributes = this.#bySubject.get(subject);
    if (attributes === undefined && this.#bySubject.size < MAX_SUBJECTS) {
      attributes = Object.freeze({ [DESTINATION]: subject });
      this.#bySubject.set(subject, attributes);
    }
    return attributes;
  }
}

/** Runs `attempt` through `policy` as `policy.execute(attempt, options)` would, for `subject`. */
export function runForSubject<T>(
  policy: Policy,
  attributes: SubjectAttributes,
  subject: string,
  attempt: (context: AttemptContext) => Promise<T>,
  options: ExecuteOptions,
): Promise<T> {
  const operation = new SubjectOperation(attributes, subject, attempt);
  runOperation(policy, operation, options);
  return operation.promise;
}

class SubjectOperation<T> implements OperationHandler<T> {
  readonly promise: Promise<T>;
  readonly #attributes: SubjectAttributes;
  readonly #subject: string;
  readonly #attempt: (context: AttemptContext) => Promise<T>;
  #resolve: (value: T) => void = noop;
  #reject: (error: unknown) => void = noop;

  constructor(
    attributes: SubjectAttributes,
    subject: string,
    attempt: (context: AttemptContext) => Promise<T>,
  ) {
    this.#attributes = attributes;
    this.#subject = subject;
    this.#attempt = attempt;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  get attributes(): OperationAttributes | undefined {
    return this.#attributes.get(this.#subject);
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
