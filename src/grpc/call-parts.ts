/**
 * The pieces of a resilient gRPC call that need none of its state: the placeholder next
 * call, the caller's listener completed, and how an attempt's end is read.
 *
 * @internal
 * @module
 */
import {
  type InterceptingListener,
  type InterceptorOptions,
  type Metadata,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import type { AttemptHandle } from '../engine/attempt.js';
import { AttemptTimeoutError, DeadlineExceededError } from '../errors.js';
import type { AttemptRun, ChildCall } from './attempt.js';
import { serviceError } from './status.js';

/** Timers fire late, and Node may run one a millisecond before Date.now() agrees. */
const DEADLINE_SLACK_MS = 5;

/** Metadata key gRFC A6 defines for the number of attempts made before this one. */
export const PREVIOUS_ATTEMPTS = 'grpc-previous-rpc-attempts';

/** A listener method the caller left out. */
const ignore = (): void => {};

/**
 * What `InterceptingCall`'s constructor is given as the next call. ResilientCall
 * overrides every method of the call interface, so nothing of InterceptingCall's own
 * machinery (and so this object) is ever used; should a grpc-js version call a method
 * ResilientCall does not override, the call fails loudly instead of doing nothing.
 */
export const UNREACHABLE: ChildCall = {
  cancelWithStatus: unreachable,
  getPeer: unreachable,
  start: unreachable,
  sendMessageWithContext: unreachable,
  sendMessage: unreachable,
  startRead: unreachable,
  halfClose: unreachable,
  getAuthContext: unreachable,
};
function unreachable(): never {
  throw new Error(
    'breakwater: this @grpc/grpc-js version calls an InterceptingCall method breakwater does not implement',
  );
}

/** Request stream operations, passed to an attempt's call. */
export const halfClose = (child: ChildCall): void => child.halfClose();
export const startRead = (child: ChildCall): void => child.startRead();

/** Whether an attempt's call still runs (neither ended nor given up). */
export function live(run: AttemptRun): boolean {
  return !run.ended && !run.abandoned;
}

/** What a hedged attempt's cancelled call tells the server. */
export function abandonDetails(reason: unknown): string {
  return reason instanceof AttemptTimeoutError
    ? 'breakwater: attempt timed out'
    : 'breakwater: attempt abandoned (another attempt answered, or the call ended)';
}

/** A listener with the methods `listener` lacks doing nothing. */
export function fullListener(listener: Partial<InterceptingListener> | undefined): InterceptingListener {
  // grpc-js's clients and InterceptingCalls pass a full listener; anyone else may not.
  if (
    listener !== undefined &&
    listener.onReceiveMetadata !== undefined &&
    listener.onReceiveMessage !== undefined &&
    listener.onReceiveStatus !== undefined
  ) {
    return listener as InterceptingListener;
  }
  const onReceiveMetadata = listener?.onReceiveMetadata;
  const onReceiveMessage = listener?.onReceiveMessage;
  const onReceiveStatus = listener?.onReceiveStatus;
  return {
    onReceiveMetadata: onReceiveMetadata === undefined ? ignore : onReceiveMetadata.bind(listener),
    onReceiveMessage: onReceiveMessage === undefined ? ignore : onReceiveMessage.bind(listener),
    onReceiveStatus: onReceiveStatus === undefined ? ignore : onReceiveStatus.bind(listener),
  };
}

/**
 * A DEADLINE_EXCEEDED that grpc-js (or the server) reported as the operation's
 * deadline or this attempt's timeout expired becomes breakwater's error for it, so the
 * outcome does not depend on which of two timers set for the same instant fired first.
 */
export function attemptError(
  context: AttemptHandle,
  status: StatusObject,
  now: number,
  timeout: number | undefined,
): Error | undefined {
  if (status.code !== Status.DEADLINE_EXCEEDED) return undefined;
  const deadline = context.deadline;
  if (deadline !== undefined && now >= deadline - DEADLINE_SLACK_MS) {
    return new DeadlineExceededError(deadline, { cause: serviceError(status) });
  }
  const at = context.attemptDeadline;
  if (at !== undefined && at !== deadline && timeout !== undefined && now >= at - DEADLINE_SLACK_MS) {
    return new AttemptTimeoutError(timeout);
  }
  return undefined;
}

/** Metadata key of the operation's idempotency key, identical on every attempt. */
export const IDEMPOTENCY_KEY = 'idempotency-key';

/**
 * The metadata an attempt sends: the call's own, with the idempotency key set on the first
 * attempt (unless the caller set one); when the request is kept for a replay, every attempt
 * gets its own copy, since interceptors further down may add entries.
 */
export function outgoingMetadata(base: Metadata, context: AttemptHandle, replay: boolean): Metadata {
  const number = context.attempt;
  if (number === 1 && context.idempotencyKey !== undefined && base.get(IDEMPOTENCY_KEY).length === 0) {
    base.set(IDEMPOTENCY_KEY, context.idempotencyKey);
  }
  return replay ? attemptMetadata(base, number) : base;
}

/** An attempt's own copy of the call's metadata, with the count of attempts before it. */
export function attemptMetadata(base: Metadata, attempt: number): Metadata {
  const metadata = base.clone();
  if (attempt > 1) metadata.set(PREVIOUS_ATTEMPTS, String(attempt - 1));
  return metadata;
}

/**
 * An attempt's call options: the call's, with the attempt's `deadline` (none: infinity)
 * and, when `dropParent`, without the parent call (its deadline and cancellation were taken
 * over by the operation).
 */
export function attemptOptions(
  options: InterceptorOptions,
  dropParent: boolean,
  deadline: number | undefined,
): InterceptorOptions {
  // Copied with Object.assign, not a spread: V8 spreads grpc-js's options object (itself
  // made by Object.assign) into a slow copy that slows down the rest of the call (the
  // "full policy" row of `npm run bench -- overhead`).
  const copy: InterceptorOptions = Object.assign({}, options);
  if (dropParent) {
    // Set to undefined rather than deleted: a delete would make the copy slow again.
    (copy as { parent?: unknown }).parent = undefined;
    (copy as { propagate_flags?: unknown }).propagate_flags = undefined;
  }
  copy.deadline = deadline ?? Number.POSITIVE_INFINITY;
  return copy;
}
