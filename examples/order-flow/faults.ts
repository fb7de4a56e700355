/**
 * The switches the scenario flips: Loyalty's cold start and the Shipping carrier's outage.
 * (The third fault, a paused nats-server, lives with the server: see nats.ts.) The services
 * read these switches; they are the same objects in both runs.
 *
 * @module
 */

export class Faults {
  /** Loyalty is cold: every call is slow. */
  loyaltyCold = false;
  #carrierBack: (() => void) | undefined;
  #carrierUp: Promise<void> = Promise.resolve();

  /** The carrier stops answering: ship calls wait until {@link carrierRecovers}. */
  carrierFails(): void {
    if (this.#carrierBack !== undefined) return;
    this.#carrierUp = new Promise<void>((resolve) => {
      this.#carrierBack = resolve;
    });
  }

  carrierRecovers(): void {
    this.#carrierBack?.();
    this.#carrierBack = undefined;
  }

  /** Resolves at once while the carrier is up, else when it is back. */
  carrierAvailable(): Promise<void> {
    return this.#carrierUp;
  }

  /** Ends every fault (at the end of a run, or when it is interrupted). */
  clear(): void {
    this.loyaltyCold = false;
    this.carrierRecovers();
  }
}
