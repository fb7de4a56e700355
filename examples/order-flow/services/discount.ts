/**
 * Discount: a base discount, plus loyalty points when Loyalty answers. When Loyalty fails
 * (an error, a timeout, an open breaker), Discount answers without the points rather than
 * failing the checkout: the same fallback in both runs. Whether it comes in time for the
 * shopper is up to the clients.
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
      loyalty.points({ cart, customer }, call).then(
        ({ points }) =>
          callback(null, {
            discountCents: Math.round(amountCents * 0.05) + Math.min(points, Math.round(amountCents * 0.1)),
            loyaltyApplied: true,
          }),
        () => callback(null, { discountCents: Math.round(amountCents * 0.05), loyaltyApplied: false }),
      );
    },
  };
}
