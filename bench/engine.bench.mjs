// The one-engine core against the release before it, built from git side by side
// (bench/lib/baseline.mjs), in one run: the full pipeline and the open-breaker rejection,
// each called with no options and with the per-call options adapters pass (a deadline and
// a breaker key). Each round is a fresh process that times both builds in turn, in a tight
// loop of sequential awaited calls; the table reports the median of the rounds and the
// ratio within each round (so a slow phase of the machine hits both sides).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BASELINE_REF, buildBaseline } from './lib/baseline.mjs';
import { distEntry } from './lib/dist.mjs';
import { engineCases as cases } from './lib/engine-cases.mjs';
import { writeSection } from './lib/report.mjs';

const LOOP = 500_000;
const WARMUP = 100_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** CPU time per call (user + system), which other processes on the machine disturb less than wall time. */
async function time(fn) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < LOOP; i++) await fn();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1_000) / LOOP;
}

if (process.argv[2] === 'round') {
  const [, , , beforeUrl, afterUrl, order] = process.argv;
  const sides =
    order === '0'
      ? [
          ['before', beforeUrl],
          ['after', afterUrl],
        ]
      : [
          ['after', afterUrl],
          ['before', beforeUrl],
        ];
  const loaded = {};
  for (const [side, url] of sides) loaded[side] = await cases(url);
  const out = {};
  for (const name of Object.keys(loaded.after)) {
    out[name] = {};
    for (const [side] of sides) out[name][side] = await time(loaded[side][name]);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

const { commit, dist } = buildBaseline();
const beforeUrl = new URL('index.js', `file://${dist}/`).href;
const afterUrl = distEntry('index');
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), 'round', beforeUrl, afterUrl, String(r % 2)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (child.status !== 0) throw new Error(`round ${r + 1} failed (exit ${child.status})`);
  rounds.push(JSON.parse(child.stdout.trim().split('\n').pop()));
  console.log(`round ${r + 1}/${ROUNDS} done`);
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (v) => `${v.toFixed(0)} ns`;
const pct = (v) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;
const names = Object.keys(rounds[0]);
const rows = names.map((name) => {
  const ratios = rounds.map((round) => round[name].after / round[name].before - 1);
  const lo = Math.min(...ratios);
  const hi = Math.max(...ratios);
  return `| ${name} | ${fmt(median(rounds.map((x) => x[name].before)))} | ${fmt(median(rounds.map((x) => x[name].after)))} | ${pct(median(ratios))} | ${pct(lo)} … ${pct(hi)} |`;
});
const body = `\`${commit}\` (BENCH_BASELINE, default \`${BASELINE_REF}\`: the core before the one-engine state
machine) against this build, in the same ${ROUNDS} rounds: each round a fresh process
timing the CPU (user + system, \`process.cpuUsage\`) of ${(LOOP / 1e3).toFixed(0)}k sequential awaited calls per case on
each build, in turn (the order
alternates by round). "Change" is the median over the rounds of after / before − 1 within
a round; the spread is its range over the rounds. The full pipeline is retry + budget +
breaker + deadline (10 s) + attempt timeout (5 s); the per-call options are what the
adapters pass: \`{ deadline: Date.now() + 10_000, key }\`.

| case | before | after | change | spread over rounds |
| --- | ---: | ---: | ---: | --- |
${rows.join('\n')}

Target (issue: the core as one state machine): the full pipeline and the open-breaker
rejection, with and without per-call options, no more than 10% slower.
`;
writeSection('engine', 'Core engine: before and after the one-engine state machine', body);
