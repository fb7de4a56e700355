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
import { isResilientHandler } from './composition.js';
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
  if (isResilientHandler(handler)) {
    invalid(
      'handler',
      'the business handler: wrap idempotentHandler in resilientHandler (resilientHandler(idempotentHandler(fn, ...), ...)), not the reverse',
      handler,
    );
  }
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

  const guard: IdempotencyGuard<M> = async (msg, run) => {
    const key = keyOf?.(msg) || defaultKey(msg);
    let claim: Awaited<ReturnType<IdempotencyStore['claim']>>;
    try {
      claim = await store.claim(key, claimTtl);
    } catch (error) {
      // The store cannot say whether the key is done: do not risk running it twice.
      return { status: 'failed', key, error, stage: 'store' };
    }
    if (claim.status === 'done') return { status: 'duplicate', key };
    if (claim.status === 'busy') {
      const retryAfterMs = Math.max(1, Math.min(busyDelay, Math.ceil(claim.retryAfterMs)));
      return { status: 'busy', key, retryAfterMs };
    }
    const { token, takenOver } = claim;
    const controller = new AbortController();
    const renewal = new Renewal(store, token, claimTtl, clock, controller);
    const context: HandlerContext = { key, signal: controller.signal, takenOver };
    // The handler's own promise, while it has not settled: `run` (a policy's attempt timeout)
    // may give up on a handler that goes on running.
    let running: Promise<unknown> | undefined;
    const call = (): unknown => {
      const value = handler(msg, context);
      if (isThenable(value)) {
        const pending = Promise.resolve(value);
        running = pending;
        const done = (): void => {
          if (running === pending) running = undefined;
        };
        pending.then(done, done);
      }
      return value;
    };
    try {
      await run((outer) => (outer === undefined ? call() : runLinked(outer, controller, call)));
    } catch (error) {
      const abandoned = running;
      if (abandoned !== undefined) {
        // The handler still runs: keep its claim (renewed) until it settles, so that a
        // redelivery finds the key busy instead of running it a second time alongside.
        void abandoned.then(
          () => finishLate(renewal, () => store.complete(token)),
          () => finishLate(renewal, () => store.release(token)),
        );
        return { status: 'failed', key, error, stage: 'handler' };
      }
      await renewal.stop();
      try {
        await store.release(token);
      } catch {
        // Unreleased, the claim expires after claimTtl (at once for this consumer).
      }
      return { status: 'failed', key, error, stage: 'handler' };
    }
    await renewal.stop();
    // The work is done: report it handled even if recording fails, since a redelivery would repeat it.
    try {
      return { status: 'handled', key, recorded: await store.complete(token) };
    } catch (error) {
      return { status: 'handled', key, recorded: false, error };
    }
  };

  const handle: IdempotentMessageHandler<M> = async (msg) => {
    const result = await guard(msg, direct);
    switch (result.status) {
      case 'handled':
      case 'duplicate':
        msg.ack();
        return result;
      case 'busy':
        msg.nak(result.retryAfterMs);
        return result;
      default:
        nak(msg, result.error);
        return { status: 'failed', key: result.key, error: result.error };
    }
  };
  guards.set(handle as IdempotentMessageHandler<JsMsgLike>, guard as IdempotencyGuard<JsMsgLike>);
  return handle;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Stops renewing, then records the late handler's end (failures are left to the TTL). */
async function finishLate(renewal: Renewal, record: () => Promise<unknown>): Promise<void> {
  await renewal.stop();
  try {
    await record();
  } catch {
    // Unrecorded, the claim expires after claimTtl.
  }
}

/** Runs the handler as it is, with the guard's own signal. */
const direct: GuardRun = (invoke) => Promise.resolve(invoke(undefined));

/**
 * Runs `fn` with `outer` (a caller's signal, e.g. a policy attempt's) linked into `inner`:
 * aborting `outer` aborts `inner` with its reason. The listener is removed when `fn` settles.
 */
async function runLinked(outer: AbortSignal, inner: AbortController, fn: () => unknown): Promise<unknown> {
  if (outer.aborted) inner.abort(outer.reason);
  const forward = (): void => inner.abort(outer.reason);
  outer.addEventListener('abort', forward, { once: true });
  try {
    return await fn();
  } finally {
    outer.removeEventListener('abort', forward);
  }
}

/**
 * @internal Runs the guarded handler: `invoke(signal)` calls it (`signal`, if given, is linked
 * into the handler's context signal) and the returned promise settles as the handler did.
 * `resilientHandler` runs it through a policy this way.
 */
export type GuardRun = (invoke: (signal: AbortSignal | undefined) => unknown) => Promise<unknown>;

/** @internal What the guard decided, before anything is acked. */
export type GuardResult =
  | { readonly status: 'handled'; readonly key: string; readonly recorded: boolean; readonly error?: unknown }
  | { readonly status: 'duplicate'; readonly key: string }
  | { readonly status: 'busy'; readonly key: string; readonly retryAfterMs: number }
  /** `stage`: whether the store (the claim) or the handler failed. */
  | {
      readonly status: 'failed';
      readonly key: string;
      readonly error: unknown;
      readonly stage: 'store' | 'handler';
    };

/** @internal The guard of an idempotent handler, without the acking: claim, run, record. */
export type IdempotencyGuard<M extends JsMsgLike> = (msg: M, run: GuardRun) => Promise<GuardResult>;

/** The guards behind the handlers this module made, for `resilientHandler` to compose. */
const guards = new WeakMap<IdempotentMessageHandler<JsMsgLike>, IdempotencyGuard<JsMsgLike>>();

/**
 * @internal The guard behind `handler` when it was made by {@link idempotentHandler} (so that
 * `resilientHandler` can run the guard and do the acking itself), else undefined.
 */
export function idempotencyGuardOf<M extends JsMsgLike>(handler: unknown): IdempotencyGuard<M> | undefined {
  if (typeof handler !== 'function') return undefined;
  return guards.get(handler as IdempotentMessageHandler<JsMsgLike>) as IdempotencyGuard<M> | undefined;
}
