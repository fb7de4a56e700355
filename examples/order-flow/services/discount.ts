/**
 * Discount: a base discount, plus loyalty points when Loyalty answers. When Loyalty cannot
 * answer (an error, a timeout, an open breaker), the client says so with no points
 * (`undefined`) and Discount prices without them rather than failing the checkout. How the
 * client gets there is the stack's: breakwater's `fallback` in the protected run, a catch in
 * the unprotected one. Whether it comes in time for the shopper is up to the clients.
 *
 * @module
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Recorder } from '../metrics.js';
import type { DiscountReply, DiscountRequest } from '../proto.js';
import type { LoyaltyClients } from '../stacks/types.js';

export function discountService(recorder: Recorder, loyalty: LoyaltyClients) {
  return {
    GetDiscount(
      call: ServerUnaryCall<DiscountRequest, DiscountReply>,
      callback: sendUnaryData<DiscountReply>,
    ): void {
      const { cart, customer, amountCents } = call.request;
      recorder.count('discount', cart);
      const base = Math.round(amountCents * 0.05);
      loyalty.points({ cart, customer }, call).then(
        (reply) =>
          callback(
            null,
            reply === undefined
              ? { discountCents: base, loyaltyApplied: false }
              : {
                  discountCents: base + Math.min(reply.points, Math.round(amountCents * 0.1)),
                  loyaltyApplied: true,
                },
          ),
        // Not a fallback: the clients answer every failure of Loyalty; this is a bug of ours.
        (error: Error) => callback(error),
      );
    },
  };
}
