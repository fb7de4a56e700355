/**
 * One attempt of a gRPC call, and the signal that stops an operation when its caller
 * cancels.
 *
 * @internal
 * @module
 */
import type { InterceptingListener, Metadata, NextCall, StatusObject } from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import type { AttemptHandle } from '../engine/attempt.js';
import type { ClientAttemptSpan } from '../engine/stages.js';
import { serviceError } from './status.js';

/** What `nextCall` returns: the rest of the chain for one attempt. */
export type ChildCall = ReturnType<NextCall>;

/** Receives what an attempt's child call reports (the call the attempt belongs to). */
export interface AttemptOwner {
  attemptMetadata(run: AttemptRun, metadata: Metadata): void;
  attemptMessage(run: AttemptRun, message: unknown): void;
  attemptStatus(run: AttemptRun, status: StatusObject): void;
}

/** One attempt: the listener of its child call, reporting its end to the policy. */
export class AttemptRun implements InterceptingListener {
  readonly #owner: AttemptOwner;
  readonly context: AttemptHandle;
  child: ChildCall | undefined = undefined;
  /** The metadata the attempt's call sends. */
  request: Metadata | undefined = undefined;
  /** The attempt's CLIENT span, when the operation is traced. */
  span: ClientAttemptSpan | undefined = undefined;
  /** Response headers, held until the call commits. */
  metadata: Metadata | undefined = undefined;
  /** A unary response, held until the status says OK. */
  message: unknown = undefined;
  hasMessage = false;
  /** An OK status, reported once the policy has booked the success. */
  final: StatusObject | undefined = undefined;
  /** The server's status, when the attempt failed with it unchanged. */
  status: StatusObject | undefined = undefined;
  error: unknown = undefined;
  /** The child call reported its status. */
  ended = false;
  /** Breakwater gave up on this attempt (it timed out, or the operation stopped). */
  abandoned = false;
  /** The attempt was reported a success at the commit point. */
  settled = false;
  /** Listener on the attempt's signal (server streaming with an attempt timeout). */
  onAbort: (() => void) | undefined = undefined;

  constructor(owner: AttemptOwner, context: AttemptHandle) {
    this.#owner = owner;
    this.context = context;
  }

  /** The attempt succeeded (the call committed); the policy books it. */
  resolve(): void {
    this.context.succeed(undefined);
  }

  /**
   * The call ended with `status`, not OK; `error` is breakwater's reading of it (the
   * deadline, the attempt timeout) or undefined (the server's status is the error). The
   * policy decides what comes next.
   */
  failed(status: StatusObject, error: Error | undefined): void {
    if (error === undefined) this.status = status;
    this.error = error ?? serviceError(status);
    this.context.fail(this.error);
  }

  onReceiveMetadata(metadata: Metadata): void {
    this.#owner.attemptMetadata(this, metadata);
  }

  onReceiveMessage(message: unknown): void {
    this.#owner.attemptMessage(this, message);
  }

  onReceiveStatus(status: StatusObject): void {
    // Every end of the attempt's call comes here, one breakwater cancelled included.
    this.span?.end(status.code, status.code === 0 ? undefined : status.details);
    this.#owner.attemptStatus(this, status);
  }

  /**
   * Whether the policy stopped waiting for this attempt (its attempt timeout or the
   * deadline fired) before the child call reported: then the policy has moved on, and a
   * late success must not be reported next to the retry or the error it started.
   */
  givenUp(clock: Clock): boolean {
    const at = this.context.attemptDeadline;
    return at !== undefined && clock.now() >= at && this.context.signal.aborted;
  }

  /** Stops listening to the attempt's signal. */
  detach(): void {
    if (this.onAbort !== undefined) {
      this.context.signal.removeEventListener('abort', this.onAbort);
      this.onAbort = undefined;
    }
  }
}

/** The attempt that failed with `error`: the latest, or one of a hedged call's `runs`. */
export function runOf(
  error: unknown,
  latest: AttemptRun | undefined,
  runs: readonly AttemptRun[] | undefined,
): AttemptRun | undefined {
  if (error === undefined) return undefined;
  if (latest !== undefined && latest.error === error) return latest;
  if (runs !== undefined) for (const other of runs) if (other.error === error) return other;
  return undefined;
}
