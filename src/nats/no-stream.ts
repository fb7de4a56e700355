/**
 * The error a publish rejects with when no JetStream stream captures its subject: the
 * publisher's stream lookup asked the server and learned that no stream holds it, so a
 * publish could only end in "no responders". It fails at once, before anything is sent,
 * instead of retrying into a stream that is not there.
 *
 * @module
 */
import { BreakwaterError } from '../errors.js';

/**
 * No JetStream stream captures the subject (or no stream has the name the caller gave).
 * Thrown before anything is published, and never retried. `code`: `BREAKWATER_NO_STREAM`.
 */
export class NoStreamError extends BreakwaterError {
  /** The subject of the publish. */
  readonly subject: string;
  /** The stream name the publish named (option `stream`), if any: no stream has that name. */
  readonly stream: string | undefined;

  constructor(subject: string, stream?: string, options?: { cause?: unknown }) {
    super('BREAKWATER_NO_STREAM', noStreamMessage(subject, stream), options);
    this.subject = subject;
    this.stream = stream;
  }
}
Object.defineProperty(NoStreamError.prototype, 'name', {
  value: 'NoStreamError',
  writable: true,
  configurable: true,
});

function noStreamMessage(subject: string, stream: string | undefined): string {
  const quoted = JSON.stringify(subject);
  if (stream !== undefined) {
    return (
      `No JetStream stream named ${JSON.stringify(stream)} (publishing to ${quoted}); nothing was ` +
      'published. Create the stream, or fix the stream name given to the publisher or the publish'
    );
  }
  return (
    `No JetStream stream captures the subject ${quoted}; nothing was published. Create a stream ` +
    `whose subjects include it (e.g. subjects: [${quoted}] or a wildcard such as "orders.>"), or ` +
    'publish to a subject a stream holds'
  );
}
