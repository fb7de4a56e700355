/**
 * The events of `resilientHandler`: one discriminated union, delivered synchronously to the
 * `onEvent` listener, built only when there is one.
 *
 * @module
 */

/** Why a message was nak'ed for a later redelivery. */
export type MessageRetryReason =
  /** The handler failed and deliveries are left. */
  | 'handler-failed'
  /** The policy's circuit breaker is open: the handler was not called. */
  | 'circuit-open'
  /** The policy's bulkhead is full: the handler was not called. */
  | 'bulkhead-full'
  /** Another consumer is processing the key (with `idempotentHandler`): the handler was not called. */
  | 'busy'
  /** The idempotency store could not be asked (with `idempotentHandler`): the handler was not called. */
  | 'store-failed'
  /** The message was to be dead-lettered, but the copy could not be stored. */
  | 'dead-letter-failed';

/** Why a message was dead-lettered. */
export type DeadLetterReason =
  /** `classify` said `'dead-letter'` (by default: a `SyntaxError` or `TypeError`). */
  | 'poison'
  /** The handler failed on the last allowed delivery (`maxDeliveries`). */
  | 'max-deliveries';

/** What every message event carries: which message, where it came from. */
export interface MessageEventBase {
  /** The subject the message was published to. */
  readonly subject: string;
  readonly stream: string;
  readonly consumer: string;
  /** The message's sequence in its stream. */
  readonly seq: number;
  /** This delivery's count, 1 on the first. */
  readonly deliveryCount: number;
  /** When it happened, ms since the epoch (the handler's clock). */
  readonly at: number;
}

/** The message was nak'ed with a delay: it will be delivered again. */
export interface MessageRetryEvent extends MessageEventBase {
  readonly type: 'message-retry';
  readonly reason: MessageRetryReason;
  /** The nak's delay, ms. */
  readonly delayMs: number;
  /** The handler's error (or the store's, or the breaker's rejection), if any. */
  readonly error?: unknown;
  /** With `'dead-letter-failed'`: why the copy could not be stored. */
  readonly deadLetterError?: unknown;
}

/** A copy of the message was stored on the dead-letter subject and the original terminated. */
export interface MessageDeadLetteredEvent extends MessageEventBase {
  readonly type: 'message-dead-lettered';
  readonly reason: DeadLetterReason;
  /** The handler's error. */
  readonly error: unknown;
  /** Where the copy went. */
  readonly deadLetterSubject: string;
  /** True when the copy was stored before (a retried dead-letter publish): still one copy. */
  readonly duplicate: boolean;
}

/** `classify` said `'drop'`: the message was acked without being handled. */
export interface MessageDroppedEvent extends MessageEventBase {
  readonly type: 'message-dropped';
  /** The handler's error. */
  readonly error: unknown;
}

/** An event of `resilientHandler`. */
export type MessageEvent = MessageRetryEvent | MessageDeadLetteredEvent | MessageDroppedEvent;

/** A listener of {@link MessageEvent}s. */
export type MessageEventListener = (event: MessageEvent) => void;

/** Calls `listener`; an error it throws becomes a process warning, never the message's fate. */
export function deliver(listener: MessageEventListener, event: MessageEvent): void {
  try {
    listener(event);
  } catch (error) {
    process.emitWarning(
      `A breakwater onEvent listener threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      { code: 'BREAKWATER_LISTENER_ERROR' },
    );
  }
}
