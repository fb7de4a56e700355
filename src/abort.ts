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

interface Subscribers {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const bySignal = new WeakMap<AbortSignal, Subscribers>();

/**
 * Calls `callback` once when `signal` aborts. Returns the function that unsubscribes; the
 * signal's listener goes away with its last subscriber.
 */
export function subscribeAbort(signal: AbortSignal, callback: () => void): () => void {
  let subscribers = bySignal.get(signal);
  if (subscribers === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      bySignal.delete(signal);
      // Copy first: a callback settles its call, which unsubscribes it.
      for (const cb of [...callbacks]) cb();
      callbacks.clear();
    };
    subscribers = { callbacks, listener };
    bySignal.set(signal, subscribers);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks, listener } = subscribers;
  callbacks.add(callback);
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return;
    if (bySignal.get(signal)?.callbacks === callbacks) bySignal.delete(signal);
    signal.removeEventListener('abort', listener);
  };
}
