/**
 * The FIFO of operations waiting for a slot of a bulkhead or an adaptive limit: O(1)
 * amortized push, pop and cancel (a cancelled waiter is marked and skipped when it reaches
 * the head), memory bounded by the queue's capacity.
 *
 * @internal
 * @module
 */

interface Waiter {
  readonly grant: () => void;
  /** Left the queue: cancelled, or granted (a late cancel is then a no-op). */
  done: boolean;
}

export class WaitQueue {
  #waiting: (Waiter | undefined)[] = [];
  #head = 0;
  /** Waiters neither cancelled nor granted. */
  size = 0;

  /** Entries held, live or not yet swept (memory use; for tests). */
  get slots(): number {
    return this.#waiting.length - this.#head;
  }

  /** Adds a waiter; returns its cancel function. */
  push(grant: () => void): () => void {
    const waiter: Waiter = { grant, done: false };
    this.#waiting.push(waiter);
    this.size++;
    return () => {
      if (waiter.done) return;
      waiter.done = true;
      this.size--;
      this.#compact();
    };
  }

  /** Removes the first live waiter and returns its grant, or undefined when none waits. */
  shift(): (() => void) | undefined {
    const waiting = this.#waiting;
    while (this.#head < waiting.length) {
      const next = waiting[this.#head];
      waiting[this.#head++] = undefined;
      if (next === undefined || next.done) continue;
      next.done = true;
      this.size--;
      this.#compact();
      return next.grant;
    }
    this.#compact();
    return undefined;
  }

  /**
   * Drops what no longer waits: the served prefix once it is most of the array, and the
   * cancelled waiters once they outnumber the live ones (waiters cancelled behind a head that
   * never moves would otherwise pile up). Each rebuild costs at most twice the work that
   * made it necessary, so every operation stays O(1) amortized.
   */
  #compact(): void {
    const waiting = this.#waiting;
    if (this.size === 0) {
      this.#waiting = [];
      this.#head = 0;
    } else if (waiting.length - this.#head > 2 * this.size + 64) {
      const live: (Waiter | undefined)[] = [];
      for (let i = this.#head; i < waiting.length; i++) {
        const w = waiting[i];
        if (w !== undefined && !w.done) live.push(w);
      }
      this.#waiting = live;
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > waiting.length) {
      this.#waiting = waiting.slice(this.#head);
      this.#head = 0;
    }
  }
}
