/**
 * One 'abort' listener per caller signal, however many operations share it.
 *
 * Services often pass one long-lived signal (a request's, a shutdown signal) to many
 * concurrent calls. A listener per call would trip Node's MaxListenersExceededWarning past
 * ten calls and make every abort walk an EventTarget list; here the signal holds a single
 * listener that fans out to the calls waiting on it, and it is removed when the last of
 * them settles, so the signal is left as it was found.
 *
 * @internal
 * @module
 */

/** What waits on a signal: an operation in flight. */
export interface AbortSubscriber {
  onCallerAbort(): void;
}

/** The calls waiting on one signal: the first in a field, more in a set (rare). */
interface Subscribers {
  first: AbortSubscriber | undefined;
  more: Set<AbortSubscriber> | undefined;
  readonly listener: () => void;
}

const bySignal = new WeakMap<AbortSignal, Subscribers>();

/** Calls `subscriber.onCallerAbort()` once when `signal` aborts, until unsubscribed. */
export function subscribeAbort(signal: AbortSignal, subscriber: AbortSubscriber): void {
  // An adapter's own signal serves one operation: it holds its subscriber itself.
  if (signal instanceof LightSignal) {
    signal.subscriber = subscriber;
    return;
  }
  const subscribers = bySignal.get(signal);
  if (subscribers === undefined) {
    const fresh: Subscribers = {
      first: subscriber,
      more: undefined,
      listener: () => {
        bySignal.delete(signal);
        const { first, more } = fresh;
        fresh.first = undefined;
        fresh.more = undefined;
        // Each call settles (and unsubscribes) as it hears the abort: iterate a copy.
        first?.onCallerAbort();
        if (more !== undefined) for (const s of [...more]) s.onCallerAbort();
      },
    };
    bySignal.set(signal, fresh);
    signal.addEventListener('abort', fresh.listener, { once: true });
  } else if (subscribers.first === undefined) {
    subscribers.first = subscriber;
  } else {
    subscribers.more ??= new Set();
    subscribers.more.add(subscriber);
  }
}

/** Stops `subscriber` hearing `signal`; the listener goes away with the last subscriber. */
export function unsubscribeAbort(signal: AbortSignal, subscriber: AbortSubscriber): void {
  if (signal instanceof LightSignal) {
    if (signal.subscriber === subscriber) signal.subscriber = undefined;
    return;
  }
  const subscribers = bySignal.get(signal);
  if (subscribers === undefined) return; // aborted already, or never subscribed
  if (subscribers.first === subscriber) subscribers.first = undefined;
  else subscribers.more?.delete(subscriber);
  if (subscribers.first !== undefined || (subscribers.more !== undefined && subscribers.more.size > 0))
    return;
  bySignal.delete(signal);
  signal.removeEventListener('abort', subscribers.listener);
}

/**
 * @internal A signal an adapter aborts itself, for `policy.execute({ signal })`.
 *
 * Transports report a caller's cancellation their own way (grpc-js `call.cancel()`, the
 * abort function undici hands its handlers), and `execute` must hear of it even while no
 * attempt is in flight (a backoff wait, a bulkhead queue). A real AbortController costs
 * microseconds per call on Node.js 20 (its EventTarget listeners), more than the rest of
 * an adapter's work, and almost no call is ever cancelled. `execute` uses only `aborted`,
 * `reason` and one 'abort' listener (`subscribeAbort` above), which is all this provides;
 * the adapters' cancellation tests fail if the core ever needs more.
 *
 * The operation subscribes to it like to any signal (a field, no listener list), and
 * books the attempt in flight as aborted when it aborts.
 */
export class LightSignal {
  aborted = false;
  reason: unknown = undefined;
  /** The operation listening, set by `subscribeAbort` (no registry, no closure). */
  subscriber: AbortSubscriber | undefined = undefined;
  #listener: (() => void) | undefined = undefined;

  addEventListener(type: string, listener: () => void): void {
    if (type === 'abort') this.#listener = listener;
  }

  removeEventListener(type: string, listener: () => void): void {
    if (type === 'abort' && this.#listener === listener) this.#listener = undefined;
  }

  /** Aborts once, and tells the policy if it listens. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    subscriber?.onCallerAbort();
  }

  /** The signal as `execute` takes it (see above for why this is sound). */
  asAbortSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}
