/**
 * How the consumer wrappers recognise each other, so that they compose one way only:
 * `resilientHandler(idempotentHandler(fn, ...), ...)`. `resilientHandler` runs the idempotent
 * handler's guard and acks itself; the reverse nesting would record a key as done after
 * `resilientHandler` had nak'ed or dead-lettered its message, so `idempotentHandler` refuses it.
 *
 * @internal
 * @module
 */

const resilient = new WeakSet<object>();

/** @internal Marks `handler` as made by `resilientHandler`. */
export function markResilient<F extends object>(handler: F): F {
  resilient.add(handler);
  return handler;
}

/** @internal Whether `handler` was made by `resilientHandler`. */
export function isResilientHandler(handler: unknown): boolean {
  return typeof handler === 'function' && resilient.has(handler);
}
