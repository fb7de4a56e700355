/**
 * What an {@link HttpCall} knows of its request: the caller's options and body, whether
 * it may be repeated (retried or hedged) and with which idempotency key, and the options
 * each attempt is dispatched with. A base class rather than an object of its own, so that
 * a request stays one object.
 *
 * @internal
 * @module
 */
import type { AttemptContext, Policy } from '../index.js';
import { bodyKind, ITERATOR, REPLAYABLE, STREAM, streamUnread, TrackedBody } from './body.js';
import { CallerSignal } from './caller-signal.js';
import { repeatability } from './classify.js';
import { addHeaders, findHeader, type RequestHeaders } from './headers.js';
import { mayHedge } from './hedging.js';
import type { RequestSettings, ResolvedHttpOptions } from './options.js';

/** The request options the interceptor reads (a structural subset of undici's DispatchOptions). */
export interface DispatchOptionsLike {
  readonly method: string;
  readonly origin?: string | URL | undefined;
  readonly headers?: unknown;
  readonly body?: unknown;
}

/** A request's options and body, and how each attempt sends them. */
export abstract class RequestShape extends CallerSignal {
  readonly options: ResolvedHttpOptions;
  readonly settings: RequestSettings | undefined;
  readonly opts: DispatchOptionsLike;
  protected prepared = false;
  /** Whether the request may be repeated (decided on the first attempt). */
  protected repeatable = false;
  /** The number of the attempt dispatched last. */
  protected attemptNumber = 0;
  #keyHeader: string | undefined = undefined;
  readonly #body: unknown;
  readonly #bodyKind: number;

  constructor(
    options: ResolvedHttpOptions,
    settings: RequestSettings | undefined,
    opts: DispatchOptionsLike,
  ) {
    super();
    this.options = options;
    this.settings = settings;
    this.opts = opts;
    const kind = bodyKind(opts.body);
    this.#bodyKind = kind;
    this.#body = kind === ITERATOR ? new TrackedBody(opts.body as Iterable<unknown>) : opts.body;
  }

  /** Whether a request through a hedging policy may be hedged (see `repeatability`). */
  protected mayHedge(policy: Policy): boolean {
    if (this.#bodyKind !== REPLAYABLE) return false;
    const settings = this.settings;
    if (settings === undefined && this.options.methods.has(this.opts.method)) return true;
    return mayHedge(
      policy,
      String(this.opts.method),
      this.options,
      settings,
      () => findHeader(this.opts.headers as RequestHeaders, this.options.idempotencyHeader) !== undefined,
    );
  }

  /** Decides, on the first attempt, whether the request may be repeated and with which key. */
  protected prepare(ctx: AttemptContext): void {
    this.prepared = true;
    const settings = this.settings;
    if (settings === undefined && this.options.methods.has(this.opts.method)) {
      this.repeatable = true; // the common case (a GET), decided without allocating
      return;
    }
    const decided = repeatability(
      String(this.opts.method),
      this.options,
      settings?.idempotent,
      settings?.idempotencyKey,
      () => findHeader(this.opts.headers as RequestHeaders, this.options.idempotencyHeader) !== undefined,
      () => ctx.idempotencyKey,
    );
    this.repeatable = decided.repeatable;
    this.#keyHeader = decided.keyHeader;
  }

  /** The options for this attempt: the caller's, plus our headers and body wrapper. */
  protected attemptOptions(ctx: AttemptContext, now: number): DispatchOptionsLike {
    this.attemptNumber = ctx.attempt;
    const deadlineHeader = this.options.deadlineHeader;
    const sendDeadline = deadlineHeader !== undefined && ctx.attemptDeadline !== undefined;
    if (this.#keyHeader === undefined && !sendDeadline && this.#body === this.opts.body) return this.opts;
    const extra: [string, string][] = [];
    if (this.#keyHeader !== undefined) extra.push([this.options.idempotencyHeader, this.#keyHeader]);
    if (sendDeadline) {
      const left = Math.max(0, Math.floor((ctx.attemptDeadline as number) - now));
      extra.push([deadlineHeader, String(left)]);
    }
    const headers = this.opts.headers as RequestHeaders;
    const withExtra = extra.length === 0 ? headers : addHeaders(headers, extra);
    return { ...this.opts, headers: withExtra, body: this.#body };
  }

  protected bodyReplayable(): boolean {
    const kind = this.#bodyKind;
    if (kind === REPLAYABLE) return true;
    if (kind === STREAM) return streamUnread(this.#body);
    return !(this.#body as TrackedBody).consumed;
  }
}
