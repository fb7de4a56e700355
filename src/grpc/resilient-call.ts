/**
 * The per-call state behind the interceptor, and the `InterceptingCall` it returns: one
 * `ResilientCall` per gRPC call runs the call through the policy (it is the operation's
 * handler, see `OperationHandler`), and each attempt is a new call down the interceptor chain
 * (`nextCall`), so a retry is a fresh HTTP/2 stream with the same metadata and request.
 *
 * Nothing reaches the caller until the call commits: for unary calls when an attempt ends
 * OK, for server streaming at the first response message (or an OK end with none).
 * Until then response headers and the message are held, and the request is kept to be
 * replayed. Client-streaming and bidi calls are committed from the start and pass
 * straight through. A call's final OK is reported only once the policy has booked it.
 *
 * @internal
 * @module
 */
import type { EventEmitter } from 'node:events';
import {
  InterceptingCall,
  type InterceptingListener,
  type InterceptorOptions,
  type Metadata,
  type NextCall,
  propagate as Propagate,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import { LightSignal } from '../abort.js';
import { earliest } from '../deadline.js';
import type { AttemptHandle } from '../engine/attempt.js';
import type { OperationHandler } from '../engine/handler.js';
import { AttemptTimeoutError, DeadlineExceededError } from '../errors.js';
import { runOperation } from '../policy.js';
import { type AttemptOwner, AttemptRun, type ChildCall } from './attempt.js';
import type { MethodPlan } from './methods.js';
import { deadlineMs } from './propagation.js';
import { CallCancelledError, serviceError, statusFromError } from './status.js';

type MessageContext = Parameters<ChildCall['sendMessageWithContext']>[0];
type IncomingCall = NonNullable<InterceptorOptions['parent']>;

/** Metadata key of the operation's idempotency key, identical on every attempt. */
export const IDEMPOTENCY_KEY = 'idempotency-key';
/** Metadata key gRFC A6 defines for the number of attempts made before this one. */
export const PREVIOUS_ATTEMPTS = 'grpc-previous-rpc-attempts';
/** Timers fire late, and Node may run one a millisecond before Date.now() agrees. */
const DEADLINE_SLACK_MS = 5;

/**
 * What `InterceptingCall`'s constructor is given as the next call. ResilientCall
 * overrides every method of the call interface, so nothing of InterceptingCall's own
 * machinery (and so this object) is ever used; should a grpc-js version call a method
 * ResilientCall does not override, the call fails loudly instead of doing nothing.
 */
const UNREACHABLE: ChildCall = {
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

/** How far a call got (see `ResilientCall.#phase`). */
type CallPhase = 'open' | 'committed' | 'done';

/** A listener method the caller left out. */
const ignore = (): void => {};

/**
 * The call the interceptor returns. It is an `InterceptingCall`, as grpc-js's
 * `Interceptor` type asks, but implements every method itself rather than through a
 * requester and a next call: wrapping it in an InterceptingCall of its own would add a
 * layer (an object, three bound listener functions and a closure per operation) to every
 * call.
 *
 * @internal
 */
export class ResilientCall
  extends InterceptingCall
  implements ChildCall, AttemptOwner, OperationHandler<undefined>
{
  readonly #plan: MethodPlan;
  readonly #options: InterceptorOptions;
  readonly #next: NextCall;
  readonly #signal = new LightSignal();
  #listener: InterceptingListener | undefined = undefined;
  #metadata: Metadata | undefined = undefined;
  /** Messages sent before the first attempt's call existed (it waited for a bulkhead). */
  #pending: [MessageContext, unknown][] | undefined = undefined;
  /**
   * Whether the request is kept for a retry (until the call commits). Only methods whose
   * request is one message are ever retried, so one field holds it.
   */
  #replay: boolean;
  #request: unknown = undefined;
  #hasRequest = false;
  #halfClosed = false;
  #readStarted = false;
  #run: AttemptRun | undefined = undefined;
  /**
   * How far the call got: `open` while attempts may still be retried (nothing reached
   * the caller), `committed` once an answer is flowing to the caller (client-streaming
   * and bidi calls start there), `done` once the caller heard the final status.
   */
  #phase: CallPhase = 'open';
  #parent: IncomingCall | undefined = undefined;
  /** Inside start(), while the policy admits the call (see `failed`). */
  #starting = false;
  #onParentCancelled: (() => void) | undefined = undefined;

  /** What telemetry records of the call (`rpc.method`): the method plan's, one per method. */
  get attributes(): MethodPlan['attributes'] {
    return this.#plan.attributes;
  }

  constructor(plan: MethodPlan, options: InterceptorOptions, next: NextCall) {
    super(UNREACHABLE);
    this.#plan = plan;
    this.#options = options;
    this.#next = next;
    this.#replay = plan.retries;
    // Client-streaming and bidi calls are never retried: pass everything straight through.
    if (plan.streamingRequest) this.#phase = 'committed';
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    // grpc-js's clients and InterceptingCalls pass a full listener; anyone else may not.
    this.#listener =
      listener !== undefined &&
      listener.onReceiveMetadata !== undefined &&
      listener.onReceiveMessage !== undefined &&
      listener.onReceiveStatus !== undefined
        ? (listener as InterceptingListener)
        : fullListener(listener);
    this.#metadata = metadata;
    const options = this.#options;
    let deadline = deadlineMs(options.deadline);
    const parent = options.parent;
    if (parent !== undefined && parent !== null) {
      // Propagation from the server call being handled (see callOptionsFrom): its
      // deadline bounds the whole operation, and its cancellation stops it. Attempts are
      // made without `parent`, so grpc-js does not add a listener to it per attempt.
      this.#parent = parent;
      const flags = options.propagate_flags ?? Propagate.DEFAULTS;
      if (flags & Propagate.DEADLINE) deadline = earliest(deadline, deadlineMs(parent.getDeadline()));
      if (flags & Propagate.CANCELLATION) {
        if (parent.cancelled) {
          this.#signal.abort(new CallCancelledError(Status.CANCELLED, 'Cancelled by parent call'));
        } else {
          this.#onParentCancelled = () => this.cancelWithStatus(Status.CANCELLED, 'Cancelled by parent call');
          (parent as EventEmitter).on('cancelled', this.#onParentCancelled);
        }
      }
    }
    const own = metadata.get(IDEMPOTENCY_KEY)[0];
    const plan = this.#plan;
    // The call is the operation's handler (startAttempt, succeeded, failed below): no
    // promise or closure per call on the success path.
    this.#starting = true;
    try {
      runOperation(plan.policy, this, {
        signal: this.#signal.asAbortSignal(),
        deadline,
        idempotencyKey: typeof own === 'string' && own.length > 0 ? own : undefined,
        key: plan.key(options),
        retryOn: plan.retryOn,
      });
    } finally {
      this.#starting = false;
    }
  }

  /** Starts one attempt: a new call down the chain, with the request replayed. */
  startAttempt(context: AttemptHandle): void {
    const previous = this.#run;
    if (previous !== undefined && !previous.ended) this.#abandon(previous, 'breakwater: attempt abandoned');
    const run = new AttemptRun(this, context);
    this.#run = run;
    const plan = this.#plan;
    const number = context.attempt;
    const base = this.#metadata as Metadata;
    if (number === 1 && context.idempotencyKey !== undefined && base.get(IDEMPOTENCY_KEY).length === 0) {
      base.set(IDEMPOTENCY_KEY, context.idempotencyKey);
    }
    let metadata = base;
    if (this.#replay) {
      // Every attempt gets its own copy: interceptors further down may add entries.
      metadata = base.clone();
      if (number > 1) metadata.set(PREVIOUS_ATTEMPTS, String(number - 1));
    }
    // A unary attempt's call deadline is the attempt's own (the server learns its budget);
    // a stream outlives its first message, so its call gets the operation's deadline and
    // the attempt timeout (time to the first message) is enforced here.
    const deadline = plan.streamingResponse ? context.deadline : context.attemptDeadline;
    let options = this.#options;
    if (this.#parent !== undefined || deadline !== undefined) {
      // Copied with Object.assign, not a spread: V8 spreads grpc-js's options object (itself
      // made by Object.assign) into a slow copy that slows down the rest of the call (the
      // "full policy" row of `npm run bench -- overhead`).
      const copy: InterceptorOptions = Object.assign({}, options);
      if (this.#parent !== undefined) {
        // The parent's deadline and cancellation were taken over in start(). Set to
        // undefined rather than deleted: a delete would make the copy slow again.
        (copy as { parent?: unknown }).parent = undefined;
        (copy as { propagate_flags?: unknown }).propagate_flags = undefined;
      }
      copy.deadline = deadline ?? Number.POSITIVE_INFINITY;
      options = copy;
    }
    const child = this.#next(options);
    run.child = child;
    if (
      plan.streamingResponse &&
      context.attemptDeadline !== undefined &&
      context.attemptDeadline !== deadline
    ) {
      run.onAbort = () => this.#abandon(run, 'breakwater: attempt timed out');
      context.signal.addEventListener('abort', run.onAbort, { once: true });
    }
    child.start(metadata, run);
    if (number === 1) {
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending !== undefined)
        for (const [messageContext, message] of pending)
          child.sendMessageWithContext(messageContext, message);
    } else if (this.#hasRequest) {
      child.sendMessage(this.#request);
    }
    if (this.#halfClosed) child.halfClose();
    if (this.#readStarted) child.startRead();
  }

  /**
   * The operation succeeded, and the policy has booked it (breaker, budget, bulkhead slot
   * released): now the caller hears the answer, so a call it makes from its callback
   * finds the slot free and the breaker up to date. A stream committed at its first
   * message was handed over already.
   */
  succeeded(): void {
    const run = this.#run;
    if (this.#phase === 'done' || run === undefined || run.final === undefined) return;
    this.#deliver(run, run.final);
  }

  /** The operation failed: report the last attempt's status, or breakwater's reason. */
  failed(error: unknown): void {
    if (this.#phase === 'done') return;
    if (this.#starting) {
      // Refused inside start() (an open breaker, a full bulkhead): the caller has no
      // handlers on its call object yet (a stream's 'error' listener), so tell it once
      // start() has returned, as grpc-js reports its own early failures.
      process.nextTick(() => this.failed(error));
      return;
    }
    const run = this.#run;
    if (run !== undefined && run.status !== undefined && error === run.error) {
      this.#deliver(run, run.status);
      return;
    }
    const status = statusFromError(error);
    if (run !== undefined && !run.ended) this.#abandon(run, status.details, status.code);
    if (!this.#plan.streamingResponse) this.#listener?.onReceiveMessage(null);
    this.#finish(status);
  }

  /** Cancels an attempt's call; whatever it reports later is ignored. */
  #abandon(run: AttemptRun, details: string, code: number = Status.CANCELLED): void {
    run.abandoned = true;
    run.detach();
    if (!run.ended) run.child?.cancelWithStatus(code, details);
  }

  /** Whether what `run` reports must be ignored. */
  #stale(run: AttemptRun): boolean {
    return run !== this.#run || run.abandoned || this.#phase === 'done' || this.#signal.aborted;
  }

  /**
   * Whether the policy stopped waiting for `run` (its attempt timeout or the deadline
   * fired) before the child call reported: then the policy has moved on, and a late
   * success must not be reported next to the retry or the error it started.
   */
  #givenUp(run: AttemptRun): boolean {
    const at = run.context.attemptDeadline;
    return at !== undefined && this.#plan.clock.now() >= at && run.context.signal.aborted;
  }

  attemptMetadata(run: AttemptRun, metadata: Metadata): void {
    if (this.#stale(run)) return;
    if (this.#phase === 'committed') this.#listener?.onReceiveMetadata(metadata);
    else run.metadata = metadata;
  }

  attemptMessage(run: AttemptRun, message: unknown): void {
    if (this.#stale(run)) return;
    const listener = this.#listener as InterceptingListener;
    if (this.#phase === 'committed') {
      listener.onReceiveMessage(message);
    } else if (!this.#plan.streamingResponse) {
      run.message = message;
      run.hasMessage = true;
    } else if (!this.#givenUp(run)) {
      // The first message of a stream: the commit point.
      this.#commit(run);
      if (run.metadata !== undefined) listener.onReceiveMetadata(run.metadata);
      listener.onReceiveMessage(message);
    }
  }

  attemptStatus(run: AttemptRun, status: StatusObject): void {
    run.ended = true;
    run.detach();
    if (this.#stale(run)) return;
    if (status.code === Status.OK) {
      if (run.settled) {
        // A stream past its commit point ends well.
        this.#finish(status);
      } else if (this.#phase === 'committed') {
        // A client-streaming or bidi call ends well; #succeeded reports it.
        run.final = status;
        run.resolve();
      } else if (!this.#givenUp(run)) {
        run.final = status;
        this.#commit(run);
      }
      return;
    }
    if (run.settled) {
      // A stream that failed after its first message: the policy is done with it already.
      this.#finish(status);
      return;
    }
    // The attempt failed. The policy books it (breaker, budget) and then either retries
    // or rejects, and #failed reports the status: the caller hears of the failure only
    // after the breaker has.
    const error = this.#attemptError(run, status);
    if (error === undefined) {
      const plain = serviceError(status);
      run.status = status;
      run.error = plain;
      run.reject(plain);
    } else {
      run.error = error;
      run.reject(error);
    }
  }

  /**
   * A DEADLINE_EXCEEDED that grpc-js (or the server) reported as the operation's
   * deadline or this attempt's timeout expired becomes breakwater's error for it, so the
   * outcome does not depend on which of two timers set for the same instant fired first.
   */
  #attemptError(run: AttemptRun, status: StatusObject): Error | undefined {
    if (status.code !== Status.DEADLINE_EXCEEDED) return undefined;
    const context = run.context;
    const now = this.#plan.clock.now();
    const deadline = context.deadline;
    if (deadline !== undefined && now >= deadline - DEADLINE_SLACK_MS) {
      return new DeadlineExceededError(deadline, { cause: serviceError(status) });
    }
    const at = context.attemptDeadline;
    const timeout = this.#plan.attemptTimeout;
    if (at !== undefined && at !== deadline && timeout !== undefined && now >= at - DEADLINE_SLACK_MS) {
      return new AttemptTimeoutError(timeout);
    }
    return undefined;
  }

  #commit(run: AttemptRun): void {
    this.#phase = 'committed';
    this.#replay = false;
    this.#request = undefined;
    run.detach();
    run.settled = true;
    run.resolve();
  }

  /** Hands an attempt's held response and its status to the caller. */
  #deliver(run: AttemptRun, status: StatusObject): void {
    const listener = this.#listener as InterceptingListener;
    if (run.metadata !== undefined) listener.onReceiveMetadata(run.metadata);
    if (run.hasMessage) listener.onReceiveMessage(run.message);
    this.#finish(status);
  }

  /** The call is over: report its status and release what it holds. */
  #finish(status: StatusObject): void {
    this.#phase = 'done';
    this.#replay = false;
    this.#request = undefined;
    this.#pending = undefined;
    if (this.#onParentCancelled !== undefined) {
      (this.#parent as EventEmitter | undefined)?.removeListener('cancelled', this.#onParentCancelled);
      this.#onParentCancelled = undefined;
    }
    this.#listener?.onReceiveStatus(status);
  }

  override cancelWithStatus(code: Status, details: string): void {
    if (this.#phase === 'done') return;
    const child = this.#run?.child;
    if (this.#phase === 'committed' && child !== undefined) {
      // Past the commit point the child's own status (CANCELLED) comes back up.
      child.cancelWithStatus(code, details);
      return;
    }
    // Stops the operation wherever it is (an attempt, a backoff wait, a bulkhead queue):
    // the policy books the attempt in flight as aborted, and `failed` then cancels its
    // call and reports the status.
    this.#signal.abort(new CallCancelledError(code, details));
  }

  override getPeer(): string {
    return this.#run?.child?.getPeer() ?? 'unknown';
  }

  override sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.#replay) {
      this.#request = message;
      this.#hasRequest = true;
    }
    const run = this.#run;
    if (run === undefined || run.child === undefined) {
      if (this.#pending === undefined) this.#pending = [];
      this.#pending.push([context, message]);
    } else if (!run.ended && !run.abandoned) {
      run.child.sendMessageWithContext(context, message);
    }
    // Otherwise the attempt is over; a retry replays the message.
  }

  override sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  override startRead(): void {
    this.#readStarted = true;
    const run = this.#run;
    if (run !== undefined && !run.ended && !run.abandoned) run.child?.startRead();
  }

  override halfClose(): void {
    this.#halfClosed = true;
    const run = this.#run;
    if (run !== undefined && !run.ended && !run.abandoned) run.child?.halfClose();
  }

  override getAuthContext(): ReturnType<ChildCall['getAuthContext']> {
    return this.#run?.child?.getAuthContext() ?? null;
  }
}

/** A listener with the methods `listener` lacks doing nothing. */
function fullListener(listener: Partial<InterceptingListener> | undefined): InterceptingListener {
  const onReceiveMetadata = listener?.onReceiveMetadata;
  const onReceiveMessage = listener?.onReceiveMessage;
  const onReceiveStatus = listener?.onReceiveStatus;
  return {
    onReceiveMetadata: onReceiveMetadata === undefined ? ignore : onReceiveMetadata.bind(listener),
    onReceiveMessage: onReceiveMessage === undefined ? ignore : onReceiveMessage.bind(listener),
    onReceiveStatus: onReceiveStatus === undefined ? ignore : onReceiveStatus.bind(listener),
  };
}
