/** Helpers to record a policy's events and to build promises settled from outside. */
import type { BreakwaterEvent } from '../../src/events.js';

type Of<K extends BreakwaterEvent['type']> = Extract<BreakwaterEvent, { type: K }>;

/** Records every event; `of(type)` filters them, narrowed. */
export class EventLog {
  readonly events: BreakwaterEvent[] = [];
  readonly listener = (event: BreakwaterEvent): void => {
    this.events.push(event);
  };

  of<K extends BreakwaterEvent['type']>(type: K): Of<K>[] {
    return this.events.filter((e): e is Of<K> => e.type === type);
  }

  /** The event types, in order. */
  get types(): BreakwaterEvent['type'][] {
    return this.events.map((e) => e.type);
  }
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A promise that never settles (an attempt that hangs). */
export function never<T = never>(): Promise<T> {
  return new Promise<T>(() => {});
}

/** Settles `promise` into a value that says how it settled, without unhandled rejections. */
export function outcome<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
