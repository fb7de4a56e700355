import { type Deadline, propagate } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { callOptionsFrom, deadlineFrom, grpcInterceptor, type IncomingCall } from '../../src/grpc/index.js';
import { policy } from '../../src/index.js';
import { thrownInvalid as thrown } from '../support/invalid.js';

const p = policy();

describe('grpcInterceptor options are validated at construction', () => {
  it.each([
    [
      'a policy that is not one',
      () => grpcInterceptor({} as never),
      'grpcInterceptor(policy)',
      /a policy\(\)/,
    ],
    [
      'an unknown option',
      () => grpcInterceptor(p, { retries: 3 } as never),
      'grpcInterceptor.retries',
      /allowed: methods, idempotent, target, key/,
    ],
    [
      'a policy with a fallback (an interceptor delivers statuses, not values)',
      () => grpcInterceptor(policy({ fallback: () => 'cached' })),
      'grpcInterceptor(policy)',
      /a policy without fallback/,
    ],
    [
      'a method policy with a fallback',
      () =>
        grpcInterceptor(p, {
          methods: { '/orders.v1.OrderService/GetOrder': { policy: policy({ fallback: () => 1 }) } },
        }),
      'methods["/orders.v1.OrderService/GetOrder"].policy',
      /a policy without fallback/,
    ],
    [
      'methods that is not an object',
      () => grpcInterceptor(p, { methods: [] as never }),
      'methods',
      /an object/,
    ],
    [
      'a method key that is not a full path',
      () => grpcInterceptor(p, { methods: { CreateOrder: {} } }),
      'methods["CreateOrder"]',
      /full method path like "\/orders\.v1\.OrderService\/CreateOrder"/,
    ],
    [
      'a path without a method',
      () => grpcInterceptor(p, { methods: { '/orders.v1.OrderService': {} } }),
      'methods["/orders.v1.OrderService"]',
      /full method path/,
    ],
    [
      'an unknown method option',
      () => grpcInterceptor(p, { methods: { '/a.B/C': { retries: 1 } as never } }),
      'methods["/a.B/C"].retries',
      /allowed: idempotent, retry, policy/,
    ],
    [
      'idempotent that is not a boolean',
      () => grpcInterceptor(p, { methods: { '/a.B/C': { idempotent: 'no' as never } } }),
      'methods["/a.B/C"].idempotent',
      /true or false/,
    ],
    [
      'retry that is not a boolean',
      () => grpcInterceptor(p, { methods: { '/a.B/C': { retry: 0 as never } } }),
      'methods["/a.B/C"].retry',
      /true or false/,
    ],
    [
      'a method policy that is not one',
      () => grpcInterceptor(p, { methods: { '/a.B/C': { policy: {} as never } } }),
      'methods["/a.B/C"].policy',
      /a policy\(\)/,
    ],
    [
      'the default idempotent that is not a boolean',
      () => grpcInterceptor(p, { idempotent: 1 as never }),
      'idempotent',
      /true or false/,
    ],
    ['an empty target', () => grpcInterceptor(p, { target: '' }), 'target', /non-empty string/],
    ['a key that is not a function', () => grpcInterceptor(p, { key: 'host' as never }), 'key', /a function/],
  ])('rejects %s', (_label, make, option, message) => {
    const error = thrown(make);
    expect(error.option).toBe(option);
    expect(error.code).toBe('BREAKWATER_INVALID_OPTIONS');
    expect(error.message).toMatch(message);
  });

  it('accepts valid options', () => {
    expect(
      typeof grpcInterceptor(p, {
        methods: {
          '/orders.v1.OrderService/CreateOrder': { idempotent: false, retry: true, policy: policy() },
        },
        idempotent: true,
        target: 'orders:50051',
      }),
    ).toBe('function');
  });
});

function incoming(deadline: Deadline): IncomingCall {
  // The only part of a server call these helpers read.
  return { getDeadline: () => deadline } as unknown as IncomingCall;
}

describe('callOptionsFrom', () => {
  it('passes the caller’s deadline on, minus the reserve, with grpc-js propagation of deadline and cancellation', () => {
    const call = incoming(new Date(1_000_000));
    expect(callOptionsFrom(call)).toEqual({
      parent: call,
      propagate_flags: propagate.DEADLINE | propagate.CANCELLATION,
      deadline: 1_000_000,
    });
    expect(callOptionsFrom(call, { reserve: 50 }).deadline).toBe(999_950);
    expect(callOptionsFrom(call, { cancellation: false }).propagate_flags).toBe(propagate.DEADLINE);
  });

  it('sets no deadline when the caller set none', () => {
    const options = callOptionsFrom(incoming(Number.POSITIVE_INFINITY));
    expect('deadline' in options).toBe(false);
    expect(deadlineFrom(incoming(Number.POSITIVE_INFINITY))).toBeUndefined();
    expect(deadlineFrom(incoming(123_456))).toBe(123_456);
  });

  it.each([
    [{ reserve: -1 }, 'callOptionsFrom.reserve', /a number from 0 to 2147483647/],
    [{ reserve: Number.NaN }, 'callOptionsFrom.reserve', /a number from 0/],
    [{ cancellation: 'yes' }, 'callOptionsFrom.cancellation', /true or false/],
    [{ margin: 5 }, 'callOptionsFrom.margin', /allowed: reserve, cancellation/],
  ])('rejects %j', (options, option, message) => {
    const error = thrown(() => callOptionsFrom(incoming(1), options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
  });

  it('rejects something that is not a server call', () => {
    expect(thrown(() => callOptionsFrom({} as never)).option).toBe('callOptionsFrom(call)');
  });
});
