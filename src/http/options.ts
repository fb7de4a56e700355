/**
 * Options shared by `httpInterceptor` and `resilientFetch`, their defaults, and their
 * validation. Everything is checked once, at construction; per-request overrides are
 * checked when a request carries them.
 *
 * @module
 */
import { InvalidOptionsError } from '../errors.js';
import { bool, invalid, obj } from '../validate.js';
import { IDEMPOTENCY_KEY_HEADER, isValidIdempotencyKey } from './idempotency-key.js';

/** Statuses retried by default: conflict, rate limited, and the gateway/availability trio. */
export const DEFAULT_STATUS_CODES: readonly number[] = Object.freeze([409, 429, 502, 503, 504]);
/** Methods repeated by default without an idempotency key (RFC 9110 §9.2.2 idempotent methods). */
export const DEFAULT_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);
/** Network error codes retried by default: the connection failed or broke, nothing was answered. */
export const DEFAULT_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** Options of `httpInterceptor` and `resilientFetch`; each may be overridden per request. */
export interface HttpOptions {
  /**
   * Response statuses that may be retried (integers from 400 to 599). A response with one
   * of these, or any 5xx, fails its attempt (the breaker counts it); only these are retried.
   * @default [409, 429, 502, 503, 504]
   */
  statusCodes?: readonly number[] | undefined;
  /**
   * Methods that may be repeated without an idempotency key. Any other method (POST,
   * PATCH) is repeated only when the request carries an idempotency key.
   * @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']
   */
  methods?: readonly string[] | undefined;
  /**
   * Network error codes (`error.code`, or the code of its `cause`) that are retried.
   * @default ['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']
   */
  errorCodes?: readonly string[] | undefined;
  /**
   * Name of the header that carries the idempotency key.
   * @default 'idempotency-key'
   */
  idempotencyHeader?: string | undefined;
  /**
   * Name of a header that tells the server how long it has for this attempt: the whole
   * milliseconds left before the earlier of the deadline and the attempt timeout. Sent
   * only when the attempt has a deadline.
   * @default undefined (no header is sent)
   */
  deadlineHeader?: string | undefined;
}

/** Options of one request: the shared options, plus what only a request can say. */
export interface HttpRequestOptions extends HttpOptions {
  /**
   * The request's own idempotency key (an order id). Sent in the idempotency header as an
   * RFC 8941 string, identical on every attempt; makes a POST or PATCH repeatable.
   * @default undefined (the policy's generated key, if `idempotency` is on)
   */
  idempotencyKey?: string | undefined;
  /**
   * Declares the request safe to repeat whatever its method (`true`), or never to repeat
   * (`false`).
   * @default undefined (decided by `methods` and the idempotency key)
   */
  idempotent?: boolean | undefined;
  /**
   * An absolute deadline, ms since the epoch (e.g. propagated from upstream); the earlier
   * of this and the policy's deadline applies.
   * @default undefined
   */
  deadline?: number | undefined;
  /**
   * The keyed circuit breaker's key.
   * @default the request's origin, e.g. 'https://api.example.com'
   */
  key?: string | undefined;
}

/** Request-independent options, ready for use. */
export interface ResolvedHttpOptions {
  /** Indexed by status: 0 success, 1 failure, 2 retryable failure. */
  readonly statusKinds: Uint8Array;
  readonly methods: ReadonlySet<string>;
  readonly errorCodes: ReadonlySet<string>;
  /** Lower case. */
  readonly idempotencyHeader: string;
  /** Lower case, or undefined when off. */
  readonly deadlineHeader: string | undefined;
}

/** How a response status counts. */
export const SUCCESS = 0;
export const FAILURE = 1;
export const RETRYABLE = 2;

/** The option names of {@link HttpOptions}. */
export const HTTP_OPTION_KEYS = [
  'statusCodes',
  'methods',
  'errorCodes',
  'idempotencyHeader',
  'deadlineHeader',
] as const;
const SHARED_KEYS = HTTP_OPTION_KEYS;
const REQUEST_KEYS = [...SHARED_KEYS, 'idempotencyKey', 'idempotent', 'deadline', 'key'] as const;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Validates shared options; `where` names the option object in errors. */
export function resolveHttpOptions(
  options: HttpOptions | undefined,
  where: string,
  extraKeys: readonly string[] = [],
): ResolvedHttpOptions {
  const o = obj<HttpOptions>(where, options, [...SHARED_KEYS, ...extraKeys]) ?? {};
  return build(o, undefined, where);
}

/** A request's options merged over the shared ones. */
export interface RequestSettings {
  readonly options: ResolvedHttpOptions;
  readonly idempotencyKey: string | undefined;
  readonly idempotent: boolean | undefined;
  readonly deadline: number | undefined;
  readonly key: string | undefined;
}

/** Validates a request's `breakwater` options and merges them over `base`. */
export function resolveRequestOptions(
  base: ResolvedHttpOptions,
  options: HttpRequestOptions,
  where: string,
): RequestSettings {
  const o = obj<HttpRequestOptions>(where, options, REQUEST_KEYS) ?? {};
  const changed = SHARED_KEYS.some((k) => o[k] !== undefined);
  const { idempotencyKey, deadline, key } = o;
  if (idempotencyKey !== undefined && !isValidIdempotencyKey(idempotencyKey)) {
    invalid(
      at(where, 'idempotencyKey'),
      'a string of 1 to 8192 printable ASCII characters (an RFC 8941 string)',
      idempotencyKey,
    );
  }
  if (deadline !== undefined && (typeof deadline !== 'number' || Number.isNaN(deadline))) {
    invalid(at(where, 'deadline'), 'a number (ms since the epoch)', deadline);
  }
  if (key !== undefined && typeof key !== 'string') invalid(at(where, 'key'), 'a string', key);
  return {
    options: changed ? build(o, base, where) : base,
    idempotencyKey,
    idempotent: o.idempotent === undefined ? undefined : bool(at(where, 'idempotent'), o.idempotent, false),
    deadline,
    key,
  };
}

function build(o: HttpOptions, base: ResolvedHttpOptions | undefined, where: string): ResolvedHttpOptions {
  const statusKinds =
    o.statusCodes === undefined && base !== undefined
      ? base.statusKinds
      : kinds(
          list(
            at(where, 'statusCodes'),
            o.statusCodes,
            DEFAULT_STATUS_CODES,
            isStatus,
            'integers from 400 to 599',
          ),
        );
  const methods =
    o.methods === undefined && base !== undefined
      ? base.methods
      : new Set(
          list(at(where, 'methods'), o.methods, DEFAULT_METHODS, isToken, 'method names (HTTP tokens)').map(
            (m) => m.toUpperCase(),
          ),
        );
  const errorCodes =
    o.errorCodes === undefined && base !== undefined
      ? base.errorCodes
      : new Set(
          list(at(where, 'errorCodes'), o.errorCodes, DEFAULT_ERROR_CODES, isNonEmpty, 'non-empty strings'),
        );
  const idempotencyHeader =
    o.idempotencyHeader === undefined
      ? (base?.idempotencyHeader ?? IDEMPOTENCY_KEY_HEADER)
      : headerName(at(where, 'idempotencyHeader'), o.idempotencyHeader);
  const deadlineHeader =
    o.deadlineHeader === undefined
      ? base?.deadlineHeader
      : headerName(at(where, 'deadlineHeader'), o.deadlineHeader);
  return Object.freeze({ statusKinds, methods, errorCodes, idempotencyHeader, deadlineHeader });
}

function list<T>(
  option: string,
  value: unknown,
  fallback: readonly T[],
  check: (item: unknown) => boolean,
  allowed: string,
): readonly T[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value)) invalid(option, `an array of ${allowed}`, value);
  value.forEach((item, i) => {
    if (!check(item)) {
      throw new InvalidOptionsError(
        option,
        `${option} must be an array of ${allowed}; got ${JSON.stringify(item) ?? String(item)} at index ${i}`,
      );
    }
  });
  return value as T[];
}

function kinds(statusCodes: readonly number[]): Uint8Array {
  const table = new Uint8Array(600);
  table.fill(FAILURE, 500);
  for (const status of statusCodes) table[status] = RETRYABLE;
  return table;
}

function headerName(option: string, value: unknown): string {
  if (!isToken(value)) invalid(option, 'a header name (an HTTP token)', value);
  return (value as string).toLowerCase();
}

const isStatus = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 400 && (v as number) <= 599;
const isToken = (v: unknown): boolean => typeof v === 'string' && TOKEN.test(v);
const isNonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0;

/** The dotted name of `key` inside the option object `where` ('' at the top). */
function at(where: string, key: string): string {
  return where === '' ? key : `${where}.${key}`;
}
