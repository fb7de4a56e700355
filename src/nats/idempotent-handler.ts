/**
 * `idempotentHandler(handler, { store })`: a consumer-side guard so that a message that
 * arrives more than once (JetStream delivers at least once: a lost ack, a redelivery after
 * `ack_wait`, a second copy published outside the duplicate window) is processed once per
 * key.
 *
 * For each message: claim its key in the store; if the key is done already, ack and skip
 * the handler; if another consumer holds a live claim, nak with a delay and look again
 * later; otherwise run the handler while renewing the claim, then record the key as done
 * and ack. When the handler fails, the claim is released and the message nak'ed, so the
 * redelivery can try again.
 *
 * @module
 */
import { type Clock, systemClock } from '../index.js';
import { invalid, num, obj } from '../validate.js';
import { type ClaimToken, type IdempotencyStore, isIdempotencyStore } from './store.js';
import type { JsMsgLike } from './types.js';

/** What the handler receives besides the message. */
export interface HandlerContext {
  /** The message's idempotency key. */
  readonly key: string;
  /**
   * Aborted when this consumer lost its claim (it could not renew it in time and another
   * consumer took the key over): stop, another consumer is processing the key now.
   */
  readonly signal: AbortSignal;
  /** True when the claim was taken over from a consumer that stopped renewing it (crashed). */
  readonly takenOver: boolean;
}

/** What happened to one message. */
export type HandleOutcome =
  /** The handler ran and succeeded; the message was acked. `recorded`: the key was recorded as done. */
  | { readonly status: 'handled'; readonly key: string; readonly recorded: boolean; readonly error?: unknown }
  /** The key was done already: the message was acked without running the handler. */
  | { readonly status: 'duplicate'; readonly key: string }
  /** Another consumer is processing the key: the message was nak'ed with a delay. */
  | { readonly status: 'busy'; readonly key: string; readonly retryAfterMs: number }
  /** The handler (or the store) failed: the claim was released and the message nak'ed. */
  | { readonly status: 'failed'; readonly key: string; readonly error: unknown };

/** Options of {@link idempotentHandler}. */
export interface IdempotentHandlerOptions<M extends JsMsgLike> {
  /** Where claims and done keys are recorded: `memoryStore()` or `kvStore(kv)`. */
  store: IdempotencyStore;
  /**
   * The message's idempotency key; return undefined to use the default.
   * @default the Nats-Msg-Id header (the publisher's msgID), else `<stream>.<sequence>`
   */
  key?: ((msg: M) => string | undefined) | undefined;
  /**
   * How long a claim lives without renewal, in ms. The claim is renewed every third of it
   * while the handler runs, so this is how long a crashed consumer blocks its keys, not a
   * limit on the handler's run time.
   * @default 30_000
   */
  claimTtl?: number | undefined;
  /**
   * Longest delay before a message whose key another consumer holds is redelivered, in ms.
   * @default 1_000
   */
  busyDelay?: number | undefined;
  /**
   * Redelivery delay after the handler failed, in ms, or a function of the delivery count
   * (1 on the first delivery) and the error. 0: a plain nak (the consumer's own backoff).
   * @default 0
   */
  nakDelay?: number | ((deliveryCount: number, error: unknown) => number) | undefined;
  /** Source of time for claim renewals. @default systemClock */
  clock?: Clock | undefined;
}

/** The wrapped handler: call it with every message the consumer receives. */
export type IdempotentMessageHandler<M extends JsMsgLike> = (msg: M) => Promise<HandleOutcome>;

const OPTION_KEYS = ['store', 'key', 'claimTtl', 'busyDelay', 'nakDelay', 'clock'] as const;
const MAX_TIMER = 2_147_483_647;
const MSG_ID_HEADER = 'Nats-Msg-Id';

/** The default key: the publisher's Nats-Msg-Id, else the stored message's identity. */
function defaultKey(msg: JsMsgLike): string {
  const id = msg.headers?.get(MSG_ID_HEADER);
  if (typeof id === 'string' && id.length > 0) return id;
  return `${msg.info.stream}.${msg.seq}`;
}

/**
 * Renews a claim every third of its TTL while the handler runs. `stop()` cancels the timer
 * and waits for a renewal in flight, so that `complete`/`release` see its revision.
 */
class Renewal {
  readonly #store: IdempotencyStore;
  readonly #token: ClaimToken;
  readonly #ttl: number;
  readonly #clock: Clock;
  readonly #controller: AbortController;
  #timer: unknown;
  #inflight: Promise<void> | undefined;
  #stopped = false;

  constructor(
    store: IdempotencyStore,
    token: ClaimToken,
    ttl: number,
    clock: Clock,
    controller: AbortController,
  ) {
    this.#store = store;
    this.#token = token;
    this.#ttl = ttl;
    this.#clock = clock;
    this.#controller = controller;
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#inflight = this.#store.renew(this.#token, this.#ttl).then(
          (held) => {
            this.#inflight = undefined;
            if (!held) {
              const lost = new Error(`claim on ${JSON.stringify(this.#token.key)} was taken over`);
              lost.name = 'ClaimLostError';
              this.#controller.abort(lost);
            } else if (!this.#stopped) {
              this.#schedule();
            }
          },
          () => {
            // The store is unreachable: keep trying while the claim may still be ours.
            this.#inflight = undefined;
            if (!this.#stopped) this.#schedule();
          },
        );
      },
      Math.max(1, Math.floor(this.#ttl / 3)),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#inflight !== undefined) await this.#inflight;
  }
}

/**
 * Wraps a JetStream message handler so that each key is processed once, even when the
 * message arrives several times or on several consumers sharing one store. The wrapped
 * function acks or naks the message itself and resolves with what happened; it never
 * rejects because the handler failed.
 *
 * @example
 * ```ts
 * import { type JsMsg, jetstream } from '@nats-io/jetstream';
 * import { connect } from '@nats-io/transport-node';
 * import { idempotentHandler, memoryStore } from 'breakwater/nats';
 *
 * // Your side effect, which must not happen twice for one order.
 * async function ship(order: { id: string }): Promise<void> {
 *   console.log(`shipping ${order.id}`);
 * }
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const consumer = await jetstream(nc).consumers.get('ORDERS', 'shipping');
 * const handle = idempotentHandler(async (msg: JsMsg) => ship(msg.json<{ id: string }>()), {
 *   store: memoryStore(),
 * });
 * for await (const msg of await consumer.consume()) {
 *   const outcome = await handle(msg);
 *   if (outcome.status === 'failed') console.error('will be redelivered', outcome.error);
 * }
 * ```
 */
export function idempotentHandler<M extends JsMsgLike>(
  handler: (msg: M, context: HandlerContext) => unknown,
  options: IdempotentHandlerOptions<M>,
): IdempotentMessageHandler<M> {
  if (typeof handler !== 'function') invalid('handler', 'a function (msg, context) => ...', handler);
  const o = obj<IdempotentHandlerOptions<M>>('idempotentHandler', options, OPTION_KEYS);
  const store = o?.store;
  if (!isIdempotencyStore(store))
    invalid('store', 'an idempotency store (memoryStore() or kvStore(kv))', store);
  const keyOf = o?.key;
  if (keyOf !== undefined && typeof keyOf !== 'function') invalid('key', 'a function (msg) => string', keyOf);
  const claimTtl = num('claimTtl', o?.claimTtl, 30_000, { min: 3, max: MAX_TIMER });
  const busyDelay = num('busyDelay', o?.busyDelay, 1_000, { min: 0, max: MAX_TIMER });
  const nakDelay = o?.nakDelay ?? 0;
  if (typeof nakDelay !== 'function') num('nakDelay', nakDelay, 0, { min: 0, max: MAX_TIMER });
  const clock = o?.clock ?? systemClock;

  const nak = (msg: M, error: unknown): void => {
    let delay = 0;
    if (typeof nakDelay === 'function') {
      try {
        delay = nakDelay(msg.info.deliveryCount ?? 1, error);
      } catch {
        delay = 0;
      }
    } else {
      delay = nakDelay;
    }
    if (typeof delay === 'number' && delay > 0 && Number.isFinite(delay)) msg.nak(delay);
    else msg.nak();
  };

  return async (msg: M): Promise<HandleOutcome> => {
    const key = keyOf?.(msg) || defaultKey(msg);
    let claim: Awaited<ReturnType<IdempotencyStore['claim']>>;
    try {
      claim = await store.claim(key, claimTtl);
    } catch (error) {
      // The store cannot say whether the key is done: do not risk running it twice.
      nak(msg, error);
      return { status: 'failed', key, error };
    }
    if (claim.status === 'done') {
      msg.ack();
      return { status: 'duplicate', key };
    }
    if (claim.status === 'busy') {
      const retryAfterMs = Math.max(1, Math.min(busyDelay, Math.ceil(claim.retryAfterMs)));
      msg.nak(retryAfterMs);
      return { status: 'busy', key, retryAfterMs };
    }
    const { token, takenOver } = claim;
    const controller = new AbortController();
    const renewal = new Renewal(store, token, claimTtl, clock, controller);
    try {
      await handler(msg, { key, signal: controller.signal, takenOver });
    } catch (error) {
      await renewal.stop();
      try {
        await store.release(token);
      } catch {
        // Unreleased, the claim expires after claimTtl (at once for this consumer).
      }
      nak(msg, error);
      return { status: 'failed', key, error };
    }
    await renewal.stop();
    // The work is done: ack even if recording fails, since a redelivery would repeat it.
    let recorded = false;
    let recordError: unknown;
    try {
      recorded = await store.complete(token);
    } catch (error) {
      recordError = error;
    }
    msg.ack();
    return recordError === undefined
      ? { status: 'handled', key, recorded }
      : { status: 'handled', key, recorded, error: recordError };
  };
}
