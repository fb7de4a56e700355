/** resilientHandler's options: every bad one throws at construction, naming it and the allowed range. */
import { describe, expect, it } from 'vitest';
import { backoff, policy } from '../../src/index.js';
import {
  idempotentHandler,
  memoryStore,
  type ResilientHandlerOptions,
  resilientHandler,
} from '../../src/nats/index.js';
import { expectInvalid, thrownInvalid } from '../support/invalid.js';
import { FakeHeaders, type FakeMsg, fakePublisher } from './consumer-fakes.js';

const valid = (): ResilientHandlerOptions<FakeMsg> => ({
  publisher: fakePublisher().publisher,
  headers: () => new FakeHeaders(),
});
const make = (extra: Record<string, unknown>) => () =>
  resilientHandler(() => undefined, { ...valid(), ...extra } as ResilientHandlerOptions<FakeMsg>);

describe('resilientHandler options', () => {
  it('accepts the documented options', () => {
    expect(() =>
      make({
        maxDeliveries: 1,
        deadLetterSubject: 'dlq.orders',
        backoff: backoff.constant(100),
        classify: () => 'retry',
        policy: policy(),
        ackWait: 1,
        onEvent: () => {},
      })(),
    ).not.toThrow();
    expect(() =>
      make({ backoff: (retry: number) => retry * 10, deadLetterSubject: () => 'dlq.x' })(),
    ).not.toThrow();
  });

  it('needs a handler, a publisher and the headers function', () => {
    expectInvalid(() => resilientHandler(undefined as never, valid()), 'handler');
    expectInvalid(() => resilientHandler(() => 0, undefined as never), 'options');
    expectInvalid(() => make({ publisher: undefined })(), 'publisher');
    expectInvalid(() => make({ publisher: { publish: 'no' } })(), 'publisher');
    expectInvalid(() => make({ headers: undefined })(), 'headers');
    expectInvalid(() => make({ headers: new FakeHeaders() })(), 'headers');
  });

  it.each([
    ['maxDeliveries', 0],
    ['maxDeliveries', 1.5],
    ['maxDeliveries', -1],
    ['maxDeliveries', Number.NaN],
    ['maxDeliveries', Number.POSITIVE_INFINITY],
    ['maxDeliveries', '5'],
    ['deadLetterSubject', ''],
    ['deadLetterSubject', 42],
    ['backoff', { delay: 5 }],
    ['backoff', 100],
    ['classify', 'dead-letter'],
    ['policy', { execute: () => 0 }],
    ['ackWait', 0],
    ['ackWait', -5],
    ['ackWait', 2_147_483_648],
    ['clock', { now: () => 0 }],
    ['onEvent', 'log'],
  ])('rejects %s: %s', (option, value) => {
    expectInvalid(make({ [option]: value }), option);
  });

  it('says the allowed range', () => {
    expect(thrownInvalid(make({ maxDeliveries: 0 })).message).toBe(
      'maxDeliveries must be an integer from 1 to 1000000; got 0',
    );
    expect(thrownInvalid(make({ ackWait: 0 })).message).toBe(
      'ackWait must be a number above 0 and at most 2147483647; got 0',
    );
  });

  it('composes one way only: idempotentHandler refuses a resilientHandler inside it', () => {
    const inner = resilientHandler(() => undefined, valid());
    const error = thrownInvalid(() => idempotentHandler(inner, { store: memoryStore() }));
    expect(error.option).toBe('handler');
    expect(error.message).toContain('resilientHandler(idempotentHandler(fn, ...), ...)');
    expect(() =>
      resilientHandler(
        idempotentHandler(() => undefined, { store: memoryStore() }),
        valid(),
      ),
    ).not.toThrow();
  });

  it('rejects an unknown option, listing the known ones', () => {
    const error = thrownInvalid(make({ maxDeliver: 5 }));
    expect(error.option).toBe('resilientHandler.maxDeliver');
    expect(error.message).toContain('unknown option "maxDeliver" in resilientHandler');
    expect(error.message).toContain('maxDeliveries');
  });
});
