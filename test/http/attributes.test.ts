import { describe, expect, it } from 'vitest';
import { HttpAttributes, MAX_ORIGINS } from '../../src/http/attributes.js';

describe('the HTTP adapter’s telemetry attributes', () => {
  it('method and host of the origin, one frozen object per method and origin', () => {
    const cache = new HttpAttributes();
    const a = cache.get('GET', 'http://127.0.0.1:8080');
    expect(a).toEqual({ 'http.request.method': 'GET', 'server.address': '127.0.0.1' });
    expect(Object.isFrozen(a)).toBe(true);
    expect(cache.get('GET', 'http://127.0.0.1:8080')).toBe(a);
    expect(cache.get('GET', new URL('http://127.0.0.1:8080/orders/42?x=1'))).toBe(a);
    expect(cache.get('POST', 'http://127.0.0.1:8080')).not.toBe(a);
  });

  it('an IPv6 host without brackets; no origin, or an unparsable one: the method alone', () => {
    const cache = new HttpAttributes();
    expect(cache.get('GET', 'http://[::1]:80')['server.address']).toBe('::1');
    expect(cache.get('GET', undefined)).toEqual({ 'http.request.method': 'GET' });
    expect(cache.get('GET', 'not a url')).toEqual({ 'http.request.method': 'GET' });
  });

  it('a method outside HTTP’s own is _OTHER; a lower-case one is normalised', () => {
    const cache = new HttpAttributes();
    expect(cache.get('PURGE', 'http://a.test')['http.request.method']).toBe('_OTHER');
    expect(cache.get('MADE-UP-1', 'http://a.test')).toBe(cache.get('MADE-UP-2', 'http://a.test'));
    expect(cache.get('get', 'http://a.test')['http.request.method']).toBe('GET');
  });

  it(`past ${MAX_ORIGINS} origins, requests carry their method only`, () => {
    const cache = new HttpAttributes();
    for (let i = 0; i < MAX_ORIGINS; i++) {
      expect(cache.get('GET', `http://h${i}.test`)['server.address']).toBe(`h${i}.test`);
    }
    expect(cache.get('GET', 'http://one-too-many.test')).toEqual({ 'http.request.method': 'GET' });
    // Origins cached before the cap keep theirs.
    expect(cache.get('GET', 'http://h0.test')['server.address']).toBe('h0.test');
  });
});
