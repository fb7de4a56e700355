/**
 * The two faces of an {@link HttpCall}, one per handler API of undici 7:
 *
 * - legacy (`onConnect/onHeaders/onData/onComplete/onError`): what `request`, `stream`,
 *   `fetch` and Node's own fetch hand a dispatcher in undici 7 (wrapped by `compose` in a
 *   `WrapHandler` that speaks both). Speaking it on both sides costs nothing: undici's
 *   core speaks it too, so raw headers pass through unconverted.
 * - new (`onRequestStart/onResponseStart/onResponseData/onResponseEnd/onResponseError`):
 *   what undici's own interceptors pass on, and the only API of undici 8.
 *
 * A call speaks to the dispatcher below in the same API as its caller, so nothing is
 * translated on the way.
 *
 * @internal
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { ABANDONED, Attempt, type AttemptOwner, COMMITTED, PENDING } from './attempt.js';
import { parseRawHeaders, rawHeader, recordHeader } from './headers.js';
import type { RequestSettings } from './options.js';
import { type DispatchFn, type DispatchOptionsLike, HttpCall, type SharedState } from './retry-handler.js';
import type { ResponseHeaders } from './status-error.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type RawHeaders = Buffer[];
type RawControllerHeaders = Buffer[] | string[] | IncomingHttpHeaders | null;

const NO_HEADERS: RawHeaders = [];

/** An attempt speaking the legacy handler API. */
class LegacyAttempt extends Attempt implements Handler {
  readonly #caller: Handler;
  #abort: ((reason?: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #raw: RawHeaders = NO_HEADERS;
  #status = 0;
  #statusText = '';

  constructor(call: AttemptOwner, caller: Handler) {
    super(call);
    this.#caller = caller;
  }

  // undici may call it again when it replays a request at the head of a broken pipeline.
  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
    if (this.state === ABANDONED) abort(this.abortReason as Error);
  }

  onResponseStarted(): void {
    if (this.state === PENDING) this.#caller.onResponseStarted?.();
  }

  onHeaders(status: number, raw: RawHeaders, resume: () => void, statusText: string): boolean {
    if (this.state !== PENDING) return this.state !== ABANDONED;
    const caller = this.#caller;
    // 1xx: informational, not the response; the caller may want it (onInfo).
    if (status < 200) return caller.onHeaders?.(status, raw, resume, statusText) as boolean;
    this.#raw = raw;
    this.#resume = resume;
    this.#status = status;
    this.#statusText = statusText;
    if (this.call.head(this, status)) return caller.onHeaders?.(status, raw, resume, statusText) as boolean;
    return false; // held: undici pauses until we resume or abort
  }

  onData(chunk: Buffer): boolean {
    if (this.state === COMMITTED) return this.#caller.onData?.(chunk) as boolean;
    return this.otherData(chunk);
  }

  onComplete(trailers: string[] | null): void {
    if (this.state !== COMMITTED) {
      this.otherEnd(trailers);
      return;
    }
    this.endCommitted();
    this.#caller.onComplete?.(trailers);
  }

  onError(error: Error): void {
    if (this.state !== COMMITTED) {
      this.otherError(error);
      return;
    }
    this.breakCommitted(error);
    this.#caller.onError?.(error);
  }

  header(name: string): string | undefined {
    return rawHeader(this.#raw, name);
  }

  headerRecord(): ResponseHeaders {
    return parseRawHeaders(this.#raw);
  }

  resumeTransport(): void {
    this.#resume?.();
  }

  abortTransport(reason: unknown): void {
    this.#abort?.(reason as Error);
  }

  forwardHead(): boolean {
    const resume = this.#resume ?? noop;
    return this.#caller.onHeaders?.(this.#status, this.#raw, resume, this.#statusText) !== false;
  }

  forwardData(chunk: Buffer): void {
    this.#caller.onData?.(chunk);
  }

  forwardEnd(trailers: unknown): void {
    this.#caller.onComplete?.(trailers as string[] | null);
  }

  forwardError(error: unknown): void {
    this.#caller.onError?.(error as Error);
  }
}

/** A request whose caller speaks the legacy API. */
export class LegacyCall extends HttpCall {
  readonly #caller: Handler;

  constructor(
    shared: SharedState,
    settings: RequestSettings | undefined,
    dispatch: DispatchFn,
    opts: DispatchOptionsLike,
    caller: Handler,
  ) {
    super(shared, settings, dispatch, opts);
    this.#caller = caller;
  }

  protected newAttempt(): Attempt {
    return new LegacyAttempt(this, this.#caller);
  }

  protected callerStart(): void {
    this.#caller.onConnect?.(this.abortByCaller);
  }

  protected callerError(error: unknown): void {
    this.#caller.onError?.(error as Error);
  }
}

/** An attempt speaking the new handler API. */
class ModernAttempt extends Attempt implements Handler {
  readonly #caller: Handler;
  readonly #outer: CallController;
  #controller: Controller | undefined = undefined;
  #headers: IncomingHttpHeaders = {};
  #status = 0;
  #statusText: string | undefined = undefined;

  constructor(call: AttemptOwner, caller: Handler, outer: CallController) {
    super(call);
    this.#caller = caller;
    this.#outer = outer;
  }

  /** undici's controller of this attempt. */
  get transport(): Controller | undefined {
    return this.#controller;
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.state === ABANDONED) controller.abort(this.abortReason as Error);
  }

  onResponseStart(
    controller: Controller,
    status: number,
    headers: IncomingHttpHeaders,
    statusText?: string,
  ): void {
    this.#controller = controller;
    if (this.state !== PENDING) return;
    if (status < 200) {
      this.#caller.onResponseStart?.(this.#outer, status, headers, statusText);
      return;
    }
    this.#headers = headers;
    this.#status = status;
    this.#statusText = statusText;
    if (this.call.head(this, status))
      this.#caller.onResponseStart?.(this.#outer, status, headers, statusText);
    else controller.pause(); // held
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.state === COMMITTED) this.#caller.onResponseData?.(this.#outer, chunk);
    else if (!this.otherData(chunk)) controller.pause();
  }

  onResponseEnd(_controller: Controller, trailers: IncomingHttpHeaders): void {
    if (this.state !== COMMITTED) {
      this.otherEnd(trailers);
      return;
    }
    this.endCommitted();
    this.#caller.onResponseEnd?.(this.#outer, trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.state !== COMMITTED) {
      this.otherError(error);
      return;
    }
    this.breakCommitted(error);
    this.#caller.onResponseError?.(this.#outer, error);
  }

  header(name: string): string | undefined {
    return recordHeader(this.#headers as ResponseHeaders, name);
  }

  headerRecord(): ResponseHeaders {
    return { ...this.#headers } as ResponseHeaders;
  }

  resumeTransport(): void {
    this.#controller?.resume();
  }

  abortTransport(reason: unknown): void {
    this.#controller?.abort(reason as Error);
  }

  forwardHead(): boolean {
    this.#caller.onResponseStart?.(this.#outer, this.#status, this.#headers, this.#statusText);
    return !this.#outer.paused;
  }

  forwardData(chunk: Buffer): void {
    this.#caller.onResponseData?.(this.#outer, chunk);
  }

  forwardEnd(trailers: unknown): void {
    this.#caller.onResponseEnd?.(this.#outer, (trailers ?? {}) as IncomingHttpHeaders);
  }

  forwardError(error: unknown): void {
    this.#caller.onResponseError?.(this.#outer, error as Error);
  }
}

/**
 * The controller a new-API caller holds for the whole request, across attempts: pause and
 * resume reach the committed attempt, abort reaches the policy.
 */
class CallController implements Controller {
  readonly #call: ModernCall;
  #paused = false;

  constructor(call: ModernCall) {
    this.#call = call;
  }

  get aborted(): boolean {
    return this.#call.aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return (this.#call.reason as Error | undefined) ?? null;
  }

  get rawHeaders(): RawControllerHeaders {
    return this.#transport()?.rawHeaders ?? null;
  }

  get rawTrailers(): RawControllerHeaders {
    return this.#transport()?.rawTrailers ?? null;
  }

  pause(): void {
    this.#paused = true;
    this.#transport()?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#transport()?.resume();
  }

  abort(reason: Error): void {
    this.#call.abortByCaller(reason);
  }

  /** undici's controller of the attempt the caller is reading, if any. */
  #transport(): Controller | undefined {
    const current = this.#call.current;
    return current?.state === COMMITTED ? (current as ModernAttempt).transport : undefined;
  }
}

/** A request whose caller speaks the new API. */
export class ModernCall extends HttpCall {
  readonly #caller: Handler;
  readonly #controller: CallController = new CallController(this);

  constructor(
    shared: SharedState,
    settings: RequestSettings | undefined,
    dispatch: DispatchFn,
    opts: DispatchOptionsLike,
    caller: Handler,
  ) {
    super(shared, settings, dispatch, opts);
    this.#caller = caller;
  }

  protected newAttempt(): Attempt {
    return new ModernAttempt(this, this.#caller, this.#controller);
  }

  protected callerStart(): void {
    this.#caller.onRequestStart?.(this.#controller, undefined);
  }

  protected callerError(error: unknown): void {
    this.#caller.onResponseError?.(this.#controller, error as Error);
  }
}

function noop(): void {}
