/**
 * Idempotency keys: one per operation, identical on every attempt, so a server (or a
 * broker's duplicate window) can tell a retry from a new request.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';

/** Makes a new idempotency key: a random UUID (v4). */
export function newIdempotencyKey(): string {
  return randomUUID();
}
