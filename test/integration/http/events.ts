/** Waits for a policy's events by type, without sleeping. */
import type { BreakwaterEvent } from '../../../src/index.js';

type Of<K extends BreakwaterEvent['type']> = Extract<BreakwaterEvent, { type: K }>;

export class EventFeed {
  readonly events: BreakwaterEvent[] = [];
  #waiters: { type: BreakwaterEvent['type']; count: number; resolve: () => void }[] = [];

  readonly listener = (event: BreakwaterEvent): void => {
    this.events.push(event);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.of(w.type).length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  of<K extends BreakwaterEvent['type']>(type: K): Of<K>[] {
    return this.events.filter((e): e is Of<K> => e.type === type);
  }

  /** Resolves with the `count`-th event of `type` (1-based), at once if it already came. */
  async wait<K extends BreakwaterEvent['type']>(type: K, count = 1): Promise<Of<K>> {
    if (this.of(type).length < count) {
      await new Promise<void>((resolve) => this.#waiters.push({ type, count, resolve }));
    }
    return this.of(type)[count - 1] as Of<K>;
  }
}
