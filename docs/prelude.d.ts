// Ambient names that docs examples use without defining them, so that each example can
// stay short and still be type-checked (scripts/check-docs.mjs).
declare function doWork(signal: AbortSignal): Promise<string>;
declare function serveFromCache(): void;
declare function work(): Promise<string>;
// breakwater/grpc examples (docs/grpc.md, src/grpc): a generated client and handlers' helpers.
declare const loyalty: {
  getPoints(
    request: { customer: string },
    options: import('@grpc/grpc-js').CallOptions,
    callback: (error: import('@grpc/grpc-js').ServiceError | null, points?: { points: number }) => void,
  ): import('@grpc/grpc-js').ClientUnaryCall;
};
// breakwater/nats examples (docs/nats.md, src/nats): an application's own helpers and a consumer.
declare function isMyTransientError(error: unknown): boolean;
declare function ship(order: unknown): Promise<void>;
declare const consumer: import('@nats-io/jetstream').Consumer;
