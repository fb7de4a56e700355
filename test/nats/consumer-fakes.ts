/**
 * Stand-ins for driving `resilientHandler` directly: a consumed message that records what
 * was done to it, a headers object like the clients' own, and a publisher that records
 * what it was asked to store. The real server behaviour is in test/integration/nats.
 */
import { backoff, policy } from '../../src/index.js';
import type {
  ConsumedMsgLike,
  HeadersLike,
  JetStreamPublisher,
  ListableHeadersLike,
  MessageEvent,
  PubAck,
  PublishOptions,
  ResilientHandlerOptions,
} from '../../src/nats/index.js';
import { ManualClock } from '../support/clock.js';

/** Headers as both clients keep them: several values per name. */
export class FakeHeaders implements HeadersLike, ListableHeadersLike {
  readonly #map = new Map<string, string[]>();

  constructor(entries: Record<string, string | string[]> = {}) {
    for (const [key, value] of Object.entries(entries)) {
      this.#map.set(key, Array.isArray(value) ? [...value] : [value]);
    }
  }

  get(key: string): string {
    return this.#map.get(key)?.[0] ?? '';
  }

  set(key: string, value: string): void {
    if (/[\r\n]/.test(value)) throw new Error('invalid header value - \\r and \\n are not allowed.');
    this.#map.set(key, [value]);
  }

  append(key: string, value: string): void {
    this.#map.set(key, [...(this.#map.get(key) ?? []), value]);
  }

  keys(): string[] {
    return [...this.#map.keys()];
  }

  values(key: string): string[] {
    return [...(this.#map.get(key) ?? [])];
  }

  toObject(): Record<string, string[]> {
    return Object.fromEntries(this.#map);
  }
}

/** What was done to a fake message, in order. */
export type Settlement = 'ack' | 'term' | 'working' | { nak: number | undefined };

export interface FakeMsg extends ConsumedMsgLike {
  readonly log: Settlement[];
  /** The settlements only (no `working`). */
  settled(): Settlement[];
  /** How many times `working()` was called. */
  workings(): number;
}

export interface FakeMsgOptions {
  seq?: number;
  deliveryCount?: number;
  stream?: string;
  consumer?: string;
  subject?: string;
  data?: string;
  headers?: FakeHeaders;
}

export function fakeMsg(options: FakeMsgOptions = {}): FakeMsg {
  const log: Settlement[] = [];
  return {
    seq: options.seq ?? 7,
    subject: options.subject ?? 'orders.created',
    data: new TextEncoder().encode(options.data ?? '{"id":"o-1"}'),
    headers: options.headers,
    info: {
      stream: options.stream ?? 'ORDERS',
      consumer: options.consumer ?? 'shipping',
      deliveryCount: options.deliveryCount ?? 1,
    },
    log,
    ack: () => log.push('ack'),
    nak: (millis?: number) => log.push({ nak: millis }),
    term: () => log.push('term'),
    working: () => log.push('working'),
    settled: () => log.filter((entry) => entry !== 'working'),
    workings: () => log.filter((entry) => entry === 'working').length,
  };
}

export interface PublishCall {
  subject: string;
  payload: string;
  options: PublishOptions | undefined;
}

/** A publisher that stores what it is given, or answers with `answer(n)` (n: 0-based call). */
export function fakePublisher(answer?: (n: number, call: PublishCall) => Promise<PubAck> | undefined) {
  const calls: PublishCall[] = [];
  let seq = 0;
  const publisher: JetStreamPublisher = {
    policy: policy({ retry: false }),
    publish(subject, payload, options) {
      const call: PublishCall = {
        subject,
        payload: typeof payload === 'string' ? payload : new TextDecoder().decode(payload),
        options,
      };
      calls.push(call);
      const scripted = answer?.(calls.length - 1, call);
      return scripted ?? Promise.resolve({ stream: 'DLQ', seq: ++seq, duplicate: false });
    },
  };
  return { publisher, calls };
}

/** An error thrown as a payload that does not parse would throw it. */
export function parseError(): SyntaxError {
  try {
    JSON.parse('{not json');
  } catch (error) {
    return error as SyntaxError;
  }
  throw new Error('unreachable');
}

/** Exact delays: 100, 200, 400, ... capped at 1 000. */
export const steps = backoff.exponential({ initialDelay: 100, maxDelay: 1_000, jitter: 'none' });

/** Options for a test: exact delays, a manual clock, events and publishes recorded. */
export function options(
  extra: Partial<ResilientHandlerOptions<FakeMsg>> = {},
): ResilientHandlerOptions<FakeMsg> & {
  events: MessageEvent[];
  calls: ReturnType<typeof fakePublisher>['calls'];
} {
  const { publisher, calls } = fakePublisher();
  const events: MessageEvent[] = [];
  return {
    publisher,
    headers: () => new FakeHeaders(),
    backoff: steps,
    ackWait: 30_000,
    clock: new ManualClock(),
    onEvent: (event) => events.push(event),
    ...extra,
    events,
    calls,
  };
}

/** The options object without the test's own fields (unknown keys are refused). */
export function clean<T extends { events?: unknown; calls?: unknown }>(o: T): Omit<T, 'events' | 'calls'> {
  const { events: _e, calls: _c, ...rest } = o;
  return rest;
}

/** The headers a dead-letter copy was published with. */
export function headersOf(call: PublishCall | undefined): FakeHeaders {
  const headers = call?.options?.headers;
  if (!(headers instanceof FakeHeaders)) throw new Error('the copy was published without headers');
  return headers;
}

/** A handler that always throws `error`. */
export const failing =
  (error: unknown = new Error('carrier unavailable')) =>
  (): never => {
    throw error;
  };
