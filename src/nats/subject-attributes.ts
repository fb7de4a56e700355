/**
 * What telemetry records of a publish: its subject, as `messaging.destination.name`. A
 * publish runs through `executeAttributed` (src/attributed.ts), which asks for it only
 * when the policy has an observer that records.
 *
 * @internal
 * @module
 */
import type { OperationAttributes } from '../engine/stages.js';

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
