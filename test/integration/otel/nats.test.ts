/**
 * breakwater/otel through `jetStreamPublisher` against a real nats-server with JetStream,
 * with the real SDK: one operation span per publish, under the caller's span, with the
 * subject as `messaging.destination.name` (and nothing of the message id); the same
 * attribute on the metrics. The discovery of the stream (the first publish to it) is an
 * operation of its own, with the same attribute.
 */
import { metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import { policy } from '../../../src/index.js';
import { jetStreamPublisher } from '../../../src/nats/index.js';
import { MAX_SUBJECTS, SubjectAttributes } from '../../../src/nats/subject-attributes.js';
import { openTelemetry } from '../../../src/otel/index.js';
import { histogramCount, Sdk } from '../../otel/sdk.js';
import { type ClientKit, connectKit } from '../nats/clients.js';

const available = natsServerAvailable();
const sdk = new Sdk();

describe('the publisher’s subject attributes', () => {
  it(`one frozen object per subject; none past ${MAX_SUBJECTS} subjects`, () => {
    const cache = new SubjectAttributes();
    const first = cache.get('orders.created');
    expect(first).toEqual({ 'messaging.destination.name': 'orders.created' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(cache.get('orders.created')).toBe(first);
    for (let i = 1; i < MAX_SUBJECTS; i++) expect(cache.get(`s.${i}`)).toBeDefined();
    expect(cache.get('one.too.many')).toBeUndefined();
    expect(cache.get('orders.created')).toBe(first);
  });
});

describe.skipIf(!available)(
  `breakwater/otel through jetStreamPublisher${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
  () => {
    let server: NatsServer;
    let kit: ClientKit;
    beforeAll(async () => {
      trace.setGlobalTracerProvider(sdk.tracerProvider);
      metrics.setGlobalMeterProvider(sdk.meterProvider);
      server = await NatsServer.start();
      kit = await connectKit('v3', server.url);
      await kit.addStream({ name: 'OTEL_ORDERS', subjects: ['otel.orders.>'] });
    });
    afterAll(async () => {
      await kit?.close();
      await server?.dispose();
      await sdk.shutdown();
      trace.disable();
      metrics.disable();
    });

    it('a publish is one span under the caller’s, with the subject and no message id', async () => {
      const orders = policy({ name: 'orders-publish', idempotency: true, telemetry: openTelemetry() });
      const publisher = jetStreamPublisher(kit.js, orders);
      sdk.spans.reset();
      await sdk.inSpan('checkout', async () => {
        await publisher.publish('otel.orders.created', 'one', { msgID: 'order-42' });
        await publisher.publish('otel.orders.created', 'two', { msgID: 'order-43' });
      });
      const checkout = sdk.span('checkout');
      const ops = sdk.finished().filter((s) => s.name === 'breakwater orders-publish');
      // The stream's discovery, then the two publishes.
      expect(ops).toHaveLength(3);
      for (const op of ops) {
        expect(op.parentSpanContext?.spanId).toBe(checkout.spanContext().spanId);
        expect(op.attributes).toMatchObject({
          'messaging.destination.name': 'otel.orders.created',
          'breakwater.outcome': 'success',
          'breakwater.attempts': 1,
        });
        expect(op.status.code).not.toBe(SpanStatusCode.ERROR);
        expect(Object.values(op.attributes).some((v) => String(v).startsWith('order-4'))).toBe(false);
      }
      const durations = await sdk.points('breakwater.operation.duration');
      expect(
        histogramCount(durations, {
          'breakwater.policy': 'orders-publish',
          'breakwater.outcome': 'success',
          'messaging.destination.name': 'otel.orders.created',
        }),
      ).toBe(3);
    });

    it('a publish the server refuses fails its span (the attempt’s error, recorded)', async () => {
      const orders = policy({ name: 'orders-refused', telemetry: openTelemetry() });
      const publisher = jetStreamPublisher(kit.js, orders, { stream: 'OTEL_ORDERS' });
      await publisher.publish('otel.orders.refused', 'first');
      sdk.spans.reset();
      // A wrong expected last sequence: the server refuses, and it is not retried.
      const error = await publisher
        .publish('otel.orders.refused', 'x', { expect: { lastSequence: 999_999 } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      const [op] = sdk.finished().filter((s) => s.name === 'breakwater orders-refused');
      expect(op?.attributes).toMatchObject({
        'messaging.destination.name': 'otel.orders.refused',
        'breakwater.outcome': 'error',
        'breakwater.attempts': 1,
      });
      expect(op?.status.code).toBe(SpanStatusCode.ERROR);
      expect(op?.events.map((e) => e.name)).toContain('exception');
    });
  },
);
