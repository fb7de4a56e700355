/**
 * The interceptor's options, validated once, and the per-method plan each call follows:
 * which policy, which classification, whether the request must be kept for a retry.
 *
 * @module
 */
import type { CallOptions, InterceptorOptions } from '@grpc/grpc-js';
import type { OperationAttributes } from '../engine/stages.js';
import type { Clock, Policy, RetryOn } from '../index.js';
import { isPolicy } from '../policy.js';
import { bool, invalid, noFallback, obj, fn as validateFn } from '../validate.js';
import { AttemptSpans } from './attempt-span.js';
import { grpcRetryOn, neverRetry } from './classify.js';
import { taggedTarget } from './target.js';

/** Options for one method, keyed by its full path in {@link GrpcInterceptorOptions.methods}. */
export interface GrpcMethodOptions {
  /**
   * Whether calling the method twice has the same effect as calling it once. A method
   * that is not idempotent is retried only when the call carries an idempotency key
   * (the policy's `idempotency: true`, or an `idempotency-key` metadata entry the caller
   * set), so that the server can recognise a repeat.
   * @default the interceptor's `idempotent` option (true)
   */
  idempotent?: boolean | undefined;
  /**
   * `false`: never retry this method. Its deadline, circuit breaker and bulkhead still apply.
   * @default true
   */
  retry?: boolean | undefined;
  /**
   * A policy of its own for this method (its own deadline, retries, breaker...), used
   * instead of the interceptor's.
   * @default the interceptor's policy
   */
  policy?: Policy | undefined;
}

/** What a {@link GrpcInterceptorOptions.key} function is told about a call. */
export interface GrpcCallInfo {
  /** The method's full path, e.g. `/orders.v1.OrderService/CreateOrder`. */
  readonly method: string;
  /** The call's options (deadline, host, parent, ...). */
  readonly options: CallOptions;
}

/** Options of {@link grpcInterceptor}. */
export interface GrpcInterceptorOptions {
  /**
   * Options per method, keyed by the method's full path
   * (`'/orders.v1.OrderService/CreateOrder'`). Methods not listed use the defaults.
   * @default {}
   */
  methods?: Readonly<Record<string, GrpcMethodOptions>> | undefined;
  /**
   * Whether methods not listed in `methods` are idempotent (see
   * {@link GrpcMethodOptions.idempotent}).
   * @default true
   */
  idempotent?: boolean | undefined;
  /**
   * The breaker key of every call through this interceptor (with a
   * `keyedCircuitBreaker`): the channel target of the client you give the interceptor to.
   * @default the target recorded by {@link tagChannelTarget}, if the client uses it
   */
  target?: string | undefined;
  /**
   * Computes the breaker key of a call (with a `keyedCircuitBreaker`); overrides `target`.
   * @default none: `target`, else the target recorded by {@link tagChannelTarget}
   */
  key?: ((call: GrpcCallInfo) => string | undefined) | undefined;
}

/** How calls of one method are run. @internal */
export interface MethodPlan {
  readonly policy: Policy;
  /**
   * The policy for a call without an idempotency key, when `policy` hedges and the method
   * is not idempotent: the same policy with one attempt (no hedge, no retry), since such a
   * call is never repeated. Undefined when every call may use `policy`.
   */
  readonly unhedged: Policy | undefined;
  /** Whether `policy` hedges (several attempts may be in flight at once). */
  readonly hedged: boolean;
  /** The classification passed to `execute` (undefined: the policy's own). */
  readonly retryOn: RetryOn | undefined;
  /** Whether a failed attempt may be retried, so the request must be kept for a replay. */
  readonly retries: boolean;
  readonly streamingRequest: boolean;
  readonly streamingResponse: boolean;
  readonly attemptTimeout: number | undefined;
  readonly clock: Clock;
  /**
   * What telemetry records of the method's calls: `rpc.method`, the method's fully
   * qualified name (`orders.v1.OrderService/GetOrder`). One frozen object per method;
   * undefined for paths beyond the plan cache's cap (their cardinality is not bounded).
   */
  readonly attributes: OperationAttributes | undefined;
  /**
   * What the CLIENT span of each attempt says, when the policy traces the call; undefined
   * beyond the plan cache's cap, like `attributes`.
   */
  readonly attemptSpans: AttemptSpans | undefined;
  /** The breaker key of a call, or undefined. */
  key(options: InterceptorOptions): string | undefined;
}

/** OpenTelemetry's attribute for an RPC's fully qualified method name. */
const RPC_METHOD = 'rpc.method';
const METHOD_PATH = /^\/[^/\s]+\/[^/\s]+$/;
const MAX_CACHED_PLANS = 1_024;
const noKey = (): undefined => undefined;

/** Retries only calls that carry an idempotency key, with `classify` deciding which. */
function requireIdempotencyKey(classify: RetryOn): RetryOn {
  return (error, context) => (context.idempotencyKey === undefined ? false : classify(error, context));
}

/** The validated options of one interceptor, and its plans, built on first use per method. */
export class InterceptorConfig {
  readonly #policy: Policy;
  readonly #methods: ReadonlyMap<string, GrpcMethodOptions>;
  readonly #idempotent: boolean;
  readonly #key: (options: InterceptorOptions) => string | undefined;
  /** The `target` option: the channel target of every call (server.address on attempt spans). */
  readonly #target: string | undefined;
  readonly #plans = new Map<string, MethodPlan>();
  /** Policies derived for streaming-request methods (no retry, no hedge, no attempt timeout). */
  readonly #streamPolicies = new WeakMap<Policy, Policy>();
  /** Single-attempt copies of hedging policies (see `MethodPlan.unhedged`). */
  readonly #singlePolicies = new WeakMap<Policy, Policy>();
  #warnedNoTarget = false;

  constructor(policy: Policy, options: GrpcInterceptorOptions | undefined) {
    if (!isPolicy(policy)) invalid('grpcInterceptor(policy)', 'a policy()', policy);
    noFallback('grpcInterceptor(policy)', policy);
    const o =
      obj<GrpcInterceptorOptions>('grpcInterceptor', options, ['methods', 'idempotent', 'target', 'key']) ??
      {};
    this.#policy = policy;
    this.#idempotent = bool('idempotent', o.idempotent, true);
    const methods = new Map<string, GrpcMethodOptions>();
    if (o.methods !== undefined) {
      if (typeof o.methods !== 'object' || o.methods === null || Array.isArray(o.methods)) {
        invalid('methods', 'an object keyed by full method path', o.methods);
      }
      for (const [path, value] of Object.entries(o.methods)) {
        const name = `methods[${JSON.stringify(path)}]`;
        if (!METHOD_PATH.test(path)) {
          invalid(name, 'keyed by a full method path like "/orders.v1.OrderService/CreateOrder"', path);
        }
        const m = obj<GrpcMethodOptions>(name, value ?? {}, ['idempotent', 'retry', 'policy']) ?? {};
        bool(`${name}.idempotent`, m.idempotent, true);
        bool(`${name}.retry`, m.retry, true);
        if (m.policy !== undefined && !isPolicy(m.policy)) invalid(`${name}.policy`, 'a policy()', m.policy);
        if (m.policy !== undefined) noFallback(`${name}.policy`, m.policy);
        methods.set(path, m);
      }
    }
    this.#methods = methods;
    if (o.target !== undefined && (typeof o.target !== 'string' || o.target.length === 0)) {
      invalid('target', 'a non-empty string (the channel target)', o.target);
    }
    const key = validateFn<(call: GrpcCallInfo) => string | undefined>('key', o.key);
    const target = o.target;
    this.#target = target;
    if (key !== undefined) {
      this.#key = (options) => key({ method: options.method_definition.path, options });
    } else if (target !== undefined) {
      this.#key = () => target;
    } else {
      this.#key = (options) => taggedTarget(options) ?? this.#noTarget();
    }
  }

  /** The plan for a call's method. */
  planFor(options: InterceptorOptions): MethodPlan {
    const definition = options.method_definition;
    const cached = this.#plans.get(definition.path);
    if (cached !== undefined) return cached;
    // Paths come from the client's methods, a bounded set; the cap guards against a
    // generic client invoked with made-up paths (whose calls then carry no `rpc.method`).
    const cache = this.#plans.size < MAX_CACHED_PLANS;
    const plan = this.#build(definition.path, definition.requestStream, definition.responseStream, cache);
    if (cache) this.#plans.set(definition.path, plan);
    return plan;
  }

  #build(path: string, streamingRequest: boolean, streamingResponse: boolean, cached: boolean): MethodPlan {
    const own = this.#methods.get(path);
    let policy = own?.policy ?? this.#policy;
    let retryOn: RetryOn | undefined;
    let retries = false;
    let unhedged: Policy | undefined;
    const idempotent = own?.idempotent ?? this.#idempotent;
    if (!streamingRequest && policy.config.hedge !== undefined) {
      // A hedge repeats a call without waiting for it to fail: a method marked `retry: false`
      // never gets one, and a method that is not idempotent gets one only with an
      // idempotency key (a policy that generates keys gives every call one; otherwise the
      // caller's `idempotency-key` metadata decides, per call, in ResilientCall.start).
      if (own?.retry === false) policy = this.#single(policy);
      else if (!idempotent && policy.config.generateKey === undefined) unhedged = this.#single(policy);
    }
    if (streamingRequest) {
      // Client-streaming and bidi calls get deadline, breaker and bulkhead only: the
      // request stream cannot be replayed, and an attempt timeout would cut a healthy
      // long-lived stream.
      let derived = this.#streamPolicies.get(policy);
      if (derived === undefined) {
        derived = policy.with({ attemptTimeout: undefined, retry: false, hedge: false });
        this.#streamPolicies.set(policy, derived);
      }
      policy = derived;
    } else if (own?.retry === false || policy.config.maxAttempts <= 1) {
      retryOn = neverRetry;
    } else {
      retries = true;
      const classify = policy.config.retryOn;
      if (!idempotent) {
        retryOn = requireIdempotencyKey(classify ?? grpcRetryOn);
      } else {
        // A policy's own retryOn wins over the transport's rules.
        retryOn = classify === undefined ? grpcRetryOn : undefined;
      }
    }
    const config = policy.config;
    return {
      policy,
      unhedged,
      hedged: config.hedge !== undefined,
      retryOn,
      retries,
      streamingRequest,
      streamingResponse,
      attemptTimeout: config.attemptTimeout,
      clock: config.clock,
      attributes: cached ? Object.freeze({ [RPC_METHOD]: path.slice(1) }) : undefined,
      attemptSpans: cached ? new AttemptSpans(path, this.#target) : undefined,
      key: config.keyedBreaker === undefined ? noKey : this.#key,
    };
  }

  /** `policy` with one attempt: no hedge, no retry (same breaker, bulkhead, deadline, listeners). */
  #single(policy: Policy): Policy {
    let derived = this.#singlePolicies.get(policy);
    if (derived === undefined) {
      derived = policy.with({ hedge: false, retry: false });
      this.#singlePolicies.set(policy, derived);
    }
    return derived;
  }

  #noTarget(): undefined {
    if (!this.#warnedNoTarget) {
      this.#warnedNoTarget = true;
      process.emitWarning(
        'breakwater/grpc: the policy has a keyedCircuitBreaker but the interceptor cannot tell the ' +
          'channel target; give it { target } or { key }, or pass callInvocationTransformer: tagChannelTarget to the client. ' +
          'All calls share one breaker state until then.',
        { code: 'BREAKWATER_GRPC_NO_TARGET' },
      );
    }
    return undefined;
  }
}
