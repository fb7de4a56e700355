import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CallCancelledError, serviceError, statusFromError } from '../../src/grpc/status.js';
import {
  AttemptTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  DeadlineExceededError,
  InvalidOptionsError,
} from '../../src/index.js';

describe('statusFromError', () => {
  it.each([
    ['an open circuit', new CircuitOpenError(100, 'orders:50051'), status.UNAVAILABLE],
    ['the deadline', new DeadlineExceededError(0), status.DEADLINE_EXCEEDED],
    ['an attempt timeout', new AttemptTimeoutError(50), status.DEADLINE_EXCEEDED],
    ['a full bulkhead', new BulkheadRejectedError(1, 0), status.RESOURCE_EXHAUSTED],
    ['invalid options', new InvalidOptionsError('x', 'x is bad'), status.INTERNAL],
    ['a foreign error', new Error('Channel has been shut down'), status.UNKNOWN],
  ])('maps %s to %s, keeping the error as cause', (_label, error, code) => {
    const result = statusFromError(error);
    expect(result.code).toBe(code);
    expect(result.cause).toBe(error);
    expect(result.details).toContain(error.message);
    expect(result.metadata).toBeInstanceOf(Metadata);
  });

  it('keeps the trailers of a server status that caused the error', () => {
    const trailers = new Metadata();
    trailers.set('x-shard', 'b');
    const server = serviceError({ code: status.DEADLINE_EXCEEDED, details: 'slow', metadata: trailers });
    const result = statusFromError(new DeadlineExceededError(0, { cause: server }));
    expect(result.metadata.get('x-shard')).toEqual(['b']);
  });

  it('reports a cancellation with its own code and details', () => {
    const result = statusFromError(new CallCancelledError(status.CANCELLED, 'Cancelled on client'));
    expect(result).toMatchObject({ code: status.CANCELLED, details: 'Cancelled on client' });
  });
});

describe('serviceError', () => {
  it('looks like the ServiceError grpc-js gives callers', () => {
    const metadata = new Metadata();
    const error = serviceError({ code: status.UNAVAILABLE, details: 'down', metadata });
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('14 UNAVAILABLE: down');
    expect(error).toMatchObject({ code: status.UNAVAILABLE, details: 'down', metadata });
  });
});
