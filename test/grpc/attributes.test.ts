import type { InterceptorOptions } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { InterceptorConfig } from '../../src/grpc/methods.js';
import { policy } from '../../src/index.js';

const call = (path: string) =>
  ({
    method_definition: { path, requestStream: false, responseStream: false },
  }) as unknown as InterceptorOptions;

describe('the gRPC adapter’s telemetry attributes', () => {
  it('rpc.method is the fully qualified method name, one frozen object per method', () => {
    const config = new InterceptorConfig(policy(), undefined);
    const plan = config.planFor(call('/orders.v1.OrderService/GetOrder'));
    expect(plan.attributes).toEqual({ 'rpc.method': 'orders.v1.OrderService/GetOrder' });
    expect(Object.isFrozen(plan.attributes)).toBe(true);
    expect(config.planFor(call('/orders.v1.OrderService/GetOrder')).attributes).toBe(plan.attributes);
  });

  it('paths past the plan cache’s cap carry no rpc.method (made-up paths are not bounded)', () => {
    const config = new InterceptorConfig(policy(), undefined);
    let i = 0;
    for (; i < 1_024; i++) expect(config.planFor(call(`/s.S/M${i}`)).attributes).toBeDefined();
    expect(config.planFor(call(`/s.S/M${i}`)).attributes).toBeUndefined();
  });
});
