/**
 * `resilientFetch(policy)`: a fetch-compatible function that runs every call through a
 * policy, for code that never touches dispatchers. It wraps any fetch (Node's global one
 * by default) and needs no undici install.
 *
 * @module
 */

import { executeAttributed } from '../attributed.js';
import type { AttemptContext, ExecuteOptions, Policy, RetryDecision } from '../index.js';
import { invalid, obj } from '../validate.js';
import { HttpAttributes } from './attributes.js';
import { bodyKind, ITERATOR, REPLAYABLE, STREAM, streamUnread, TrackedBody } from './body.js';
import { classifyHttpFailure, repeatability, wantsRetry } from './classify.js';
import { drain, headerRecord, isRequest, noop, origin } from './fetch-parts.js';
import { mayHedge, singleAttempt } from './hedging.js';
import { checkPolicy } from './interceptor.js';
import {
  HTTP_OPTION_KEYS,
  type HttpOptions,
  type HttpRequestOptions,
  RETRYABLE,
  type RequestSettings,
  type ResolvedHttpOptions,
  resolveHttpOptions,
  resolveRequestOptions,
  SUCCESS,
} from './options.js';
import { parseRetryAfter } from './retry-after.js';
import { HttpStatusError } from './status-error.js';

/** A fetch function, as `globalThis.fetch` or undici's `fetch`. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of {@link resilientFetch}. Each may be overridden per call (`init.breakwater`). */
export interface ResilientFetchOptions extends HttpOptions {
  /**
   * The fetch to call for each attempt (undici's `fetch`, a mock, a traced fetch).
   * @default globalThis.fetch, looked up on every call
   */
  fetch?: FetchLike | undefined;
}

/** `RequestInit` plus breakwater's per-call options. */
export interface ResilientFetchInit extends RequestInit {
  /**
   * breakwater's options for this call; they override those of {@link resilientFetch}.
   * Never passed on to fetch.
   * @default undefined (the options of resilientFetch)
   */
  breakwater?: HttpRequestOptions | undefined;
}

/** The function {@link resilientFetch} returns: fetch's signature, breakwater inside. */
export type ResilientFetch = (input: string | URL | Request, init?: ResilientFetchInit) => Promise<Response>;

/**
 * Wraps fetch in `policy`: the same rules as `httpInterceptor` (what is retried, keys,
 * `Retry-After`, deadline, breaker per origin), with fetch's face.
 *
 * - When retrying stops on a status, it resolves with that `Response`, as fetch would.
 *   Other failures reject with fetch's own error, or a `BreakwaterError`.
 * - The deadline, the attempt timeout and the caller's `signal` abort the attempt in
 *   flight. They cover each attempt up to its response head (when fetch resolves);
 *   reading the body is the caller's business, still under the caller's own `signal`.
 * - Bodies held in memory (string, ArrayBuffer, typed arrays, Blob, URLSearchParams,
 *   FormData) are sent again; a `Request` with a body is replayed from `request.clone()`;
 *   a `ReadableStream` or async iterable body is retried only while unread.
 *
 * @param policy - the policy every call runs through
 * @param options - what to retry, which headers to send, and which fetch to wrap
 * @returns a function with fetch's signature
 * @throws InvalidOptionsError at once, naming the option, when an option is invalid
 *
 * @example
 * ```ts
 * import { policy } from 'breakwater';
 * import { resilientFetch } from 'breakwater/http';
 *
 * const fetchWithPolicy = resilientFetch(policy({ deadline: 2_000, idempotency: true }));
 * const res = await fetchWithPolicy('http://127.0.0.1:8080/orders', {
 *   method: 'POST',
 *   body: JSON.stringify({ sku: 'A-1' }),
 *   headers: { 'content-type': 'application/json' },
 * });
 * if (!res.ok) throw new Error(`orders answered ${res.status}`);
 * ```
 */
export function resilientFetch(policy: Policy, options?: ResilientFetchOptions): ResilientFetch {
  checkPolicy(policy, 'resilientFetch(policy)');
  const o = obj<ResilientFetchOptions>('', options, [...HTTP_OPTION_KEYS, 'fetch']) ?? {};
  const { fetch: own, ...shared } = o;
  if (own !== undefined && typeof own !== 'function') invalid('fetch', 'a function', own);
  const resolved = resolveHttpOptions(shared, '');
  const impl: FetchLike = own ?? ((input, init) => globalThis.fetch(input, init));
  const attributes = new HttpAttributes();
  return (input, init) => {
    try {
      return new FetchCall(policy, resolved, impl, input, init).run(attributes);
    } catch (error) {
      return Promise.reject(error); // like fetch: bad arguments reject, never throw
    }
  };
}

interface Outcome {
  readonly response: Response;
  readonly error: HttpStatusError;
}

/** One call of a resilient fetch. */
class FetchCall {
  /** The policy (a single-attempt copy when a hedging policy may not hedge this request). */
  #policy: Policy;
  readonly #options: ResolvedHttpOptions;
  readonly #settings: RequestSettings | undefined;
  readonly #fetch: FetchLike;
  readonly #input: string | URL | Request;
  readonly #init: RequestInit | undefined;
  readonly #request: Request | undefined;
  readonly #callerSignal: AbortSignal | undefined;
  #bodyKind: number = REPLAYABLE;
  #body: unknown = undefined;
  #prepared = false;
  #repeatable = false;
  #keyHeader: string | undefined = undefined;
  #attempt = 0;
  /** A retryable status, kept while the policy decides. */
  #held: Outcome | undefined = undefined;
  /** The response the caller gets when retrying stops on its status. */
  #final: Outcome | undefined = undefined;
  #committed = false;
  /** Several attempts run at once (the policy hedges); their retryable statuses are all held. */
  #hedged = false;
  #heldAll: Outcome[] | undefined = undefined;

  constructor(
    policy: Policy,
    options: ResolvedHttpOptions,
    fetch: FetchLike,
    input: string | URL | Request,
    init: ResilientFetchInit | undefined,
  ) {
    this.#policy = policy;
    this.#fetch = fetch;
    this.#input = input;
    this.#request = isRequest(input) ? input : undefined;
    let settings: RequestSettings | undefined;
    if (init?.breakwater !== undefined) {
      const { breakwater, ...rest } = init;
      settings = resolveRequestOptions(options, breakwater, 'breakwater');
      this.#init = rest;
    } else {
      this.#init = init;
    }
    this.#settings = settings;
    this.#options = settings?.options ?? options;
    this.#callerSignal = this.#init?.signal ?? this.#request?.signal ?? undefined;
    const body = this.#init?.body;
    if (body !== undefined && body !== null) {
      this.#bodyKind = bodyKind(body);
      this.#body =
        this.#bodyKind === ITERATOR ? new TrackedBody(body as unknown as AsyncIterable<unknown>) : body;
    }
  }

  /** Runs the call; telemetry gets its method and host from `attributes`. */
  run(attributes: HttpAttributes): Promise<Response> {
    const settings = this.#settings;
    if (this.#policy.config.hedge !== undefined) {
      // Hedged only when the request may be repeated and its body sent twice at once.
      const hedge =
        this.#bodyKind === REPLAYABLE &&
        mayHedge(this.#policy, this.#method(), this.#options, settings, () =>
          this.#baseHeaders().has(this.#options.idempotencyHeader),
        );
      if (hedge) this.#hedged = true;
      else this.#policy = singleAttempt(this.#policy);
    }
    const at = origin(this.#input);
    const options: ExecuteOptions = {
      signal: this.#callerSignal,
      retryOn: this.#retryOn,
      key: settings?.key ?? at,
      deadline: settings?.deadline,
      idempotencyKey: settings?.idempotencyKey,
    };
    const method = this.#init?.method ?? this.#request?.method ?? 'GET';
    return executeAttributed(this.#policy, attributes, method, at, this.#run, options).then(
      this.#finished,
      this.#failed,
    );
  }

  readonly #run = async (ctx: AttemptContext): Promise<Response> => {
    if (!this.#hedged) this.#drainHeld();
    this.#attempt = ctx.attempt;
    if (!this.#prepared) this.#prepare(ctx);
    // A hedged attempt listens to its signal: it aborts when the attempt loses.
    const timed = ctx.attemptDeadline !== undefined || this.#hedged;
    // ctx.signal aborts on the deadline, the attempt timeout and the caller's abort; it is
    // created on first read, so read it only when it can fire before the caller's own.
    const attemptSignal = timed ? ctx.signal : undefined;
    const caller = this.#callerSignal;
    const signal =
      attemptSignal === undefined
        ? caller
        : caller === undefined
          ? attemptSignal
          : AbortSignal.any([caller, attemptSignal]); // the body stays under the caller's signal
    const response = await this.#fetch(this.#attemptInput(), this.#attemptInit(ctx, signal));
    if (attemptSignal?.aborted === true) {
      // The policy gave up on this attempt while fetch was resolving.
      void response.body?.cancel().catch(noop);
      throw attemptSignal.reason;
    }
    const status = response.status;
    const kind = status < 600 ? (this.#options.statusKinds[status] as number) : SUCCESS;
    if (kind === SUCCESS) {
      this.#committed = true;
      return response;
    }
    const now = this.#policy.config.clock.now();
    const headers = headerRecord(response.headers);
    const error = new HttpStatusError(
      status,
      headers,
      parseRetryAfter(response.headers.get('retry-after'), now),
    );
    if (this.#hedged) {
      // A retryable status is held while the other attempts run (the first one held is the
      // caller's if all fail); any other failure status is final.
      const outcome = { response, error };
      if (kind !== RETRYABLE) {
        this.#committed = true;
        this.#final = outcome;
      } else if (this.#heldAll === undefined) this.#heldAll = [outcome];
      else this.#heldAll.push(outcome);
    } else if (kind === RETRYABLE && this.#mayRepeat() && this.#attempt < this.#policy.config.maxAttempts) {
      this.#held = { response, error };
    } else {
      this.#committed = true;
      this.#final = { response, error };
    }
    throw error;
  };

  readonly #retryOn = (error: unknown, ctx: AttemptContext): RetryDecision => {
    if (this.#committed || this.#callerSignal?.aborted === true || !this.#mayRepeat()) return false;
    const own = this.#policy.config.retryOn;
    const verdict = own === undefined ? classifyHttpFailure(error, this.#options) : own(error, ctx);
    const held = this.#held;
    if (held !== undefined && wantsRetry(verdict)) {
      // See HttpCall.retryOn: a refusal has rejected `execute` once the microtasks ran.
      process.nextTick(() => {
        if (this.#held === held) this.#drainHeld();
      });
    }
    return verdict;
  };

  readonly #finished = (response: Response): Response => {
    this.#release();
    this.#drainAll(undefined);
    return response;
  };

  readonly #failed = (error: unknown): Response => {
    this.#release();
    const kept = this.#drainAll(error);
    if (kept !== undefined) return kept.response;
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) {
      if (held.error === error) return held.response; // retrying stopped on this status
      drain(held.response);
    }
    if (this.#final !== undefined && this.#final.error === error) return this.#final.response;
    throw error;
  };

  #prepare(ctx: AttemptContext): void {
    this.#prepared = true;
    const method = this.#method();
    const settings = this.#settings;
    const decided = repeatability(
      method,
      this.#options,
      settings?.idempotent,
      settings?.idempotencyKey,
      () => this.#baseHeaders().has(this.#options.idempotencyHeader),
      () => ctx.idempotencyKey,
    );
    this.#repeatable = decided.repeatable;
    this.#keyHeader = decided.keyHeader;
  }

  #method(): string {
    return (this.#init?.method ?? this.#request?.method ?? 'GET').toUpperCase();
  }

  #mayRepeat(): boolean {
    if (!this.#repeatable) return false;
    const kind = this.#bodyKind;
    if (kind === REPLAYABLE) return true;
    if (kind === STREAM) return streamUnread(this.#body);
    return !(this.#body as TrackedBody).consumed;
  }

  /** The caller's headers: init's, else the Request's (fetch's own precedence). */
  #baseHeaders(): Headers {
    return new Headers(this.#init?.headers ?? this.#request?.headers);
  }

  #attemptInput(): string | URL | Request {
    const request = this.#request;
    // A Request's body can be read once: each attempt sends a clone (a tee of it).
    return request !== undefined && request.body !== null && this.#init?.body === undefined
      ? request.clone()
      : this.#input;
  }

  #attemptInit(ctx: AttemptContext, signal: AbortSignal | undefined): RequestInit | undefined {
    const deadlineHeader = this.#options.deadlineHeader;
    const sendDeadline = deadlineHeader !== undefined && ctx.attemptDeadline !== undefined;
    const init = this.#init;
    if (
      this.#keyHeader === undefined &&
      !sendDeadline &&
      signal === init?.signal &&
      this.#body === init?.body
    ) {
      return init;
    }
    const out: RequestInit = { ...init };
    if (signal !== undefined) out.signal = signal;
    if (this.#body !== undefined) out.body = this.#body as NonNullable<RequestInit['body']>;
    if (this.#keyHeader !== undefined || sendDeadline) {
      const headers = this.#baseHeaders();
      const keyName = this.#options.idempotencyHeader;
      if (this.#keyHeader !== undefined && !headers.has(keyName)) headers.set(keyName, this.#keyHeader);
      if (sendDeadline && !headers.has(deadlineHeader)) {
        const left = Math.max(
          0,
          Math.floor((ctx.attemptDeadline as number) - this.#policy.config.clock.now()),
        );
        headers.set(deadlineHeader, String(left));
      }
      out.headers = headers;
    }
    return out;
  }

  /** Drains a hedged request's held responses, but the one `error` stands for (returned). */
  #drainAll(error: unknown): Outcome | undefined {
    const held = this.#heldAll;
    this.#heldAll = undefined;
    let kept: Outcome | undefined;
    if (held !== undefined) {
      for (const outcome of held) {
        if (kept === undefined && error !== undefined && outcome.error === error) kept = outcome;
        else drain(outcome.response);
      }
    }
    return kept;
  }

  #drainHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) drain(held.response);
  }

  /** The operation is over: a Request we cloned keeps no buffered body. */
  #release(): void {
    const request = this.#request;
    if (
      request !== undefined &&
      request.body !== null &&
      this.#init?.body === undefined &&
      !request.bodyUsed
    ) {
      request.body.cancel().catch(noop);
    }
  }
}
