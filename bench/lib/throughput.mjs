// Throughput harness for transport benchmarks: how many operations per second complete
// with `concurrency` operations kept in flight, measured over `durationMs` after a warmup.
// Variants are measured in interleaved rounds (A B C A B C ...) and the median round is
// reported, so that drift on a shared 2-core machine (a neighbour, a GC, turbo) spreads
// over every variant instead of landing on one.

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
export async function compareThroughput(
  variants,
  { concurrencies = [1, 64], rounds = 5, durationMs = 2_000, warmupMs = 1_000, log = () => {} } = {},
) {
  const rows = [];
  for (const concurrency of concurrencies) {
    for (const variant of variants) {
      await measureThroughput(variant.op, { concurrency, durationMs: warmupMs });
    }
    const samples = new Map(variants.map((v) => [v.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
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

/** Formats rows as a markdown table, with each variant's throughput relative to `baseline`. */
export function throughputTable(rows, baseline) {
  const lines = [
    `| variant | concurrency | ops/s (median) | vs ${baseline} | rounds (ops/s) |`,
    '| --- | ---: | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    const base = rows.find((r) => r.name === baseline && r.concurrency === row.concurrency);
    const ratio = base ? `${((100 * row.opsPerSec) / base.opsPerSec).toFixed(1)}%` : '';
    lines.push(
      `| ${row.name} | ${row.concurrency} | ${Math.round(row.opsPerSec).toLocaleString('en-US')} | ${ratio} | ${row.rounds.map((r) => Math.round(r)).join(', ')} |`,
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
    for (const variant of variants) {
      let left = operations;
      const before = process.cpuUsage();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (left-- > 0) await variant.op();
        }),
      );
      const used = process.cpuUsage(before);
      samples.get(variant.name).push((used.user + used.system) / operations);
    }
  }
  return variants.map((v) => ({ name: v.name, us: median(samples.get(v.name)) }));
}

/** Formats `compareCpu` rows as a markdown table against the first row. */
export function cpuTable(rows, label) {
  const base = rows[0]?.us ?? Number.NaN;
  const lines = [`| variant | ${label} | vs ${rows[0]?.name} |`, '| --- | ---: | ---: |'];
  for (const row of rows) {
    const delta = row.us - base;
    lines.push(`| ${row.name} | ${row.us.toFixed(1)} | ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} µs |`);
  }
  return lines.join('\n');
}
