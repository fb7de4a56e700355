import { describe, expect, it } from 'vitest';
import type { CircuitStateChange } from '../../src/breaker/circuit-breaker.js';
import { circuitBreaker } from '../../src/breaker/circuit-breaker.js';
import { isKeyedCircuitBreaker, keyedCircuitBreaker } from '../../src/breaker/keyed.js';
import { call, calls, expectInvalid, StepClock } from './helpers.js';

describe('keyedCircuitBreaker: one state per key', () => {
  it('a failing key opens only its own breaker', () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 3 });
    calls(keyed.get('https://down.example'), 3, 'failure');
    expect(keyed.get('https://down.example').state).toBe('open');
    expect(keyed.get('https://up.example').state).toBe('closed');
    expect(call(keyed.get('https://up.example'), 'success')).toBe(true);
    expect(call(keyed.get('https://down.example'), 'success')).toBe(false);
  });

  it('the same key gives the same breaker; keys share the options', () => {
    const keyed = keyedCircuitBreaker({ window: { type: 'count', size: 4 }, minimumCalls: 4 });
    const a = keyed.get('a');
    expect(keyed.get('b')).not.toBe(a);
    expect(keyed.get('a')).toBe(a);
    calls(a, 2, 'failure');
    calls(keyed.get('b'), 4, 'success');
    calls(keyed.get('a'), 2, 'success'); // 2 of 4 for a: opens at the 50 % default
    expect(keyed.peek('a')?.state).toBe('open');
    expect(keyed.peek('b')?.state).toBe('closed');
  });

  it('peek() does not create a breaker', () => {
    const keyed = keyedCircuitBreaker();
    expect(keyed.peek('nobody')).toBeUndefined();
    expect(keyed.size).toBe(0);
  });

  it('keys() lists the tracked keys, least recently used first, as a copy', () => {
    const keyed = keyedCircuitBreaker({ maxKeys: 2 });
    expect(keyed.keys()).toEqual([]);
    keyed.get('a');
    keyed.get('b');
    keyed.get('a');
    const keys = keyed.keys();
    expect(keys).toEqual(['b', 'a']);
    // Using keys while walking the copy neither loops nor changes it.
    for (const key of keys) keyed.get(key);
    expect(keys).toEqual(['b', 'a']);
    keyed.get('c'); // maxKeys 2: the least recently used ('b' was used first above, then 'a') goes
    expect(keyed.keys()).toEqual(['a', 'c']);
    // peek() does not mark a key used.
    keyed.peek('a');
    expect(keyed.keys()).toEqual(['a', 'c']);
  });

  it("a key's rejection names the key", () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1 });
    const b = keyed.get('orders.v1');
    call(b, 'failure');
    expect(b.acquire()).toBe(-1);
    const error = b.rejection(undefined);
    expect(error.key).toBe('orders.v1');
    expect(error.message).toContain('orders.v1');
  });

  it('rejects a key that is not a string', () => {
    const keyed = keyedCircuitBreaker();
    expectInvalid(() => keyed.get(42 as never), 'key');
  });

  it('is told apart from a plain breaker', () => {
    expect(isKeyedCircuitBreaker(keyedCircuitBreaker())).toBe(true);
    expect(isKeyedCircuitBreaker(circuitBreaker())).toBe(false);
    expect(isKeyedCircuitBreaker(null)).toBe(false);
  });
});

describe('keyedCircuitBreaker: bounded memory', () => {
  it('100 000 distinct keys with maxKeys 1 000 keep at most 1 000 breakers', () => {
    const clock = new StepClock();
    const keyed = keyedCircuitBreaker({ maxKeys: 1_000, clock });
    let largest = 0;
    for (let i = 0; i < 100_000; i++) {
      call(keyed.get(`host-${i}`), i % 7 === 0 ? 'failure' : 'success');
      largest = Math.max(largest, keyed.size);
      if (i % 1_000 === 0) clock.advance(1);
    }
    expect(largest).toBeLessThanOrEqual(1_000);
    expect(keyed.size).toBe(1_000);
    // The most recent keys are the ones kept.
    expect(keyed.peek('host-99999')).toBeDefined();
    expect(keyed.peek('host-0')).toBeUndefined();
  });

  it('stays bounded when many keys are open (open ones are dropped only as a last resort)', () => {
    const keyed = keyedCircuitBreaker({ maxKeys: 50, consecutiveFailures: 1 });
    for (let i = 0; i < 5_000; i++) call(keyed.get(`k${i}`), 'failure');
    expect(keyed.size).toBeLessThanOrEqual(50);
  });

  it('idle closed breakers are dropped after idleMs', () => {
    const clock = new StepClock();
    const keyed = keyedCircuitBreaker({ idleMs: 60_000, clock });
    keyed.get('a');
    keyed.get('b');
    keyed.get('c');
    clock.advance(59_999);
    keyed.get('x'); // not idle yet: nothing is dropped
    expect(keyed.size).toBe(4);
    clock.advance(1);
    keyed.get('y');
    expect(keyed.peek('a')).toBeUndefined();
    expect(keyed.peek('b')).toBeUndefined();
    // c was the key in use until x was asked for (calls on one key skip the clock), so it
    // counts as used 1 ms ago.
    expect(keyed.peek('c')).toBeDefined();
    expect(keyed.peek('x')).toBeDefined();
    expect(keyed.size).toBe(3);
  });

  it('a key in constant use is never dropped as idle', () => {
    const clock = new StepClock();
    const keyed = keyedCircuitBreaker({ idleMs: 60_000, clock });
    keyed.get('other');
    for (let t = 0; t < 120; t++) {
      call(keyed.get('busy'), 'success'); // the same key again and again
      clock.advance(1_000);
    }
    keyed.get('other'); // another key, then a new one: an eviction pass runs
    keyed.get('new');
    expect(keyed.peek('busy')).toBeDefined();
  });

  it('an idle breaker that is open or isolated survives the idle sweep', () => {
    const clock = new StepClock();
    const keyed = keyedCircuitBreaker({ idleMs: 1_000, consecutiveFailures: 1, openDuration: 60_000, clock });
    call(keyed.get('open'), 'failure');
    keyed.get('isolated').isolate();
    keyed.get('closed');
    keyed.get('last');
    clock.advance(5_000);
    keyed.get('fresh');
    expect(keyed.peek('open')?.current).toBe('open');
    expect(keyed.peek('isolated')?.current).toBe('isolated');
    expect(keyed.peek('closed')).toBeUndefined();
  });

  it('when full, a closed breaker is dropped before an older open one', () => {
    const keyed = keyedCircuitBreaker({ maxKeys: 3, consecutiveFailures: 1, openDuration: 60_000 });
    call(keyed.get('failing'), 'failure'); // the oldest key, open
    keyed.get('x');
    keyed.get('y');
    keyed.get('z'); // full: x (the oldest closed one) goes, the open one stays
    expect(keyed.peek('failing')?.current).toBe('open');
    expect(keyed.peek('x')).toBeUndefined();
    expect(keyed.size).toBe(3);
  });

  it('looking for a victim does not change any breaker state', () => {
    const clock = new StepClock();
    const keyed = keyedCircuitBreaker({ maxKeys: 2, consecutiveFailures: 1, openDuration: 100, clock });
    const changes: string[] = [];
    keyed.onStateChange((c) => changes.push(`${c.key}:${c.from}>${c.to}`));
    call(keyed.get('a'), 'failure');
    clock.advance(100); // a's open time is up, but nobody asks a
    keyed.get('b');
    keyed.get('c');
    expect(changes).toEqual(['a:closed>open']);
  });
});

describe('keyedCircuitBreaker: listeners and snapshots', () => {
  it('onStateChange reports the key; unsubscribe stops delivery', () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1 });
    const seen: CircuitStateChange[] = [];
    const unsubscribe = keyed.onStateChange((c) => seen.push(c));
    call(keyed.get('alpha'), 'failure');
    keyed.get('beta').isolate();
    unsubscribe();
    keyed.get('beta').reset();
    expect(seen.map((c) => [c.key, c.from, c.to])).toEqual([
      ['alpha', 'closed', 'open'],
      ['beta', 'closed', 'isolated'],
    ]);
  });

  it("a per-key listener and the keyed breaker's listener both hear a change", () => {
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1 });
    const all: string[] = [];
    const one: string[] = [];
    keyed.onStateChange((c) => all.push(`${c.key}:${c.to}`));
    keyed.get('k').onStateChange((c) => one.push(`${c.key}:${c.to}`));
    call(keyed.get('k'), 'failure');
    expect(all).toEqual(['k:open']);
    expect(one).toEqual(['k:open']);
  });

  it('toJSON lists the keys that are not closed', () => {
    const clock = new StepClock(0);
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1, openDuration: 500, clock });
    call(keyed.get('down'), 'failure');
    keyed.get('maintenance').isolate();
    keyed.get('fine');
    expect(keyed.toJSON()).toEqual({
      down: { state: 'open', openUntil: 500, reopenCount: 0 },
      maintenance: { state: 'isolated' },
    });
    expect(JSON.parse(JSON.stringify(keyed))).toEqual(keyed.toJSON());
  });

  it('a snapshot from toJSON restores one key with circuitBreaker({ initialState })', () => {
    const clock = new StepClock(0);
    const keyed = keyedCircuitBreaker({ consecutiveFailures: 1, openDuration: 500, clock });
    call(keyed.get('down'), 'failure');
    const snapshot = keyed.toJSON().down;
    expect(snapshot).toBeDefined();
    const restored = circuitBreaker({
      consecutiveFailures: 1,
      clock,
      ...(snapshot ? { initialState: snapshot } : {}),
    });
    expect(restored.acquire()).toBe(-1);
    expect(restored.retryAfterMs()).toBe(500);
  });
});
