/**
 * `breakwater/nats`: NATS JetStream adapter.
 *
 * - {@link jetStreamPublisher}: publishes through a policy, with one Nats-Msg-Id across
 *   attempts so the server's duplicate window drops a retried copy.
 * - {@link idempotentHandler}: processes each key once on the consumer side, with a
 *   {@link memoryStore} or a {@link kvStore} shared by replicas.
 * - {@link resilientHandler}: retries a consumer's failures with backoff by delivery count,
 *   copies poison messages to a dead-letter subject before terminating them, and holds
 *   messages back while a circuit breaker is open. Composes with `idempotentHandler`.
 *
 * Works with a JetStream client from `nats` v2 or `@nats-io/jetstream` v3 without importing
 * either: both are optional peer dependencies.
 *
 * @packageDocumentation
 */
export {
  isJetStreamFailure,
  isJetStreamTimeout,
  isNoResponders,
  isRetryableJetStreamError,
  isWrongLastSequence,
  type JetStreamApiErrorInfo,
  JetStreamErrorCodes,
  jetStreamApiError,
  jetStreamRetryOn,
} from './classify.js';
export type {
  DeadLetterReason,
  MessageDeadLetteredEvent,
  MessageDroppedEvent,
  MessageEvent,
  MessageEventBase,
  MessageEventListener,
  MessageRetryEvent,
  MessageRetryReason,
} from './consumer-events.js';
export { DeadLetterHeaders } from './dead-letter.js';
export { DEFAULT_DUPLICATE_WINDOW_MS, retryHorizon } from './duplicate-window.js';
export {
  type HandleOutcome,
  type HandlerContext,
  type IdempotentHandlerOptions,
  type IdempotentMessageHandler,
  idempotentHandler,
} from './idempotent-handler.js';
export { NoStreamError } from './no-stream.js';
export {
  type JetStreamPublisher,
  type JetStreamPublisherOptions,
  jetStreamPublisher,
  type PublishOptions,
} from './publisher.js';
export { classifyHandlerError, type FailureClass } from './redelivery.js';
export {
  type ResilientHandlerContext,
  type ResilientHandlerOptions,
  type ResilientMessageHandler,
  type ResilientOutcome,
  resilientHandler,
} from './resilient-handler.js';
export type { ClaimResult, ClaimToken, IdempotencyStore } from './store.js';
export { type KvStoreOptions, kvStore } from './stores/kv.js';
export { type MemoryStoreOptions, memoryStore } from './stores/memory.js';
export type {
  ClientPublishOptions,
  ConsumedMsgLike,
  ConsumerInfoLike,
  HeadersLike,
  JetStreamClientLike,
  JetStreamManagerLike,
  JsMsgLike,
  KvEntryLike,
  KvLike,
  ListableHeadersLike,
  PubAck,
  PublishExpectations,
  StreamInfoLike,
} from './types.js';
