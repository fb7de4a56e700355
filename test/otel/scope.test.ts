/**
 * AttemptScope: the context an attempt runs in (the caller's, plus the operation's span and
 * the attempt number), which must read and derive like the API's own contexts.
 */
import { createContextKey, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { activeAttempt } from '../../src/otel/index.js';
import { AttemptScope, SPAN_KEY } from '../../src/otel/scope.js';

const span = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
});
const other = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
});
const TENANT = createContextKey('test.tenant');

describe('AttemptScope', () => {
  it('is the key trace.getSpan reads', () => {
    expect(SPAN_KEY).toBe(Symbol.for('OpenTelemetry Context Key SPAN'));
  });

  it('reads its span and attempt, and everything else from the caller’s context', () => {
    const scope = new AttemptScope(ROOT_CONTEXT.setValue(TENANT, 'gold'), span, 2);
    expect(trace.getSpan(scope)).toBe(span);
    expect(activeAttempt(scope)).toBe(2);
    expect(scope.getValue(TENANT)).toBe('gold');
  });

  it('derives contexts that keep what they did not replace', () => {
    const scope = new AttemptScope(ROOT_CONTEXT.setValue(TENANT, 'gold'), span, 2);
    const child = trace.setSpan(scope, other);
    expect(trace.getSpan(child)).toBe(other);
    expect(activeAttempt(child)).toBe(2);
    expect(child.getValue(TENANT)).toBe('gold');
    const tenant = scope.setValue(TENANT, 'silver');
    expect(tenant.getValue(TENANT)).toBe('silver');
    expect(trace.getSpan(tenant)).toBe(span);
    expect(scope.getValue(TENANT)).toBe('gold');
    expect(activeAttempt(scope.setValue(createContextKey('breakwater.attempt'), 3))).toBe(3);
    const without = scope.deleteValue(TENANT);
    expect(without.getValue(TENANT)).toBeUndefined();
    expect(trace.getSpan(without)).toBe(span);
  });

  it('deleting its span or attempt removes it, keeping the rest', () => {
    const scope = new AttemptScope(ROOT_CONTEXT.setValue(TENANT, 'gold'), span, 2);
    const noSpan = trace.deleteSpan(scope);
    expect(trace.getSpan(noSpan)).toBeUndefined();
    expect(activeAttempt(noSpan)).toBe(2);
    expect(noSpan.getValue(TENANT)).toBe('gold');
    const noAttempt = scope.deleteValue(createContextKey('breakwater.attempt'));
    expect(activeAttempt(noAttempt)).toBeUndefined();
    expect(trace.getSpan(noAttempt)).toBe(span);
  });
});
