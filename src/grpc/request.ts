/**
 * The request side of a resilient gRPC call: what the caller sent, kept so that a new
 * attempt (a retry, a hedge) gets the same request.
 *
 * @internal
 * @module
 */
import type { ChildCall } from './attempt.js';

export type MessageContext = Parameters<ChildCall['sendMessageWithContext']>[0];

/** What the caller sent on its call, replayed to every new attempt's call. */
export class RequestTape {
  /**
   * Whether the request is kept for a new attempt (until the call commits). Only methods
   * whose request is one message are ever retried or hedged, so one field holds it.
   */
  replay: boolean;
  #request: unknown = undefined;
  #hasRequest = false;
  /** Messages sent before the first attempt's call existed (it waited for a bulkhead). */
  #pending: [MessageContext, unknown][] | undefined = undefined;
  halfClosed = false;
  readStarted = false;

  constructor(replay: boolean) {
    this.replay = replay;
  }

  /** The caller sent `message`; `held` when no attempt's call exists yet to take it. */
  record(context: MessageContext, message: unknown, held: boolean): void {
    if (this.replay) {
      this.#request = message;
      this.#hasRequest = true;
    }
    if (held) {
      if (this.#pending === undefined) this.#pending = [];
      this.#pending.push([context, message]);
    }
  }

  /** Sends a new attempt's call what the caller has sent so far. */
  replayTo(child: ChildCall, first: boolean): void {
    if (first) {
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending !== undefined)
        for (const [messageContext, message] of pending)
          child.sendMessageWithContext(messageContext, message);
    } else if (this.#hasRequest) {
      child.sendMessage(this.#request);
    }
    if (this.halfClosed) child.halfClose();
    if (this.readStarted) child.startRead();
  }

  /** No attempt follows: drop the request. */
  release(): void {
    this.replay = false;
    this.#request = undefined;
    this.#pending = undefined;
  }
}
