// Seeded randomness for benchmarks whose load and faults must repeat from run to run and
// be identical for every configuration compared in one run.

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A uniform number in [0, 1) determined by `key` and `seed` alone (FNV-1a, then one round of
 * mulberry32 to spread the bits), so a decision keyed by a request's id is the same whichever
 * configuration sends it and in whatever order requests arrive.
 */
export function uniformOf(key, seed) {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return seeded(h)();
}

/** Poisson arrivals: the gap (ms) before the next one at `ratePerSecond`, drawn from `random`. */
export function exponentialGap(random, ratePerSecond) {
  return (-Math.log(1 - random()) * 1000) / ratePerSecond;
}
