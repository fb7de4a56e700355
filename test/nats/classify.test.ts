/**
 * Classification of JetStream errors, built with the clients' own error classes and
 * factories (what they throw; the shapes were captured from nats-server 2.9.10, and
 * test/integration/nats/errors.test.ts checks the same rules on errors the real server
 * produces).
 */

import { JetStreamApiError } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import {
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { ErrorCode, NatsError } from 'nats';
import { describe, expect, it } from 'vitest';
import {
  AttemptTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  DeadlineExceededError,
} from '../../src/index.js';
import {
  isJetStreamFailure,
  isJetStreamTimeout,
  isNoResponders,
  isRetryableJetStreamError,
  isWrongLastSequence,
  jetStreamApiError,
  jetStreamRetryOn,
} from '../../src/nats/index.js';

/** v2 wraps an API answer like this (parseJsResponse in nats 2.29). */
function v2ApiError(code: number, errCode: number, description: string): NatsError {
  const error = new NatsError(description, `${code}`);
  error.api_error = { code, err_code: errCode, description };
  return error;
}

const v3ApiError = (code: number, errCode: number, description: string): JetStreamApiError =>
  new JetStreamApiError({ code, err_code: errCode, description });

/** v3 turns no responders into this (JetStreamClientImpl._publish in @nats-io/jetstream 3.4). */
const v3NoResponders = (): Error =>
  new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
    cause: new RequestError("no responders: 'x'", { cause: new NoRespondersError('x') }),
  });

describe('JetStream error classification', () => {
  const retryable: [string, unknown][] = [
    ['v2 request timeout', NatsError.errorForCode(ErrorCode.Timeout)],
    ['v3 request timeout', new TimeoutError()],
    ['v2 no responders', NatsError.errorForCode(ErrorCode.NoResponders)],
    ['v3 no responders (JetStreamNotEnabled ← RequestError ← NoResponders)', v3NoResponders()],
    ['v3 bare RequestError with NoResponders', new RequestError('x', { cause: new NoRespondersError('x') })],
    ['v2 disconnect', NatsError.errorForCode(ErrorCode.Disconnect)],
    ['v2 503 temporarily unavailable', v2ApiError(503, 10008, 'JetStream system temporarily unavailable')],
    ['v3 503 temporarily unavailable', v3ApiError(503, 10008, 'JetStream system temporarily unavailable')],
    ['breakwater attempt timeout', new AttemptTimeoutError(500)],
  ];
  const notRetryable: [string, unknown][] = [
    ['v2 wrong last sequence', v2ApiError(400, 10071, 'wrong last sequence: 1')],
    ['v3 wrong last sequence', v3ApiError(400, 10071, 'wrong last sequence: 1')],
    ['v2 wrong last msg id', v2ApiError(400, 10070, 'wrong last msg ID: m1')],
    ['v3 stream mismatch', v3ApiError(400, 10060, 'expected stream does not match')],
    [
      'v3 stream not found',
      new jserrors.StreamNotFoundError({ code: 404, err_code: 10059, description: 'stream not found' }),
    ],
    [
      'v3 JetStream not enabled for account (a 503 that is configuration)',
      new jserrors.JetStreamNotEnabled('jetstream not enabled', {
        cause: v3ApiError(503, 10039, 'jetstream not enabled for account'),
      }),
    ],
    ['v2 connection closed', NatsError.errorForCode(ErrorCode.ConnectionClosed)],
    ['v3 connection closed', new ClosedConnectionError()],
    ['v3 connection draining', new DrainingConnectionError()],
    ['breakwater deadline', new DeadlineExceededError(0)],
    ['breakwater circuit open', new CircuitOpenError(10)],
    ['a TypeError', new TypeError('bad payload')],
    ['a plain Error', new Error('something else')],
    ['not an error', 'oops'],
    ['undefined', undefined],
  ];

  it.each(retryable)('retries %s', (_name, error) => {
    expect(isRetryableJetStreamError(error)).toBe(true);
    expect(jetStreamRetryOn(error)).toBe(true);
  });

  it.each(notRetryable)('does not retry %s', (_name, error) => {
    expect(isRetryableJetStreamError(error)).toBe(false);
    expect(jetStreamRetryOn(error)).toBe(false);
  });

  it('reads the API error of both generations', () => {
    expect(jetStreamApiError(v2ApiError(400, 10071, 'wrong last sequence: 1'))).toEqual({
      status: 400,
      errCode: 10071,
      description: 'wrong last sequence: 1',
    });
    expect(jetStreamApiError(v3ApiError(400, 10071, 'wrong last sequence: 1'))).toEqual({
      status: 400,
      errCode: 10071,
      description: 'wrong last sequence: 1',
    });
    expect(jetStreamApiError(new TimeoutError())).toBeUndefined();
    expect(jetStreamApiError(NatsError.errorForCode(ErrorCode.NoResponders))).toBeUndefined();
  });

  it('names the failure kinds', () => {
    expect(isJetStreamTimeout(new TimeoutError())).toBe(true);
    expect(isJetStreamTimeout(NatsError.errorForCode(ErrorCode.Timeout))).toBe(true);
    expect(isJetStreamTimeout(NatsError.errorForCode(ErrorCode.NoResponders))).toBe(false);
    expect(isNoResponders(v3NoResponders())).toBe(true);
    expect(isNoResponders(NatsError.errorForCode(ErrorCode.NoResponders))).toBe(true);
    // v2 also says "503" for an API answer with status 503: that one is not "no responders".
    expect(isNoResponders(v2ApiError(503, 10008, 'temporarily unavailable'))).toBe(false);
    expect(isWrongLastSequence(v2ApiError(400, 10071, 'wrong last sequence: 1'))).toBe(true);
    expect(isWrongLastSequence(v3ApiError(400, 10164, 'wrong last sequence unknown'))).toBe(true);
    expect(isWrongLastSequence(v3ApiError(400, 10070, 'wrong last msg ID'))).toBe(false);
  });

  it('counts against a breaker what says the stream is unwell, not what the caller asked for', () => {
    expect(isJetStreamFailure(new TimeoutError())).toBe(true);
    expect(isJetStreamFailure(v3NoResponders())).toBe(true);
    expect(isJetStreamFailure(new AttemptTimeoutError(1))).toBe(true);
    expect(isJetStreamFailure(v2ApiError(503, 10008, 'temporarily unavailable'))).toBe(true);
    expect(isJetStreamFailure(v2ApiError(400, 10071, 'wrong last sequence: 1'))).toBe(false);
    expect(isJetStreamFailure(v3ApiError(400, 10071, 'wrong last sequence: 1'))).toBe(false);
    expect(isJetStreamFailure(new CircuitOpenError(1))).toBe(false);
    expect(isJetStreamFailure(new BulkheadRejectedError(1, 0))).toBe(false);
    expect(isJetStreamFailure(new TypeError('bad'))).toBe(false);
  });

  it('survives a cause cycle', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(isRetryableJetStreamError(a)).toBe(false);
  });
});
