/**
 * The gRPC contract of the order flow, loaded at run time with @grpc/proto-loader (no code
 * generation step), with hand-written types for the three services and two small helpers:
 * a promise around a unary call, and a server on a free loopback port.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type ClientUnaryCall,
  loadPackageDefinition,
  type Metadata,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export interface PointsRequest {
  cart: number;
  customer: string;
}
export interface PointsReply {
  points: number;
}
export interface DiscountRequest {
  cart: number;
  customer: string;
  amountCents: number;
}
export interface DiscountReply {
  discountCents: number;
  loyaltyApplied: boolean;
}
export interface CreateOrderRequest {
  orderId: string;
  cart: number;
  customer: string;
  totalCents: number;
}
export interface CreateOrderReply {
  orderId: string;
  created: boolean;
}

/** A unary method of a proto-loader client. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: CallOptions,
  callback: (error: ServiceError | null, response?: Res) => void,
) => ClientUnaryCall;

export type LoyaltyClient = Client & { GetPoints: UnaryMethod<PointsRequest, PointsReply> };
export type DiscountClient = Client & { GetDiscount: UnaryMethod<DiscountRequest, DiscountReply> };
export type OrdersClient = Client & { CreateOrder: UnaryMethod<CreateOrderRequest, CreateOrderReply> };

type ClientConstructor<C> = {
  new (address: string, credentials: ChannelCredentials, options?: ClientOptions): C;
  service: ServiceDefinition;
};

export interface OrderFlowProto {
  Loyalty: ClientConstructor<LoyaltyClient>;
  Discount: ClientConstructor<DiscountClient>;
  Orders: ClientConstructor<OrdersClient>;
}

/** Full method paths, as interceptors and breakers see them. */
export const CREATE_ORDER = '/orderflow.v1.Orders/CreateOrder';

let loaded: OrderFlowProto | undefined;

/** The three services' client constructors and definitions (loaded once). */
export function orderFlowProto(): OrderFlowProto {
  if (loaded === undefined) {
    const path = fileURLToPath(new URL('./proto/order_flow.proto', import.meta.url));
    // defaults: absent fields read as 0 / '' / false, as generated code would give them.
    const definition = loadSync(path, { defaults: true });
    const root = loadPackageDefinition(definition) as unknown as { orderflow: { v1: OrderFlowProto } };
    loaded = root.orderflow.v1;
  }
  return loaded;
}

/**
 * One unary call as a promise. `signal` cancels it on the wire (the client's own
 * cancellation, which the breakwater interceptor turns into stopping every attempt).
 */
export function unary<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  metadata: Metadata,
  options: CallOptions,
  signal?: AbortSignal,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => call.cancel();
    const call = method.call(client, request, metadata, options, (error, response) => {
      signal?.removeEventListener('abort', onAbort);
      if (error !== null) reject(error);
      else if (response === undefined) reject(new Error('empty response'));
      else resolve(response);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A started gRPC server on 127.0.0.1 and a free port. */
export interface GrpcServer {
  readonly address: string;
  /** Ends every call at once and closes the port. */
  close(): void;
}

export async function startGrpcServer(
  service: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): Promise<GrpcServer> {
  const server = new Server();
  server.addService(service, implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    );
  });
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}
