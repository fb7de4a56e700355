/**
 * What telemetry records of an HTTP request (`http.request.method`, `server.address`):
 * one frozen object per method and origin, cached in the interceptor's shared state and
 * built only when a policy's observer asks for it (a policy without telemetry never does).
 *
 * Cardinality is bounded: a method outside HTTP's own is `_OTHER` (as OpenTelemetry's HTTP
 * conventions ask), and past {@link MAX_ORIGINS} origins a request gets its method alone.
 * Nothing of the path, the query or a key is ever recorded.
 *
 * @internal
 * @module
 */
import type { OperationAttributes } from '../engine/stages.js';

const METHOD = 'http.request.method';
const ADDRESS = 'server.address';
/** Origins an interceptor keeps attributes for; past it, requests carry their method only. */
export const MAX_ORIGINS = 256;
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/** The method alone, per known method (and `_OTHER`): shared by every interceptor. */
const METHOD_ONLY = new Map<string, OperationAttributes>();

function methodOnly(method: string): OperationAttributes {
  let attributes = METHOD_ONLY.get(method);
  if (attributes === undefined) {
    attributes = Object.freeze({ [METHOD]: method });
    METHOD_ONLY.set(method, attributes);
  }
  return attributes;
}

/** The conventional value of `http.request.method`: the method, or `_OTHER`. */
function methodValue(method: unknown): string {
  if (typeof method !== 'string') return '_OTHER';
  if (KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** The host of an origin, without brackets around an IPv6 address; undefined when unparsable. */
function hostOf(origin: string): string | undefined {
  if (!URL.canParse(origin)) return undefined;
  const host = new URL(origin).hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The attributes of one interceptor's requests, by origin and method. */
export class HttpAttributes {
  readonly #byOrigin = new Map<string, Map<string, OperationAttributes>>();

  /** The attributes of a request to `origin` with `method`. */
  get(method: unknown, origin: string | URL | undefined): OperationAttributes {
    const value = methodValue(method);
    const key = typeof origin === 'string' ? origin : origin?.origin;
    if (key === undefined) return methodOnly(value);
    let byMethod = this.#byOrigin.get(key);
    if (byMethod === undefined) {
      if (this.#byOrigin.size >= MAX_ORIGINS) return methodOnly(value);
      byMethod = new Map();
      this.#byOrigin.set(key, byMethod);
    }
    let attributes = byMethod.get(value);
    if (attributes === undefined) {
      const host = hostOf(key);
      attributes =
        host === undefined || host.length === 0
          ? methodOnly(value)
          : Object.freeze({ [METHOD]: value, [ADDRESS]: host });
      byMethod.set(value, attributes);
    }
    return attributes;
  }
}
