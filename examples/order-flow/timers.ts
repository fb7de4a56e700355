/**
 * Sleeps that a run can end all at once. The services simulate work with timers (Loyalty's
 * cold start, a carrier call); when a run ends or is interrupted, `clear()` ends every sleep
 * still pending, so no timer outlives the run.
 *
 * @module
 */
export class Timers {
  readonly #pending = new Map<ReturnType<typeof setTimeout>, () => void>();

  /** Resolves after `ms`, or at once when {@link clear} is called. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(timer);
        resolve();
      }, ms);
      this.#pending.set(timer, resolve);
    });
  }

  /** Ends every pending sleep now. */
  clear(): void {
    for (const [timer, resolve] of this.#pending) {
      clearTimeout(timer);
      resolve();
    }
    this.#pending.clear();
  }
}

/** A uniform random time in [min, max] ms. */
export function between(min: number, max: number): number {
  return min + Math.random() * (max - min);
}
