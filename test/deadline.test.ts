/** TimerLane: one timer for many in-order expiries. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { earliest, type LaneEntry, TimerLane } from '../src/deadline.js';
import { ManualClock, RefClock } from './support/clock.js';

class Entry implements LaneEntry {
  timerDone = true;
  fired: number[] = [];
  constructor(
    public timerAt: number,
    private readonly clock: ManualClock,
    private readonly onFire: (e: Entry) => void = () => {},
  ) {}
  onTimer(): void {
    this.fired.push(this.clock.now());
    this.onFire(this);
  }
}

function setup(clock = new ManualClock(0)) {
  const lane = new TimerLane(clock);
  const entry = (at: number, onFire?: (e: Entry) => void): Entry => new Entry(at, clock, onFire);
  return { clock, lane, entry };
}

describe('TimerLane', () => {
  it('in-order adds share one timer and fire in order, each at its time', async () => {
    const { clock, lane, entry } = setup();
    const entries = [entry(10), entry(20), entry(20), entry(35)];
    for (const e of entries) expect(lane.add(e)).toBe(true);
    expect(lane.size).toBe(4);
    expect(clock.pending).toBe(1);
    expect(clock.created).toBe(1);
    await clock.runAll();
    expect(entries.map((e) => e.fired)).toEqual([[10], [20], [20], [35]]);
    expect(lane.size).toBe(0);
    // One timer at a time: re-armed for 20 and 35 after firing at 10 and 20.
    expect(clock.created).toBe(3);
    for (const e of entries) expect(e.timerDone).toBe(true);
  });

  it('an out-of-order add returns false and keeps nothing', () => {
    const { clock, lane, entry } = setup();
    lane.add(entry(50));
    const early = entry(40);
    expect(lane.add(early)).toBe(false);
    expect(early.timerDone).toBe(true);
    expect(lane.size).toBe(1);
    expect(clock.pending).toBe(1);
  });

  it('removing the head: it never fires, the next fires at its own time', async () => {
    const { clock, lane, entry } = setup();
    const [a, b] = [entry(10), entry(30)];
    lane.add(a);
    lane.add(b);
    lane.remove(a);
    expect(a.timerDone).toBe(true);
    expect(lane.size).toBe(1);
    await clock.runAll();
    expect(a.fired).toEqual([]);
    expect(b.fired).toEqual([30]);
  });

  it('removing from the middle: it never fires, its neighbours do', async () => {
    const { clock, lane, entry } = setup();
    const [a, b, c] = [entry(10), entry(20), entry(30)];
    for (const e of [a, b, c]) lane.add(e);
    lane.remove(b);
    await clock.runAll();
    expect([a.fired, b.fired, c.fired]).toEqual([[10], [], [30]]);
  });

  it('remove is a no-op for an entry that fired or was removed', async () => {
    const { clock, lane, entry } = setup();
    const [a, b] = [entry(10), entry(20)];
    lane.add(a);
    lane.add(b);
    await clock.advance(10);
    lane.remove(a);
    lane.remove(a);
    expect(lane.size).toBe(1);
    lane.remove(b);
    lane.remove(b);
    expect(lane.size).toBe(0);
  });

  describe('idle', () => {
    it('with a clock that can unref: the timer is kept but unreferenced, and referenced again on add', async () => {
      const clock = new RefClock(0);
      const { lane, entry } = setup(clock);
      const a = entry(100);
      lane.add(a);
      expect(clock.referenced).toBe(1);
      lane.remove(a);
      expect(clock.pending).toBe(1);
      expect(clock.referenced).toBe(0);
      const b = entry(150);
      lane.add(b);
      expect(clock.created).toBe(1); // reused
      expect(clock.referenced).toBe(1);
      await clock.runAll();
      expect(b.fired).toEqual([150]);
      expect(clock.pending).toBe(0);
    });

    it('an add earlier than the idle timer replaces it', async () => {
      const clock = new RefClock(0);
      const { lane, entry } = setup(clock);
      const a = entry(100);
      lane.add(a);
      lane.remove(a);
      const b = entry(40);
      expect(lane.add(b)).toBe(true);
      expect(clock.pending).toBe(1);
      expect(clock.referenced).toBe(1);
      await clock.runAll();
      expect(b.fired).toEqual([40]);
    });

    it('an idle timer that fires does nothing and is not re-armed', async () => {
      const clock = new RefClock(0);
      const { lane, entry } = setup(clock);
      const a = entry(100);
      lane.add(a);
      lane.remove(a);
      await clock.runAll();
      expect(a.fired).toEqual([]);
      expect(clock.pending).toBe(0);
      const b = entry(200);
      lane.add(b);
      expect(clock.referenced).toBe(1);
      await clock.runAll();
      expect(b.fired).toEqual([200]);
    });

    it('with a clock that cannot unref: the timer is cleared', () => {
      const { clock, lane, entry } = setup();
      const a = entry(100);
      lane.add(a);
      lane.remove(a);
      expect(clock.pending).toBe(0);
      expect(clock.cleared).toBe(1);
    });

    it('stays referenced while any entry is live', () => {
      const clock = new RefClock(0);
      const { lane, entry } = setup(clock);
      const [a, b] = [entry(10), entry(20)];
      lane.add(a);
      lane.add(b);
      lane.remove(a);
      expect(clock.referenced).toBe(1);
      lane.remove(b);
      expect(clock.referenced).toBe(0);
    });
  });

  describe('re-entrancy', () => {
    it("an entry's onTimer may add a later entry: it is armed after the pass", async () => {
      const { clock, lane, entry } = setup();
      const later = entry(50);
      const a = entry(10, () => expect(lane.add(later)).toBe(true));
      lane.add(a);
      await clock.runAll();
      expect(later.fired).toEqual([50]);
      expect(clock.pending).toBe(0);
    });

    it("an entry's onTimer may add an entry already due: it fires in the same pass", async () => {
      const { clock, lane, entry } = setup();
      const due = entry(10);
      const a = entry(10, () => lane.add(due));
      lane.add(a);
      await clock.advance(10);
      expect(due.fired).toEqual([10]);
      expect(lane.size).toBe(0);
    });

    it("an entry's onTimer may remove another entry, due or not", async () => {
      const { clock, lane, entry } = setup();
      const dueToo = entry(10);
      const later = entry(30);
      const a = entry(10, () => {
        lane.remove(dueToo);
        lane.remove(later);
      });
      for (const e of [a, dueToo, later]) lane.add(e);
      await clock.runAll();
      expect([a.fired, dueToo.fired, later.fired]).toEqual([[10], [], []]);
      expect(lane.size).toBe(0);
      expect(clock.pending).toBe(0);
    });

    it('removing the last live entry from inside onTimer leaves no timer', async () => {
      const clock = new RefClock(0);
      const { lane, entry } = setup(clock);
      const later = entry(30);
      lane.add(entry(10, () => lane.remove(later)));
      lane.add(later);
      await clock.runAll();
      expect(clock.pending).toBe(0);
      const next = entry(40);
      lane.add(next);
      expect(clock.referenced).toBe(1);
      await clock.runAll();
      expect(next.fired).toEqual([40]);
    });
  });

  it('grows its ring beyond 16 entries and keeps the order', async () => {
    const { clock, lane, entry } = setup();
    const entries = Array.from({ length: 100 }, (_, i) => entry(i + 1));
    for (const e of entries) expect(lane.add(e)).toBe(true);
    for (const e of entries.filter((_, i) => i % 3 === 0)) lane.remove(e);
    // Wrap around: fire some, then add more.
    await clock.advance(40);
    const more = Array.from({ length: 50 }, (_, i) => entry(200 + i));
    for (const e of more) expect(lane.add(e)).toBe(true);
    await clock.runAll();
    expect(entries.map((e) => e.fired)).toEqual(entries.map((_, i) => (i % 3 === 0 ? [] : [i + 1])));
    expect(more.map((e) => e.fired)).toEqual(more.map((_, i) => [200 + i]));
    expect(clock.pending).toBe(0);
  });

  it('many entries expiring at once fire in one pass, in insertion order', async () => {
    const { clock, lane, entry } = setup();
    const order: number[] = [];
    const entries = Array.from({ length: 1_000 }, (_, i) => entry(100, () => order.push(i)));
    for (const e of entries) lane.add(e);
    await clock.advance(100);
    expect(order).toEqual(entries.map((_, i) => i));
    expect(clock.created).toBe(1);
  });

  it('an expiry later than a timer can wait is reached in steps', async () => {
    const { clock, lane, entry } = setup();
    const far = entry(10 * 2_147_483_647 + 5);
    lane.add(far);
    await clock.runAll(20 * 2_147_483_647);
    expect(far.fired).toEqual([far.timerAt]);
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(2_147_483_647);
  });

  it('does not keep removed entries reachable behind a long-lived head', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { lane, clock, entry } = setup();
    lane.add(entry(1_000_000)); // the head: lives long
    const refs: WeakRef<Entry>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const e = entry(1_000_000 + i);
      lane.add(e);
      lane.remove(e);
      if (i < 100) refs.push(new WeakRef(e));
    }
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(0);
    expect(lane.size).toBe(1);
    expect(clock.pending).toBe(1);
  });
});

describe('earliest', () => {
  it('is the earlier of two optional deadlines', () => {
    expect(earliest(undefined, undefined)).toBeUndefined();
    expect(earliest(5, undefined)).toBe(5);
    expect(earliest(undefined, 7)).toBe(7);
    expect(earliest(9, 3)).toBe(3);
  });
});
