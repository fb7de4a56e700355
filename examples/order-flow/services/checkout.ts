/**
 * Checkout, the HTTP edge: `POST /checkout` with a cart. It asks Discount for the price
 * (and charges the full price if Discount fails), then asks Orders to create the order, and
 * answers 200 with the order id, 504 when the deadline passed, 503 otherwise.
 *
 * It reads what a caller may send: the time it has left (`x-request-timeout-ms`) and an
 * Idempotency-Key, which becomes the order id so that a retried checkout creates one order.
 * Without a key, every request is a new order. It notices when the caller goes away. What
 * it does with all that is up to its clients (the stack): the same service in both runs.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { status } from '@grpc/grpc-js';
import { parseIdempotencyKey } from 'breakwater/http';
import type { Recorder } from '../metrics.js';
import { type Cart, type CheckoutClients, DEADLINE_HEADER, type Incoming } from '../stacks/types.js';

export interface CheckoutServer {
  readonly url: string;
  /** Requests being handled. */
  readonly busy: number;
  close(): Promise<void>;
}

export async function startCheckout(recorder: Recorder, clients: CheckoutClients): Promise<CheckoutServer> {
  let busy = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/checkout') {
      res.writeHead(404).end();
      return;
    }
    const cart = JSON.parse(await readBody(req)) as Cart;
    recorder.count('checkout', cart.seq);
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the caller went away'));
    });
    const incoming = incomingOf(req, controller.signal);

    let discount = { discountCents: 0, loyaltyApplied: false };
    try {
      discount = await clients.discount(
        { cart: cart.seq, customer: cart.customer, amountCents: cart.amountCents },
        incoming,
      );
    } catch {
      // Discount failed: charge the full price rather than lose the sale.
    }
    const orderId = incoming.idempotencyKey ?? randomUUID();
    try {
      await clients.createOrder(
        {
          orderId,
          cart: cart.seq,
          customer: cart.customer,
          totalCents: cart.amountCents - discount.discountCents,
        },
        incoming,
      );
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      res.writeHead(code === status.DEADLINE_EXCEEDED ? 504 : 503).end();
      return;
    }
    if (res.destroyed) return; // the shopper gave up: nobody to answer
    if (!discount.loyaltyApplied) recorder.count('withoutPoints', cart.seq);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ orderId }));
  }

  const server: Server = createServer((req, res) => {
    busy++;
    handle(req, res)
      .catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      })
      .finally(() => {
        busy--;
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/checkout`,
    get busy() {
      return busy;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function incomingOf(req: IncomingMessage, signal: AbortSignal): Incoming {
  const left = Number(req.headers[DEADLINE_HEADER]);
  const key = req.headers['idempotency-key'];
  return {
    deadline: Number.isFinite(left) && left > 0 ? Date.now() + left : undefined,
    signal,
    idempotencyKey: typeof key === 'string' ? parseIdempotencyKey(key) : undefined,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.once('end', () => resolve(body));
    req.once('error', reject);
  });
}
