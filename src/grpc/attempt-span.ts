/**
 * What breakwater's CLIENT span of each gRPC attempt says (see `OperationObserver.clientAttempt`):
 * the names and attributes `@opentelemetry/instrumentation-grpc` gives its own client
 * spans, so that a backend reads breakwater's attempt spans as it reads the
 * instrumentation's: `grpc.<service>/<method>`, `rpc.system`, `rpc.service`, `rpc.method`,
 * `rpc.grpc.status_code`, and `server.address`/`server.port` when the channel target is
 * known. An attempt after the first also carries `previous-rpc-attempts`, the attribute
 * gRPC's own tracing design (gRFC A72) gives its attempt spans.
 *
 * @internal
 * @module
 */
import type { InterceptorOptions, Metadata } from '@grpc/grpc-js';
import type { ClientAttemptInfo, OperationAttributes } from '../engine/stages.js';
import { taggedTarget } from './target.js';

const RPC_SYSTEM = 'rpc.system';
const RPC_SERVICE = 'rpc.service';
const RPC_METHOD = 'rpc.method';
const SERVER_ADDRESS = 'server.address';
const SERVER_PORT = 'server.port';
/** OpenTelemetry's attribute for the numeric gRPC status of a call. */
const RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
/** gRFC A72's attempt span attribute: the number of attempts made before this one. */
const PREVIOUS_RPC_ATTEMPTS = 'previous-rpc-attempts';
/** Targets kept per method with their own attribute set; calls to more carry none. */
const MAX_TARGETS = 16;
/** Schemes of grpc-js channel targets (`dns:///orders:50051`, `ipv4:10.0.0.1:50051`, `unix:/tmp/s`). */
const SCHEME = /^(dns|ipv4|ipv6|unix|unix-abstract|vsock):(?:\/\/[^/]*\/)?/;

/** Writes one entry into a call's metadata (a propagator's setter). */
export function setMetadata(metadata: Metadata, key: string, value: string): void {
  metadata.set(key, value);
}

/** The attempt span descriptions of one method: one per channel target seen. */
export class AttemptSpans {
  readonly #plain: ClientAttemptInfo;
  readonly #fixed: string | undefined;
  readonly #byTarget = new Map<string, ClientAttemptInfo>();

  /** `path`: `/orders.v1.OrderService/GetOrder`; `target`: the interceptor's `target` option. */
  constructor(path: string, target: string | undefined) {
    const slash = path.lastIndexOf('/');
    const attributes: OperationAttributes = Object.freeze({
      [RPC_SYSTEM]: 'grpc',
      [RPC_SERVICE]: path.slice(1, slash),
      [RPC_METHOD]: path.slice(slash + 1),
    });
    this.#plain = Object.freeze({
      name: `grpc.${path.slice(1)}`,
      attributes,
      previousAttempts: PREVIOUS_RPC_ATTEMPTS,
      statusCode: RPC_GRPC_STATUS_CODE,
    });
    this.#fixed = target;
    if (target !== undefined) this.#plain = this.#withPeer(target);
  }

  /** The description for a call with these options. */
  for(options: InterceptorOptions): ClientAttemptInfo {
    if (this.#fixed !== undefined) return this.#plain;
    const target = taggedTarget(options);
    if (target === undefined) return this.#plain;
    let info = this.#byTarget.get(target);
    if (info === undefined) {
      if (this.#byTarget.size >= MAX_TARGETS) return this.#plain;
      info = this.#withPeer(target);
      this.#byTarget.set(target, info);
    }
    return info;
  }

  #withPeer(target: string): ClientAttemptInfo {
    const { address, port } = peerOf(target);
    const attributes: Record<string, string | number | boolean> = { ...this.#plain.attributes };
    if (address !== undefined) attributes[SERVER_ADDRESS] = address;
    if (port !== undefined) attributes[SERVER_PORT] = port;
    return Object.freeze({ ...this.#plain, attributes: Object.freeze(attributes) });
  }
}

/** The host and port of a grpc-js channel target (the first address of a list). */
export function peerOf(target: string): { address?: string; port?: number } {
  const scheme = SCHEME.exec(target);
  let rest = scheme === null ? target : target.slice(scheme[0].length);
  if (scheme?.[1] === 'unix' || scheme?.[1] === 'unix-abstract') return { address: rest };
  rest = rest.split(',')[0] ?? '';
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(rest);
  if (bracketed !== null) {
    return bracketed[2] === undefined
      ? { address: bracketed[1] as string }
      : { address: bracketed[1] as string, port: Number(bracketed[2]) };
  }
  const colon = rest.indexOf(':');
  if (colon > 0 && colon === rest.lastIndexOf(':') && /^\d{1,5}$/.test(rest.slice(colon + 1))) {
    return { address: rest.slice(0, colon), port: Number(rest.slice(colon + 1)) };
  }
  return rest.length > 0 ? { address: rest } : {};
}
