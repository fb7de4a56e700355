/**
 * One attempt of an HTTP request through the interceptor: a handler dispatched downstream,
 * and the state of its response (see `retry-handler.ts` for the life of a request). The
 * two handler APIs of undici extend {@link Attempt} in `dispatch-handlers.ts`.
 *
 * @internal
 * @module
 */
import type { AttemptHandle } from '../engine/attempt.js';
import type { ResponseHeaders } from './status-error.js';

/** What an attempt needs of the request it belongs to. */
export interface AttemptOwner {
  /** The caller has a response head. */
  committed: boolean;
  /** The caller has heard the end. */
  done: boolean;
  /** Decides what to do with a final response head: true to hand it on, false to hold it. */
  head(attempt: Attempt, status: number): boolean;
  /** Aborts an attempt and ignores whatever it reports afterwards. */
  abandon(attempt: Attempt, reason: unknown): void;
}

/** Dispatched; waiting for the final response head. */
export const PENDING = 0;
/** Handed to the caller: bytes flow through. */
export const COMMITTED = 1;
/** A retryable status, paused while the policy decides. */
export const HELD = 2;
/** A failed attempt's body being read and dropped, so the connection is reused. */
export const DRAINING = 3;
/** Over. */
export const DONE = 4;
/** Aborted by us; whatever undici still reports about it is ignored. */
export const ABANDONED = 5;

/** Bytes of a failed attempt's body read to keep the connection; past this, it is closed instead. */
export const DRAIN_LIMIT = 64 * 1024;

/** One attempt: a handler dispatched downstream, in one of undici's two handler APIs. */
export abstract class Attempt {
  state = PENDING;
  /** Whether it has reported its end to the policy. */
  settled = false;
  /** The failure a held or committed error status stands for. */
  error: unknown = undefined;
  /** Set when we abort it before undici gave us the means; applied on connect. */
  abortReason: unknown = undefined;
  /** Events that arrived while held (undici pauses, so normally none). */
  heldChunks: Buffer[] | undefined = undefined;
  heldEnded = false;
  heldTrailers: unknown = undefined;
  heldError: unknown = undefined;
  drained = 0;
  /** The policy's attempt this one reports to. */
  #context: AttemptHandle | undefined = undefined;

  constructor(readonly call: AttemptOwner) {}

  /** Binds the policy's attempt, which hears how this one ends. */
  bind(context: AttemptHandle): void {
    this.#context = context;
  }

  succeed(): void {
    if (this.settled) return;
    this.settled = true;
    const context = this.#context;
    if (context !== undefined) context.succeed(undefined);
  }

  fail(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const context = this.#context;
    if (context !== undefined) context.fail(reason);
  }

  /** Still exchanging bytes on behalf of the operation. */
  get running(): boolean {
    return this.state === PENDING || this.state === COMMITTED;
  }

  /** A response header of the current head (lower-case name). */
  abstract header(name: string): string | undefined;
  /** The current head's headers as a record. */
  abstract headerRecord(): ResponseHeaders;
  /** Asks undici to continue a paused response. */
  abstract resumeTransport(): void;
  /** Aborts the request in undici (or remembers to, on connect). */
  abstract abortTransport(reason: unknown): void;
  /** Hands the held head to the caller; returns false if the caller paused. */
  abstract forwardHead(): boolean;
  abstract forwardData(chunk: Buffer): void;
  abstract forwardEnd(trailers: unknown): void;
  abstract forwardError(error: unknown): void;

  /** Data for an attempt that is not committed. Returns false to pause. */
  otherData(chunk: Buffer): boolean {
    if (this.state === HELD) {
      if (this.heldChunks === undefined) this.heldChunks = [chunk];
      else this.heldChunks.push(chunk);
      return false;
    }
    if (this.state === DRAINING) {
      this.drained += chunk.length;
      if (this.drained > DRAIN_LIMIT) this.call.abandon(this, new Error('response body too large to drain'));
    }
    return true;
  }

  /** The end of an attempt that is not committed. */
  otherEnd(trailers: unknown): void {
    if (this.state === HELD) {
      this.heldEnded = true;
      this.heldTrailers = trailers;
    } else if (this.state === DRAINING) {
      this.state = DONE;
    }
  }

  /** An error on an attempt that is not committed. */
  otherError(error: unknown): void {
    if (this.state === PENDING) {
      this.state = DONE;
      this.fail(error);
    } else if (this.state === HELD) {
      this.heldError = error;
    } else if (this.state === DRAINING) {
      this.state = DONE;
    }
  }

  /** A committed response ended: the attempt succeeds, or fails with its error status. */
  endCommitted(): void {
    this.state = DONE;
    this.call.done = true;
    if (this.error === undefined) this.succeed();
    else this.fail(this.error);
  }

  /** A committed response broke: the attempt fails with undici's error. */
  breakCommitted(error: unknown): void {
    this.state = DONE;
    this.call.done = true;
    this.fail(error);
  }

  /** The policy stopped on this held status: hand the response to the caller. */
  release(): void {
    this.state = COMMITTED;
    this.call.committed = true;
    const goOn = this.forwardHead();
    if (this.heldChunks !== undefined) {
      for (const chunk of this.heldChunks) this.forwardData(chunk);
      this.heldChunks = undefined;
    }
    if (this.heldError !== undefined) {
      this.state = DONE;
      this.call.done = true;
      this.forwardError(this.heldError);
    } else if (this.heldEnded) {
      this.state = DONE;
      this.call.done = true;
      this.forwardEnd(this.heldTrailers);
    } else if (goOn) {
      this.resumeTransport();
    }
  }

  /** The policy retries: read and drop the held body. */
  drain(): void {
    if (this.state !== HELD) return;
    this.heldChunks = undefined;
    if (this.heldError !== undefined || this.heldEnded) {
      this.state = DONE;
      return;
    }
    this.state = DRAINING;
    this.resumeTransport();
  }
}
