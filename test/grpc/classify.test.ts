import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { grpcRetryOn, isGrpcFailure, retryOnCodes } from '../../src/grpc/index.js';
import {
  type AttemptContext,
  AttemptTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  DeadlineExceededError,
  InvalidOptionsError,
} from '../../src/index.js';

function statusError(code: status, pushback?: string): ServiceError {
  const metadata = new Metadata();
  if (pushback !== undefined) metadata.set('grpc-retry-pushback-ms', pushback);
  return Object.assign(new Error(`${code}`), { code, details: 'x', metadata });
}

const ctx = {} as AttemptContext;

describe('grpcRetryOn (the default classification)', () => {
  it('retries UNAVAILABLE, with the pushback as the delay or as a stop', () => {
    expect(grpcRetryOn(statusError(status.UNAVAILABLE), ctx)).toBe(true);
    expect(grpcRetryOn(statusError(status.UNAVAILABLE, '120'), ctx)).toEqual({ retry: true, after: 120 });
    expect(grpcRetryOn(statusError(status.UNAVAILABLE, '-1'), ctx)).toBe(false);
    expect(grpcRetryOn(statusError(status.UNAVAILABLE, 'later'), ctx)).toBe(false);
  });

  it('retries RESOURCE_EXHAUSTED only with a pushback delay', () => {
    expect(grpcRetryOn(statusError(status.RESOURCE_EXHAUSTED), ctx)).toBe(false);
    expect(grpcRetryOn(statusError(status.RESOURCE_EXHAUSTED, '0'), ctx)).toEqual({ retry: true, after: 0 });
    expect(grpcRetryOn(statusError(status.RESOURCE_EXHAUSTED, '-5'), ctx)).toBe(false);
  });

  it('retries an attempt timeout, not a DEADLINE_EXCEEDED status or the operation’s deadline', () => {
    expect(grpcRetryOn(new AttemptTimeoutError(100), ctx)).toBe(true);
    expect(grpcRetryOn(statusError(status.DEADLINE_EXCEEDED), ctx)).toBe(false);
    expect(grpcRetryOn(new DeadlineExceededError(0), ctx)).toBe(false);
  });

  it('never retries breakwater’s rejections, other codes or foreign errors', () => {
    expect(grpcRetryOn(new CircuitOpenError(10), ctx)).toBe(false);
    expect(grpcRetryOn(new BulkheadRejectedError(1, 0), ctx)).toBe(false);
    for (const code of [
      status.CANCELLED,
      status.UNKNOWN,
      status.INVALID_ARGUMENT,
      status.NOT_FOUND,
      status.ALREADY_EXISTS,
      status.PERMISSION_DENIED,
      status.FAILED_PRECONDITION,
      status.ABORTED,
      status.OUT_OF_RANGE,
      status.UNIMPLEMENTED,
      status.INTERNAL,
      status.DATA_LOSS,
      status.UNAUTHENTICATED,
    ]) {
      expect(grpcRetryOn(statusError(code), ctx), status[code]).toBe(false);
    }
    expect(grpcRetryOn(new Error('boom'), ctx)).toBe(false);
    expect(grpcRetryOn(undefined, ctx)).toBe(false);
    expect(grpcRetryOn({ code: 'ECONNRESET' }, ctx)).toBe(false);
  });
});

describe('retryOnCodes', () => {
  it('retries the listed codes, by number or name, honouring pushback', () => {
    const retryOn = retryOnCodes([status.ABORTED, 'UNAVAILABLE']);
    expect(retryOn(statusError(status.ABORTED), ctx)).toBe(true);
    expect(retryOn(statusError(status.UNAVAILABLE, '30'), ctx)).toEqual({ retry: true, after: 30 });
    expect(retryOn(statusError(status.UNAVAILABLE, '-1'), ctx)).toBe(false);
    expect(retryOn(statusError(status.RESOURCE_EXHAUSTED), ctx)).toBe(false);
    expect(retryOn(new AttemptTimeoutError(5), ctx)).toBe(true);
    expect(retryOn(new CircuitOpenError(5), ctx)).toBe(false);
  });

  it.each([
    [[], 'retryOnCodes(codes)'],
    [[17], 'retryOnCodes(codes)[0]'],
    [[status.UNAVAILABLE, 'NOPE'], 'retryOnCodes(codes)[1]'],
    [[1.5], 'retryOnCodes(codes)[0]'],
    [['OK'], 'retryOnCodes(codes)[0]'],
    [['toString'], 'retryOnCodes(codes)[0]'],
  ])('throws for %j, naming %s', (codes, option) => {
    let thrown: unknown;
    try {
      retryOnCodes(codes as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionsError);
    expect((thrown as InvalidOptionsError).option).toBe(option);
  });
});

describe('isGrpcFailure (a breaker isFailure)', () => {
  it('counts what says the dependency is unwell', () => {
    for (const code of [
      status.UNKNOWN,
      status.DEADLINE_EXCEEDED,
      status.RESOURCE_EXHAUSTED,
      status.INTERNAL,
      status.UNAVAILABLE,
      status.DATA_LOSS,
    ]) {
      expect(isGrpcFailure(statusError(code)), status[code]).toBe(true);
    }
    expect(isGrpcFailure(new AttemptTimeoutError(10))).toBe(true);
    expect(isGrpcFailure(new DeadlineExceededError(0))).toBe(true);
    expect(isGrpcFailure(new Error('socket hang up'))).toBe(true);
  });

  it('does not count a healthy server’s refusals, cancellations or breakwater’s rejections', () => {
    for (const code of [
      status.CANCELLED,
      status.INVALID_ARGUMENT,
      status.NOT_FOUND,
      status.ALREADY_EXISTS,
      status.PERMISSION_DENIED,
      status.FAILED_PRECONDITION,
      status.ABORTED,
      status.OUT_OF_RANGE,
      status.UNIMPLEMENTED,
      status.UNAUTHENTICATED,
    ]) {
      expect(isGrpcFailure(statusError(code)), status[code]).toBe(false);
    }
    expect(isGrpcFailure(new CircuitOpenError(1))).toBe(false);
    expect(isGrpcFailure(new BulkheadRejectedError(1, 0))).toBe(false);
  });
});
