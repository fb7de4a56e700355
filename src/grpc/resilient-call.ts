/**
 * The per-call state behind the interceptor, and the `InterceptingCall` it returns: one
 * `ResilientCall` per gRPC call is the handler of its operation (`OperationHandler`);
 * each attempt is a new call down the chain (`nextCall`): a fresh HTTP/2 stream with the
 * same metadata and request. Nothing reaches the caller until the call commits (unary: an
 * attempt ends OK; server streaming: its first message); until then headers and message
 * are held and the request is kept for a replay. Client-streaming and bidi calls commit at
 * once. A final OK is reported only once the policy has booked it. With hedging, several
 * attempts run until one commits; the engine aborts the losers (their calls cancelled).
 *
 * @internal
 * @module
 */
import {
  InterceptingCall,
  type InterceptingListener,
  type InterceptorOptions,
  type Metadata,
  type NextCall,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import { LightSignal } from '../abort.js';
import type { AttemptHandle } from '../engine/attempt.js';
import type { OperationHandler } from '../engine/handler.js';
import type { OperationObserver } from '../engine/stages.js';
import { runOperation } from '../policy.js';
import { type AttemptOwner, AttemptRun, type ChildCall, runOf } from './attempt.js';
import { setMetadata } from './attempt-span.js';
import {
  abandonDetails,
  attemptError,
  attemptOptions,
  fullListener,
  halfClose,
  IDEMPOTENCY_KEY,
  live,
  outgoingMetadata,
  startRead,
  UNREACHABLE,
} from './call-parts.js';
import type { MethodPlan } from './methods.js';
import { deadlineMs, ParentLink } from './propagation.js';
import { type MessageContext, RequestTape } from './request.js';
import { CallCancelledError, statusFromError } from './status.js';

export { IDEMPOTENCY_KEY } from './call-parts.js';

/** How far a call got (see `ResilientCall.#phase`). */
type CallPhase = 'open' | 'committed' | 'done';

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
  readonly #tape: RequestTape;
  /** The latest attempt, or the one that won (a hedged call sets it at its commit point). */
  #run: AttemptRun | undefined = undefined;
  /**
   * Every attempt of a hedged call (several run at once until one commits); undefined
   * unless the call's policy hedges.
   */
  #runs: AttemptRun[] | undefined = undefined;
  /**
   * How far the call got: `open` while attempts may still be retried (nothing reached
   * the caller), `committed` once an answer is flowing to the caller (client-streaming
   * and bidi calls start there), `done` once the caller heard the final status.
   */
  #phase: CallPhase = 'open';
  #parent: ParentLink | undefined = undefined;
  /** Inside start(), while the policy admits the call (see `failed`). */
  #starting = false;
  /** The operation's observer, when one records (telemetry): it opens each attempt's span. */
  #observer: OperationObserver | undefined = undefined;

  /** What telemetry records of the call (`rpc.method`): the method plan's, one per method. */
  get attributes(): MethodPlan['attributes'] {
    return this.#plan.attributes;
  }

  observed(observer: OperationObserver): void {
    this.#observer = observer;
  }

  constructor(plan: MethodPlan, options: InterceptorOptions, next: NextCall) {
    super(UNREACHABLE);
    this.#plan = plan;
    this.#options = options;
    this.#next = next;
    this.#tape = new RequestTape(plan.retries);
    // Client-streaming and bidi calls are never retried: pass everything straight through.
    if (plan.streamingRequest) this.#phase = 'committed';
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.#listener = fullListener(listener);
    this.#metadata = metadata;
    const options = this.#options;
    let deadline = deadlineMs(options.deadline);
    const parent = options.parent;
    if (parent !== undefined && parent !== null) {
      // Propagation from the server call being handled (see callOptionsFrom).
      const link = new ParentLink(parent, options.propagate_flags, () =>
        this.cancelWithStatus(Status.CANCELLED, 'Cancelled by parent call'),
      );
      this.#parent = link;
      deadline = link.bound(deadline);
    }
    const own = metadata.get(IDEMPOTENCY_KEY)[0];
    const plan = this.#plan;
    const ownKey = typeof own === 'string' && own.length > 0 ? own : undefined;
    let policy = plan.policy;
    if (plan.unhedged !== undefined && ownKey === undefined) {
      // A method that is not idempotent, called without a key: never hedged (one attempt).
      policy = plan.unhedged;
      this.#tape.replay = false;
    } else if (plan.hedged) {
      this.#runs = [];
    }
    // The call is the operation's handler (startAttempt, succeeded, failed below): no
    // promise or closure per call on the success path.
    this.#starting = true;
    try {
      runOperation(policy, this, {
        signal: this.#signal.asAbortSignal(),
        deadline,
        idempotencyKey: ownKey,
        key: plan.key(options),
        retryOn: plan.retryOn,
      });
    } finally {
      this.#starting = false;
    }
  }

  /** Starts one attempt: a new call down the chain, with the request replayed. */
  startAttempt(context: AttemptHandle): void {
    const runs = this.#runs;
    const previous = this.#run;
    // Without hedging a new attempt supersedes the last one; a hedge runs beside the others,
    // and the engine aborts the losers' signals when the operation settles.
    if (runs === undefined && previous !== undefined && !previous.ended) {
      this.#abandon(previous, 'breakwater: attempt abandoned');
    }
    const run = new AttemptRun(this, context);
    this.#run = run;
    runs?.push(run);
    run.request = outgoingMetadata(this.#metadata as Metadata, context, this.#tape.replay);
    // Traced: the attempt is a CLIENT span of its own, whose context goes to the server
    // and is active while the call down the chain starts (see OperationObserver.clientAttempt).
    const spans = this.#plan.attemptSpans;
    const span =
      spans === undefined
        ? undefined
        : this.#observer?.clientAttempt?.(context.attempt, spans.for(this.#options));
    run.span = span;
    if (span === undefined) this.#send(run);
    else span.run(this.#send, this, run);
  }

  #send(run: AttemptRun): void {
    const { context } = run;
    run.span?.inject(run.request as Metadata, setMetadata);
    const plan = this.#plan;
    // A unary attempt's call deadline is the attempt's own (the server learns its budget);
    // a stream outlives its first message, so its call gets the operation's deadline and
    // the attempt timeout (time to the first message) is enforced here.
    const deadline = plan.streamingResponse ? context.deadline : context.attemptDeadline;
    const hasParent = this.#parent !== undefined;
    const options =
      hasParent || deadline !== undefined
        ? attemptOptions(this.#options, hasParent, deadline)
        : this.#options;
    const child = this.#next(options);
    run.child = child;
    if (this.#runs !== undefined) {
      // A hedged attempt's call is cancelled when its signal aborts: it lost to another
      // attempt, timed out, or the operation ended without it. Only hedged calls listen,
      // so the common path adds no listener.
      run.onAbort = () => this.#abandon(run, abandonDetails(context.signal.reason));
      context.signal.addEventListener('abort', run.onAbort, { once: true });
    } else if (
      plan.streamingResponse &&
      context.attemptDeadline !== undefined &&
      context.attemptDeadline !== deadline
    ) {
      run.onAbort = () => this.#abandon(run, 'breakwater: attempt timed out');
      context.signal.addEventListener('abort', run.onAbort, { once: true });
    }
    child.start(run.request as Metadata, run);
    this.#tape.replayTo(child, context.attempt === 1);
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
    const run = runOf(error, this.#run, this.#runs);
    if (run !== undefined && run.status !== undefined) {
      this.#deliver(run, run.status);
      return;
    }
    const status = statusFromError(error);
    const latest = this.#run;
    if (latest !== undefined && !latest.ended) this.#abandon(latest, status.details, status.code);
    // A hedged call's other attempts were cancelled already: the engine aborted their signals.
    if (!this.#plan.streamingResponse) this.#listener?.onReceiveMessage(null);
    this.#finish(status);
  }

  /** Cancels an attempt's call; whatever it reports later is ignored. */
  #abandon(run: AttemptRun, details: string, code: number = Status.CANCELLED): void {
    if (run.abandoned) return;
    run.abandoned = true;
    run.detach();
    if (run.ended) return;
    run.span?.end(code, details); // now, when given up: not when grpc-js reports back
    run.child?.cancelWithStatus(code, details);
  }

  /** Whether what `run` reports must be ignored. */
  #stale(run: AttemptRun): boolean {
    if (run.abandoned || this.#phase === 'done' || this.#signal.aborted) return true;
    // Hedged attempts run side by side until one commits; then only the winner counts.
    return run !== this.#run && (this.#runs === undefined || this.#phase !== 'open');
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
    } else if (!run.givenUp(this.#plan.clock)) {
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
      } else if (!run.givenUp(this.#plan.clock)) {
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
    run.failed(status, attemptError(run.context, status, this.#plan.clock.now(), this.#plan.attemptTimeout));
  }

  #commit(run: AttemptRun): void {
    this.#run = run;
    this.#phase = 'committed';
    this.#tape.release();
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
    this.#tape.release();
    this.#parent?.unlink();
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
    const run = this.#run;
    // Held for the first attempt's call while none exists; once an attempt is over, a
    // retry replays it. (Not through #forward: no closure per message.)
    this.#tape.record(context, message, run?.child === undefined);
    if (run?.child === undefined) return;
    if (this.#runs !== undefined && this.#phase === 'open') {
      for (const other of this.#runs) if (live(other)) other.child?.sendMessageWithContext(context, message);
    } else if (live(run)) {
      run.child.sendMessageWithContext(context, message);
    }
  }

  override sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  override startRead(): void {
    this.#tape.readStarted = true;
    this.#forward(startRead);
  }

  override halfClose(): void {
    this.#tape.halfClosed = true;
    this.#forward(halfClose);
  }

  /**
   * Passes a request stream operation on: to every attempt still running of a hedged call
   * that has not committed, else to the latest attempt while it runs (a retry replays it).
   */
  #forward(op: (child: ChildCall) => void): void {
    const runs = this.#runs;
    if (runs !== undefined && this.#phase === 'open') {
      for (const run of runs) if (live(run) && run.child !== undefined) op(run.child);
      return;
    }
    const run = this.#run;
    if (run?.child !== undefined && live(run)) op(run.child);
  }

  override getAuthContext(): ReturnType<ChildCall['getAuthContext']> {
    return this.#run?.child?.getAuthContext() ?? null;
  }
}
