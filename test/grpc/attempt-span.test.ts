import type { InterceptorOptions } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AttemptSpans, peerOf } from '../../src/grpc/attempt-span.js';
import { tagChannelTarget } from '../../src/grpc/target.js';

describe('peerOf: server.address and server.port from a channel target', () => {
  it.each([
    ['orders:50051', { address: 'orders', port: 50051 }],
    ['dns:///orders.internal:443', { address: 'orders.internal', port: 443 }],
    ['dns:orders', { address: 'orders' }],
    ['ipv4:10.0.0.1:50051,10.0.0.2:50051', { address: '10.0.0.1', port: 50051 }],
    ['ipv6:[::1]:50051', { address: '::1', port: 50051 }],
    ['[2001:db8::1]:443', { address: '2001:db8::1', port: 443 }],
    ['::1', { address: '::1' }],
    ['unix:/tmp/orders.sock', { address: '/tmp/orders.sock' }],
    ['127.0.0.1:0', { address: '127.0.0.1', port: 0 }],
  ])('%s', (target, expected) => {
    expect(peerOf(target)).toEqual(expected);
  });
});

describe('AttemptSpans', () => {
  const options = (target?: string): InterceptorOptions => {
    const base = { method_definition: { path: '/orders.v1.OrderService/GetOrder' } } as InterceptorOptions;
    if (target === undefined) return base;
    const tagged = tagChannelTarget({
      callOptions: base,
      channel: { getTarget: () => target },
    } as unknown as Parameters<typeof tagChannelTarget>[0]);
    return { ...base, ...tagged.callOptions } as InterceptorOptions;
  };

  it('names and attributes the spans as instrumentation-grpc does', () => {
    const info = new AttemptSpans('/orders.v1.OrderService/GetOrder', undefined).for(options());
    expect(info.name).toBe('grpc.orders.v1.OrderService/GetOrder');
    expect(info.attributes).toEqual({
      'rpc.system': 'grpc',
      'rpc.service': 'orders.v1.OrderService',
      'rpc.method': 'GetOrder',
    });
    expect(info.previousAttempts).toBe('previous-rpc-attempts');
    expect(info.statusCode).toBe('rpc.grpc.status_code');
    expect(Object.isFrozen(info) && Object.isFrozen(info.attributes)).toBe(true);
  });

  it('adds the peer from the interceptor’s target, or from tagChannelTarget, one set per target', () => {
    const fixed = new AttemptSpans('/a.B/C', 'orders:50051');
    expect(fixed.for(options('other:1')).attributes).toMatchObject({
      'server.address': 'orders',
      'server.port': 50051,
    });
    const tagged = new AttemptSpans('/a.B/C', undefined);
    const east = tagged.for(options('east:1'));
    expect(east.attributes).toMatchObject({ 'server.address': 'east', 'server.port': 1 });
    expect(tagged.for(options('east:1'))).toBe(east);
    expect(tagged.for(options('west:2')).attributes['server.address']).toBe('west');
  });

  it('keeps 16 targets per method; calls to more get no peer', () => {
    const spans = new AttemptSpans('/a.B/C', undefined);
    for (let i = 0; i < 16; i++)
      expect(spans.for(options(`h${i}:1`)).attributes['server.address']).toBe(`h${i}`);
    expect(spans.for(options('h99:1')).attributes['server.address']).toBeUndefined();
  });
});
