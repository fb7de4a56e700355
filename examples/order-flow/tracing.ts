/**
 * The protected run's traces, recorded by the real OpenTelemetry SDK (an in-memory span
 * exporter) through `breakwater/otel`, and the trace of the slowest checkout as a text
 * waterfall.
 *
 * Every protected client's policy takes {@link OrderFlowTracing.telemetry}, so each call
 * through a policy is one span, `breakwater <policy>`, and every attempt runs with that
 * span active; a gRPC call's attempts are CLIENT spans of their own under it. The trace crosses the services the way a real deployment's would, with one
 * shortcut for the first hop:
 *
 * - gRPC (Checkout → Discount and Orders, Discount → Loyalty, Orders → JetStream): a client
 *   interceptor below breakwater's writes each attempt's `traceparent` (the attempt span is
 *   active there) into the call's metadata (breakwater does it too, through the global
 *   propagator, which this example leaves unset), and the server side reads it back before its own downstream call
 *   ({@link OrderFlowTracing.fromCall}). In production, `@opentelemetry/instrumentation-grpc`
 *   does both.
 * - HTTP (shopper → Checkout): Checkout's handler does not see request headers in this
 *   example, so an undici interceptor below breakwater's keeps each attempt's context
 *   under the request's idempotency key (the order id), and Checkout's clients look it up
 *   ({@link OrderFlowTracing.fromKey}). In production, `instrumentation-undici` and
 *   `instrumentation-http` carry `traceparent` instead.
 *
 * @module
 */
import { InterceptingCall, type InterceptorOptions, type Metadata, type NextCall } from '@grpc/grpc-js';
import {
  type Context,
  context,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { openTelemetry, type Telemetry } from 'breakwater/otel';
import type { Dispatcher } from 'undici';
import type { Stack } from './stacks/types.js';

/** Which service each protected policy calls from. */
const CALLER: Readonly<Record<string, string>> = {
  checkout: 'Shopper',
  discount: 'Checkout',
  orders: 'Checkout',
  loyalty: 'Discount',
  publish: 'Orders',
  outbox: 'Orders',
};

const ROOT_SPAN = 'place order';
const SEQ = 'order.seq';
const PLACED = 'order.placed';

/** One row of the waterfall. */
export interface WaterfallRow {
  readonly service: string;
  readonly span: string;
  /** Nesting depth (0: the shopper's root span). */
  readonly depth: number;
  /** Since the trace started, ms. */
  readonly startMs: number;
  readonly durationMs: number;
  /** `breakwater.outcome` with the attempts made; for the shopper's span, `placed` or `not placed`. */
  readonly outcome: string;
}

const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

let contextManager: AsyncLocalStorageContextManager | undefined;

const metadataGetter: TextMapGetter<Metadata> = {
  get: (carrier, key) => {
    const [value] = carrier.get(key);
    return value === undefined ? undefined : String(value);
  },
  keys: (carrier) => Object.keys(carrier.getMap()),
};

export class OrderFlowTracing {
  readonly #exporter = new InMemorySpanExporter();
  readonly #provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.#exporter)] });
  readonly #propagator = new W3CTraceContextPropagator();
  /** The context of the latest attempt of each shopper request, by idempotency key. */
  readonly #byKey = new Map<string, Context>();
  /** The telemetry every protected policy takes: spans only, to this run's provider. */
  readonly telemetry: Telemetry = openTelemetry({ tracerProvider: this.#provider, metrics: false });

  constructor() {
    // breakwater makes its span active around every attempt through the API's context
    // manager: without one, nothing nests. One per process.
    if (contextManager === undefined) {
      contextManager = new AsyncLocalStorageContextManager().enable();
      context.setGlobalContextManager(contextManager);
    }
  }

  /** Runs the shopper's checkout of order `seq` (idempotency key `key`) under a root span of its own. */
  async placeOrder<T>(seq: number, key: string, run: () => Promise<T>): Promise<T> {
    const root = this.#provider.getTracer('order-flow').startSpan(ROOT_SPAN, { attributes: { [SEQ]: seq } });
    try {
      const result = await context.with(trace.setSpan(ROOT_CONTEXT, root), run);
      if (typeof result === 'boolean') root.setAttribute(PLACED, result);
      return result;
    } finally {
      root.end();
      this.#byKey.delete(key);
    }
  }

  /** An undici interceptor, below breakwater's: keeps each attempt's context by idempotency key. */
  readonly undici: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (options, handler) => {
    // The header is a structured-field string: `"order-42"`.
    const key = headerValue(options.headers, 'idempotency-key')?.replace(/^"(.*)"$/, '$1');
    if (key !== undefined) this.#byKey.set(key, context.active());
    return dispatch(options, handler);
  };

  /** Runs `call` in the context of the shopper's attempt that carried `key`. */
  fromKey<T>(key: string | undefined, call: () => T): T {
    const found = key === undefined ? undefined : this.#byKey.get(key);
    return found === undefined ? call() : context.with(found, call);
  }

  /** A gRPC client interceptor, below breakwater's: each attempt's `traceparent` in its metadata. */
  readonly grpc = (options: InterceptorOptions, next: NextCall): InterceptingCall =>
    new InterceptingCall(next(options), {
      start: (metadata, listener, start) => {
        this.#propagator.inject(context.active(), metadata, metadataSetter);
        start(metadata, listener);
      },
    });

  /** Runs `run` in the context the caller's attempt sent in `call`'s metadata. */
  fromCall<T>(call: { readonly metadata: Metadata }, run: () => T): T {
    return context.with(this.#propagator.extract(ROOT_CONTEXT, call.metadata, metadataGetter), run);
  }

  /**
   * The stack with its service-side hooks in the trace: the shopper's orders under root
   * spans, Checkout's calls in the context of the shopper's attempt, Discount's and Orders'
   * in the context their caller sent.
   */
  traced(stack: Stack): Stack {
    return {
      ...stack,
      edge: (url) => {
        const edge = stack.edge(url);
        // The protected edge sends the idempotency key `order-<seq>`.
        return {
          ...edge,
          placeOrder: (cart) => this.placeOrder(cart.seq, `order-${cart.seq}`, () => edge.placeOrder(cart)),
        };
      },
      checkout: (addresses) => {
        const clients = stack.checkout(addresses);
        return {
          ...clients,
          discount: (req, incoming) =>
            this.fromKey(incoming.idempotencyKey, () => clients.discount(req, incoming)),
          createOrder: (req, incoming) =>
            this.fromKey(incoming.idempotencyKey, () => clients.createOrder(req, incoming)),
        };
      },
      discount: (address) => {
        const clients = stack.discount(address);
        return { ...clients, points: (req, call) => this.fromCall(call, () => clients.points(req, call)) };
      },
      publisher: (js) => {
        const publisher = stack.publisher(js);
        return {
          ...publisher,
          inline: (event, call) => this.fromCall(call, () => publisher.inline(event, call)),
        };
      },
    };
  }

  /** The trace of the slowest checkout the shopper placed (warm-up orders excluded). */
  slowestCheckout(exclude: number): WaterfallRow[] {
    const spans = this.#exporter.getFinishedSpans();
    let slowest: ReadableSpan | undefined;
    for (const span of spans) {
      if (span.name !== ROOT_SPAN || span.attributes[SEQ] === exclude) continue;
      if (slowest === undefined || ms(span.duration) > ms(slowest.duration)) slowest = span;
    }
    if (slowest === undefined) return [];
    const traceId = slowest.spanContext().traceId;
    const children = new Map<string, ReadableSpan[]>();
    for (const span of spans) {
      const parent = span.parentSpanContext?.spanId;
      if (span.spanContext().traceId !== traceId || parent === undefined) continue;
      const list = children.get(parent) ?? [];
      list.push(span);
      children.set(parent, list);
    }
    const origin = ms(slowest.startTime);
    const rows: WaterfallRow[] = [];
    const visit = (span: ReadableSpan, depth: number, caller: string): void => {
      const policy = span.attributes['breakwater.policy'];
      const outcome = span.attributes['breakwater.outcome'];
      const attempts = span.attributes['breakwater.attempts'];
      // A gRPC attempt's own CLIENT span (breakwater makes one per attempt of a traced call).
      const code = span.attributes['rpc.grpc.status_code'];
      const service = typeof policy === 'string' ? (CALLER[policy] ?? '?') : caller;
      rows.push({
        service,
        span: span.name,
        depth,
        startMs: ms(span.startTime) - origin,
        durationMs: ms(span.duration),
        outcome:
          outcome !== undefined
            ? `${String(outcome)}, ${attempts} attempt${attempts === 1 ? '' : 's'}`
            : code !== undefined
              ? `attempt ${Number(span.attributes['previous-rpc-attempts'] ?? 0) + 1}, status ${String(code)}`
              : span.attributes[PLACED] === true
                ? 'placed'
                : 'not placed',
      });
      const under = (children.get(span.spanContext().spanId) ?? []).sort(
        (a, b) => ms(a.startTime) - ms(b.startTime),
      );
      for (const child of under) visit(child, depth + 1, service);
    };
    visit(slowest, 0, 'Shopper');
    return rows;
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}

/** An `HrTime` as ms. */
function ms([seconds, nanos]: readonly [number, number]): number {
  return seconds * 1_000 + nanos / 1e6;
}

/** A request header's value, from undici's object or flat-array headers. */
function headerValue(headers: unknown, name: string): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
    return undefined;
  }
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && value !== undefined) return String(value);
  }
  return undefined;
}
