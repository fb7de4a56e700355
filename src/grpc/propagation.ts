/**
 * Deadline propagation across hops. A service that handles a gRPC call and calls further
 * services must hand them what is left of its caller's budget, never a fresh one:
 * otherwise a slow hop deep in the chain keeps working (and retrying) long after the
 * caller at the top gave up, which is how one slow dependency turns into a cascade.
 *
 * grpc-js has the mechanism built in: an outgoing call whose options carry
 * `parent: incomingCall` with `propagate_flags` including `DEADLINE` gets the earlier of
 * its own and the parent's deadline, and with `CANCELLATION` it is cancelled when the
 * parent is. {@link callOptionsFrom} builds those options, so they work on any client;
 * the breakwater interceptor also reads them, so the policy's budget (its retries and
 * waits) fits inside the caller's.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { type CallOptions, type Deadline, propagate as Propagate } from '@grpc/grpc-js';
import { earliest } from '../deadline.js';
import { bool, invalid, num, obj } from '../validate.js';

/** A call a grpc-js server handler receives (`ServerUnaryCall`, `ServerWritableStream`, ...). */
export type IncomingCall = NonNullable<CallOptions['parent']>;

/** Options of {@link callOptionsFrom}. */
export interface PropagationOptions {
  /**
   * Milliseconds kept back from the caller's remaining budget, so that this service can
   * still answer its caller (with a fallback, or a clean error) after the downstream call
   * gives up. The downstream deadline is the caller's deadline minus `reserve`.
   * @default 0
   */
  reserve?: number | undefined;
  /**
   * Cancel the outgoing call (every attempt, and any wait between attempts) when the
   * incoming call is cancelled: its caller is gone, so the answer would go nowhere.
   * @default true
   */
  cancellation?: boolean | undefined;
}

const MAX_RESERVE = 2_147_483_647;

/**
 * An absolute deadline in ms since the epoch, from a grpc-js `Deadline` (a `Date` or a
 * number of ms since the epoch); `undefined` for none (`Infinity`) or an invalid one.
 */
export function deadlineMs(deadline: Deadline | undefined): number | undefined {
  if (deadline === undefined) return undefined;
  const ms = typeof deadline === 'number' ? deadline : deadline.getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The deadline of an incoming call, in ms since the epoch (`undefined` when the caller
 * set none): pass it as `execute(fn, { deadline })` to fit non-gRPC work (an HTTP call, a
 * publish) inside the caller's budget.
 *
 * @example
 * ```ts
 * import { policy } from 'breakwater';
 * import { deadlineFrom } from 'breakwater/grpc';
 * import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
 * const publish = policy({ deadline: 1_000 });
 * function createOrder(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
 *   publish
 *     .execute(({ signal }) => doWork(signal), { deadline: deadlineFrom(call) })
 *     .then((id) => callback(null, { id }), (error) => callback(error));
 * }
 * ```
 */
export function deadlineFrom(call: IncomingCall): number | undefined {
  return deadlineMs(call.getDeadline());
}

/**
 * Call options for an outgoing call made while handling `call`, so the downstream call
 * gets the caller's remaining budget (minus `reserve`) and is cancelled with it.
 *
 * Returns grpc-js's own propagation options, `{ parent, propagate_flags, deadline }`, so
 * they work with any client. With the breakwater interceptor on the outgoing client, the
 * policy's whole operation (every attempt and every wait) fits in that budget, the
 * parent's cancellation stops it at once, and the interceptor listens to the parent once
 * per operation rather than once per attempt.
 *
 * @example
 * ```ts
 * import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
 * import { callOptionsFrom } from 'breakwater/grpc';
 * // In the Discount service, calling Loyalty with what is left of Checkout's deadline:
 * function getDiscount(call: ServerUnaryCall<{ customer: string }, unknown>, callback: sendUnaryData<unknown>) {
 *   loyalty.getPoints({ customer: call.request.customer }, callOptionsFrom(call, { reserve: 20 }), (error, points) => {
 *     callback(error, points);
 *   });
 * }
 * ```
 */
export function callOptionsFrom(call: IncomingCall, options?: PropagationOptions): CallOptions {
  const o = obj<PropagationOptions>('callOptionsFrom', options, ['reserve', 'cancellation']) ?? {};
  const reserve = num('callOptionsFrom.reserve', o.reserve, 0, { min: 0, max: MAX_RESERVE });
  const cancellation = bool('callOptionsFrom.cancellation', o.cancellation, true);
  if (typeof call !== 'object' || call === null || typeof call.getDeadline !== 'function') {
    invalid('callOptionsFrom(call)', 'the call a grpc-js server handler received', call);
  }
  const result: CallOptions = {
    parent: call,
    propagate_flags: cancellation ? Propagate.DEADLINE | Propagate.CANCELLATION : Propagate.DEADLINE,
  };
  const deadline = deadlineFrom(call);
  if (deadline !== undefined) result.deadline = deadline - reserve;
  return result;
}

/**
 * A client call's link to the server call it was made from (its `parent` call option): per
 * `propagate_flags`, the parent's deadline bounds the whole operation and its cancellation
 * stops it. The interceptor makes its attempts without `parent`, so grpc-js does not add a
 * listener to the parent per attempt; this link is the only one.
 *
 * @internal
 */
export class ParentLink {
  readonly #parent: IncomingCall;
  readonly #flags: number;
  #onCancelled: (() => void) | undefined = undefined;

  /** Calls `cancel` now if the parent is cancelled already, or once it is (until unlinked). */
  constructor(parent: IncomingCall, flags: number | undefined, cancel: () => void) {
    this.#parent = parent;
    this.#flags = flags ?? Propagate.DEFAULTS;
    if (this.#flags & Propagate.CANCELLATION) {
      if (parent.cancelled) {
        cancel();
      } else {
        this.#onCancelled = cancel;
        (parent as EventEmitter).on('cancelled', cancel);
      }
    }
  }

  /** The earlier of `deadline` and the parent's, when the deadline propagates. */
  bound(deadline: number | undefined): number | undefined {
    if (!(this.#flags & Propagate.DEADLINE)) return deadline;
    return earliest(deadline, deadlineMs(this.#parent.getDeadline()));
  }

  /** Stops listening to the parent. */
  unlink(): void {
    if (this.#onCancelled === undefined) return;
    (this.#parent as EventEmitter).removeListener('cancelled', this.#onCancelled);
    this.#onCancelled = undefined;
  }
}
