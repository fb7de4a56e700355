// Throughput harness for transport benchmarks: how many operations per second complete
// with `concurrency` operations kept in flight, measured over `durationMs` after a warmup.
//
// On a shared 2-core machine one variant's throughput moves by ±20% between rounds (a
// neighbour, a GC, the server's scheduling), so comparing two medians taken at different
// moments is mostly comparing noise. Variants are therefore measured in rounds, every
// variant once per round, in an order that rotates from round to round (A B C, B C A,
// C A B, ...), and a variant is compared with its baseline round by round: the reported
// ratio is the median of the per-round ratios (a paired comparison), next to each
// variant's median throughput and the middle half of its per-round ratios. Many short
// rounds (40 of 0.5 s) pair the variants closer in time than a few long ones: two runs of
// the gRPC comparison with 11 rounds of 1.5 s gave 88.7% and then 99.1% on this machine.

/** Runs `op` with `concurrency` in flight for `durationMs`; returns operations per second. */
export async function measureThroughput(op, { concurrency, durationMs }) {
  let done = 0;
  let failed = 0;
  let firstError;
  const start = performance.now();
  const end = start + durationMs;
  async function worker() {
    while (performance.now() < end) {
      try {
        await op();
        done++;
      } catch (error) {
        failed++;
        firstError ??= error;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  if (failed > 0) {
    throw new Error(
      `${failed} of ${done + failed} operations failed; first: ${firstError?.stack ?? firstError}`,
    );
  }
  return done / elapsed;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Measures every variant at every concurrency. `variants` is a list of
 * `{ name, op }` where `op()` performs one operation. Returns rows
 * `{ name, concurrency, opsPerSec, rounds }`.
 */
const quick = process.env.BENCH_QUICK === '1';
/** Rounds per comparison, and their length: BENCH_QUICK=1 makes a short smoke run. */
export const ROUNDS = quick ? 5 : 40;
export const ROUND_SECONDS = 0.5;

/** How the transport tables were measured, for a section's text. */
export function methodText(baseline) {
  return `${ROUNDS} rounds of ${ROUND_SECONDS} s per variant, the variants' order rotating from
round to round; a variant's ratio is the median of its per-round ratios to the ${baseline}.`;
}

export async function compareThroughput(
  variants,
  {
    concurrencies = [1, 64],
    rounds = ROUNDS,
    durationMs = ROUND_SECONDS * 1_000,
    warmupMs = quick ? 500 : 1_500,
    log = (line) => console.log(line),
  } = {},
) {
  const rows = [];
  for (const concurrency of concurrencies) {
    for (const variant of variants) {
      await measureThroughput(variant.op, { concurrency, durationMs: warmupMs });
    }
    const samples = new Map(variants.map((v) => [v.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + round) % variants.length];
        const ops = await measureThroughput(variant.op, { concurrency, durationMs });
        samples.get(variant.name).push(ops);
        log(`  c=${concurrency} round ${round + 1}/${rounds} ${variant.name}: ${ops.toFixed(0)}/s`);
      }
    }
    for (const variant of variants) {
      const values = samples.get(variant.name);
      rows.push({ name: variant.name, concurrency, opsPerSec: median(values), rounds: values });
    }
  }
  return rows;
}

/** The per-round ratios of `name`'s throughput to `baseline`'s at `concurrency`. */
function roundRatios(rows, name, baseline, concurrency) {
  const row = rows.find((r) => r.name === name && r.concurrency === concurrency);
  const base = rows.find((r) => r.name === baseline && r.concurrency === concurrency);
  if (row === undefined || base === undefined) return [];
  return row.rounds.map((ops, i) => ops / base.rounds[i]);
}

/**
 * The median over rounds of `name`'s throughput divided by `baseline`'s in the same round,
 * at `concurrency` (1 = as fast as the baseline).
 */
export function pairedRatio(rows, name, baseline, concurrency) {
  const ratios = roundRatios(rows, name, baseline, concurrency);
  return ratios.length === 0 ? Number.NaN : median(ratios);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.round(q * (sorted.length - 1))];
};

/** Formats rows as a markdown table, each variant against `baseline` (see pairedRatio). */
export function throughputTable(rows, baseline) {
  const pct = (ratio) => `${(100 * ratio).toFixed(1)}%`;
  const lines = [
    `| variant | concurrency | ops/s (median) | vs ${baseline} (median of per-round ratios) | per-round ratios, middle half | rounds |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const ratios = roundRatios(rows, row.name, baseline, row.concurrency);
    const ratio = ratios.length === 0 ? '' : pct(median(ratios));
    const spread =
      ratios.length === 0 ? '' : `${pct(quantile(ratios, 0.25))} - ${pct(quantile(ratios, 0.75))}`;
    lines.push(
      `| ${row.name} | ${row.concurrency} | ${Math.round(row.opsPerSec).toLocaleString('en-US')} | ${ratio} | ${spread} | ${row.rounds.length} |`,
    );
  }
  return lines.join('\n');
}

/**
 * CPU time (user + system, µs) this process spends per operation, for each variant, with
 * `concurrency` in flight: the median of `rounds` interleaved rounds of `operations`. On a
 * shared machine it moves less than wall-clock throughput, which follows the neighbours.
 */
export async function compareCpu(variants, { concurrency, operations, rounds }) {
  const samples = new Map(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length];
      const before = process.cpuUsage();
      await runConcurrently(variant.op, concurrency, operations);
      const used = process.cpuUsage(before);
      samples.get(variant.name).push((used.user + used.system) / operations);
    }
  }
  return variants.map((v) => ({ name: v.name, us: median(samples.get(v.name)) }));
}

/** Formats `compareCpu` rows as a markdown table against the first row, `digits` decimals. */
export function cpuTable(rows, label, digits = 1) {
  return deltaTable(
    rows,
    label,
    (row) => row.us,
    (n) => n.toFixed(digits),
    'µs',
  );
}

/** Runs `operations` calls of `op`, `concurrency` of them in flight at a time. */
async function runConcurrently(op, concurrency, operations) {
  let left = operations;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await op();
    }),
  );
}

/** A markdown table of `value(row)` for each row, and its difference from the first row's. */
function deltaTable(rows, label, value, format, unit) {
  const base = rows.length === 0 ? Number.NaN : value(rows[0]);
  const lines = [`| variant | ${label} | vs ${rows[0]?.name} |`, '| --- | ---: | ---: |'];
  for (const row of rows) {
    const delta = value(row) - base;
    lines.push(
      `| ${row.name} | ${format(value(row))} | ${delta >= 0 ? '+' : '-'}${format(Math.abs(delta))} ${unit} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Bytes allocated per operation for each variant, with `concurrency` in flight: V8's
 * sampling heap profiler (one sample per 256 bytes on average, objects the GC has
 * collected included) over `operations` operations after as many unmeasured ones. Unlike
 * CPU time it does not depend on how busy the machine is; it is what a change that saves
 * objects moves.
 */
export async function compareAllocation(variants, { concurrency, operations }) {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  const rows = [];
  for (const variant of variants) {
    await runConcurrently(variant.op, concurrency, operations);
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await runConcurrently(variant.op, concurrency, operations);
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let total = 0;
    const walk = (node) => {
      total += node.selfSize;
      for (const child of node.children) walk(child);
    };
    walk(profile.head);
    rows.push({ name: variant.name, bytes: total / operations });
  }
  session.disconnect();
  return rows;
}

/** Formats `compareAllocation` rows as a markdown table against the first row. */
export function allocationTable(rows, label) {
  const bytes = (n) => Math.round(n).toLocaleString('en-US');
  return deltaTable(rows, label, (row) => row.bytes, bytes, 'B');
}
