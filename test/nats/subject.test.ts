import { describe, expect, it } from 'vitest';
import { subjectMatches } from '../../src/nats/subject.js';

describe('subjectMatches', () => {
  it.each([
    ['orders.created', 'orders.created', true],
    ['orders.created', 'orders.updated', false],
    ['orders.*', 'orders.created', true],
    ['orders.*', 'orders.created.eu', false],
    ['orders.*', 'orders', false],
    ['orders.>', 'orders.created', true],
    ['orders.>', 'orders.created.eu.1', true],
    ['orders.>', 'orders', false],
    ['*.created', 'orders.created', true],
    ['*.created', 'orders.updated', false],
    ['*.*.eu', 'orders.created.eu', true],
    ['*.*.eu', 'orders.created.us', false],
    ['>', 'anything.at.all', true],
    ['>', 'one', true],
    ['*', 'one', true],
    ['*', 'one.two', false],
    ['orders', 'orders.created', false],
    ['orders.created.eu', 'orders.created', false],
    ['ord.*', 'orders.x', false],
    ['orders.cr*', 'orders.created', false],
  ])('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});
