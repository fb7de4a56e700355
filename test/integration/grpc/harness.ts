/**
 * A real grpc-js OrderService on 127.0.0.1 for the adapter's integration tests, with
 * fault injection from the server side: each call follows the next step of its method's
 * script (fail with a status and trailers, hang until cancelled, answer late, stream some
 * messages then fail), and the server records what it saw (metadata, deadline, timing).
 * Tests wait for calls by event, not by sleeping.
 */
import { EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  type ChannelOptions,
  type Client,
  credentials,
  type Interceptor,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServiceClientConstructor,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  type ChatMessage,
  type CreateOrderRequest,
  type GetOrderRequest,
  type ImportSummary,
  type Order,
  type OrderEvent,
  OrderServiceClient,
  type OrderServiceServer,
  OrderServiceService,
} from '../../fixtures/grpc/generated/orders.js';

export const PROTO_PATH = fileURLToPath(new URL('../../fixtures/grpc/orders.proto', import.meta.url));

export const GET_ORDER = '/orders.v1.OrderService/GetOrder';
export const CREATE_ORDER = '/orders.v1.OrderService/CreateOrder';
export const WATCH_ORDER = '/orders.v1.OrderService/WatchOrder';
export const IMPORT_ORDERS = '/orders.v1.OrderService/ImportOrders';
export const CHAT = '/orders.v1.OrderService/Chat';

/** What the server does with one call. */
export type Step =
  | { readonly kind: 'ok'; readonly delayMs?: number }
  | {
      readonly kind: 'fail';
      readonly code: status;
      readonly details?: string;
      /** Sent as `grpc-retry-pushback-ms`. */
      readonly pushback?: string;
      readonly trailers?: Readonly<Record<string, string>>;
    }
  /** Never answers; the call ends when the client cancels it or its deadline passes. */
  | { readonly kind: 'hang' }
  /** Server streaming: sends `messages` (each after `gapMs`), then fails with `failWith` or ends OK. */
  | {
      readonly kind: 'stream';
      readonly messages: number;
      readonly gapMs?: number;
      readonly failWith?: status;
      /** Waits this long before the first message. */
      readonly firstDelayMs?: number;
    };

/** A call as the server saw it. */
export interface SeenCall {
  readonly method: string;
  readonly metadata: Metadata;
  /** Date.now() when the handler ran. */
  readonly at: number;
  /** The call's deadline as the server computed it from grpc-timeout, ms since the epoch. */
  readonly deadline: number | undefined;
  readonly request: unknown;
  /** Resolves when the client cancelled the call (or its deadline passed). */
  readonly cancelled: Promise<void>;
  isCancelled(): boolean;
  /** The first value of a metadata key. */
  header(key: string): string | undefined;
}

function deadlineOf(call: { getDeadline(): Date | number }): number | undefined {
  const d = call.getDeadline();
  const ms = typeof d === 'number' ? d : d.getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

function failure(step: Extract<Step, { kind: 'fail' }>, seq: number): ServerErrorResponse {
  const metadata = new Metadata();
  if (step.pushback !== undefined) metadata.set('grpc-retry-pushback-ms', step.pushback);
  metadata.set('x-attempt-seen', String(seq));
  for (const [key, value] of Object.entries(step.trailers ?? {})) metadata.set(key, value);
  const details = step.details ?? `injected ${status[step.code]} #${seq}`;
  return Object.assign(new Error(details), { code: step.code, details, metadata });
}

/** A scriptable OrderService server. */
export class OrdersServer extends EventEmitter {
  readonly calls: SeenCall[] = [];
  #server: Server | undefined;
  #port = 0;
  readonly #scripts = new Map<string, Step[]>();
  /** Extra behaviour for the propagation tests: replaces the GetOrder handler (calls are still recorded). */
  getOrderHandler: OrderServiceServer['getOrder'] | undefined;

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Calls of one method, in arrival order. */
  seen(method: string): SeenCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** The next calls of `method` follow `steps`; after them, calls succeed. */
  script(method: string, ...steps: Step[]): this {
    this.#scripts.set(method, [...steps]);
    return this;
  }

  /** Resolves once `count` calls of `method` have arrived. */
  async waitForCalls(method: string, count: number): Promise<SeenCall[]> {
    while (this.seen(method).length < count) await once(this, 'call');
    return this.seen(method);
  }

  #next(method: string): Step {
    return this.#scripts.get(method)?.shift() ?? { kind: 'ok' };
  }

  #record(
    method: string,
    call: EventEmitter & { metadata: Metadata; getDeadline(): Date | number; cancelled: boolean },
    request: unknown,
  ): { seen: SeenCall; seq: number } {
    const cancelled = new Promise<void>((resolve) => {
      if (call.cancelled) resolve();
      else call.once('cancelled', () => resolve());
    });
    const seen: SeenCall = {
      method,
      metadata: call.metadata.clone(),
      at: Date.now(),
      deadline: deadlineOf(call),
      request,
      cancelled,
      isCancelled: () => call.cancelled,
      header: (key) => {
        const value = call.metadata.get(key)[0];
        return value === undefined ? undefined : String(value);
      },
    };
    this.calls.push(seen);
    const seq = this.seen(method).length;
    this.emit('call', seen);
    return { seen, seq };
  }

  #unary<Req>(method: string, answer: (request: Req, seq: number) => unknown) {
    return (
      call: EventEmitter & {
        request: Req;
        metadata: Metadata;
        getDeadline(): Date | number;
        cancelled: boolean;
      },
      callback: (error: ServerErrorResponse | null, value?: never) => void,
    ) => {
      const { seq } = this.#record(method, call, call.request);
      const step = this.#next(method);
      const reply = (error: ServerErrorResponse | null, value?: unknown) => {
        if (!call.cancelled) callback(error, value as never);
      };
      if (step.kind === 'fail') reply(failure(step, seq));
      else if (step.kind === 'hang') return;
      else if (step.kind === 'ok' && step.delayMs !== undefined) {
        const timer = setTimeout(() => reply(null, answer(call.request, seq)), step.delayMs);
        call.once('cancelled', () => clearTimeout(timer));
      } else reply(null, answer(call.request, seq));
    };
  }

  #implementation(): OrderServiceServer {
    return {
      getOrder: (call, callback) => {
        if (this.getOrderHandler !== undefined) {
          this.#record(GET_ORDER, call, call.request);
          return this.getOrderHandler(call, callback);
        }
        return this.#unary<GetOrderRequest>(
          GET_ORDER,
          (request, seq): Order => ({
            id: request.id,
            item: `item-${seq}`,
            quantity: seq,
          }),
        )(call, callback);
      },
      createOrder: this.#unary<CreateOrderRequest>(
        CREATE_ORDER,
        (request, seq): Order => ({
          id: `order-${seq}`,
          item: request.item,
          quantity: request.quantity,
        }),
      ),
      watchOrder: (call) => {
        const { seq } = this.#record(WATCH_ORDER, call, call.request);
        const step = this.#next(WATCH_ORDER);
        if (step.kind === 'hang') return;
        if (step.kind === 'fail') {
          call.emit('error', failure(step, seq));
          return;
        }
        const messages = step.kind === 'stream' ? step.messages : 3;
        const gap = step.kind === 'stream' ? (step.gapMs ?? 0) : 0;
        const first = step.kind === 'stream' ? (step.firstDelayMs ?? 0) : 0;
        let sent = 0;
        let timer: NodeJS.Timeout | undefined;
        call.once('cancelled', () => clearTimeout(timer));
        const send = () => {
          if (call.cancelled) return;
          if (sent < messages) {
            const event: OrderEvent = { id: call.request.id, status: `s${sent + 1}`, sequence: sent + 1 };
            call.write(event);
            sent++;
            timer = setTimeout(send, gap);
            return;
          }
          if (step.kind === 'stream' && step.failWith !== undefined) {
            call.emit('error', failure({ kind: 'fail', code: step.failWith }, seq));
          } else {
            call.end();
          }
        };
        timer = setTimeout(send, first);
      },
      importOrders: (call, callback) => {
        const { seq } = this.#record(IMPORT_ORDERS, call, undefined);
        const step = this.#next(IMPORT_ORDERS);
        let count = 0;
        call.on('data', () => count++);
        call.on('end', () => {
          if (call.cancelled) return;
          if (step.kind === 'fail') callback(failure(step, seq));
          else if (step.kind !== 'hang') callback(null, { count } satisfies ImportSummary);
        });
      },
      chat: (call) => {
        const { seq } = this.#record(CHAT, call, undefined);
        const step = this.#next(CHAT);
        if (step.kind === 'fail') {
          call.emit('error', failure(step, seq));
          return;
        }
        call.on('data', (message: ChatMessage) =>
          call.write({ text: `echo: ${message.text}` } satisfies ChatMessage),
        );
        call.on('end', () => call.end());
      },
    };
  }

  /** Starts serving, on `port` (0: any free port). */
  async start(port = this.#port): Promise<this> {
    const server = new Server();
    server.addService(OrderServiceService, this.#implementation());
    this.#port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    this.#server = server;
    return this;
  }

  /** Stops at once: open calls are cut off (the client sees UNAVAILABLE or CANCELLED). */
  kill(): void {
    this.#server?.forceShutdown();
    this.#server = undefined;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
}

export async function startServer(): Promise<OrdersServer> {
  return new OrdersServer().start();
}

/** Client options for tests: fast reconnects, grpc-js's own retries off. */
export function clientOptions(interceptors: Interceptor[], extra: ChannelOptions = {}): ChannelOptions {
  return {
    'grpc.enable_retries': 0,
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
    ...extra,
    interceptors,
  };
}

export type ClientKind = 'proto-loader' | 'generated';
export const CLIENT_KINDS: readonly ClientKind[] = ['proto-loader', 'generated'];

let loaded: ServiceClientConstructor | undefined;
function protoLoaderConstructor(): ServiceClientConstructor {
  if (loaded === undefined) {
    const definition = loadSync(PROTO_PATH, { longs: Number, defaults: true });
    const grpcObject = loadPackageDefinition(definition) as unknown as {
      orders: { v1: { OrderService: ServiceClientConstructor } };
    };
    loaded = grpcObject.orders.v1.OrderService;
  }
  return loaded;
}

/**
 * A client of either kind. Both expose the same grpc-js methods (`getOrder`, ...), so the
 * tests type them with the generated interface.
 */
export function makeClient(kind: ClientKind, address: string, options: ChannelOptions): OrderServiceClient {
  if (kind === 'generated') return new OrderServiceClient(address, credentials.createInsecure(), options);
  const Constructor = protoLoaderConstructor();
  return new Constructor(address, credentials.createInsecure(), options) as unknown as OrderServiceClient;
}

/** The outcome of a unary call: its value or its error, and the time it took. */
export interface Outcome<T> {
  readonly value: T | undefined;
  readonly error: ServiceError | undefined;
  readonly ms: number;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Record<string, unknown>,
  callback: (error: ServiceError | null, response: Res) => void,
) => { cancel(): void };

/** Makes a unary call and settles with its outcome (never rejects). */
export function callUnary<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  metadata = new Metadata(),
  options: Record<string, unknown> = {},
): { outcome: Promise<Outcome<Res>>; cancel(): void } {
  const started = performance.now();
  let call: { cancel(): void } | undefined;
  const outcome = new Promise<Outcome<Res>>((resolve) => {
    call = method.call(client, request, metadata, options, (error, value) => {
      const ms = performance.now() - started;
      resolve(error ? { value: undefined, error, ms } : { value, error: undefined, ms });
    });
  });
  return { outcome, cancel: () => call?.cancel() };
}

export function getOrder(
  client: OrderServiceClient,
  id = 'o-1',
  metadata?: Metadata,
  options?: Record<string, unknown>,
) {
  return callUnary<GetOrderRequest, Order>(client, client.getOrder as never, { id }, metadata, options);
}

export function createOrder(
  client: OrderServiceClient,
  item = 'book',
  metadata?: Metadata,
  options?: Record<string, unknown>,
) {
  return callUnary<CreateOrderRequest, Order>(
    client,
    client.createOrder as never,
    { item, quantity: 1 },
    metadata,
    options,
  );
}
