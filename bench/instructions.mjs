// Instructions per call of the engine bench's cases, on the release before the one-engine
// core (built from git, see lib/baseline.mjs) and on this build: the figure that holds
// still on a machine whose CPU time moves by tens of percent from round to round.
//
//   node bench/instructions.mjs [case ...]      (needs valgrind; about 10 minutes for all)
//
// Each figure is (instructions of a process that makes N calls − those of one that makes
// none) / N, counted by valgrind's cachegrind with node --single-threaded (so the compiler
// and the collector run on the counted thread), after 200k unmeasured calls in both; the
// least of three runs is reported, since a run where V8 happens to optimise worse only adds.
// The young generation is pinned at the 2 MB semi-space V8 settles on natively for these
// loops: under valgrind, 50 times slower, its time-based sizing sometimes left it at 1 MB,
// which quadrupled the collector's share (about 700 instructions per call) at random.
// Not part of `npm run bench`: it is slow, and needs valgrind.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildBaseline } from './lib/baseline.mjs';
import { engineCases } from './lib/engine-cases.mjs';

const N = Number(process.env.BENCH_CALLS ?? 300_000);
const RUNS = 3;
/** Short names on the command line, for the engine bench's cases. */
const CASES = {
  full: 'full pipeline, no options',
  fullopt: 'full pipeline, { deadline, key }',
  open: 'open-breaker rejection, no options',
  openopt: 'open-breaker rejection, { deadline, key }',
  plain: 'policy() no options',
};
const WARMUP = 200_000;

if (process.argv[2] === 'case') {
  const [, , , dist, name, calls] = process.argv;
  const all = await engineCases(`${dist}/index.js`);
  const fn = all[CASES[name]];
  for (let i = 0; i < WARMUP; i++) await fn();
  // The bound is converted once: `i < Number(calls)` would convert it on every call.
  const n = Number(calls);
  for (let i = 0; i < n; i++) await fn();
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
function instructions(dist, name, calls) {
  const run = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      '--single-threaded',
      '--min-semi-space-size=2',
      '--max-semi-space-size=2',
      self,
      'case',
      dist,
      name,
      String(calls),
    ],
    { encoding: 'utf8' },
  );
  const match = /I\s+refs:\s+([\d,]+)/.exec(run.stderr);
  if (run.status !== 0 || match === null)
    throw new Error(`valgrind failed for ${name}: ${run.stderr.slice(-500)}`);
  return Number(match[1].replaceAll(',', ''));
}
function perCall(dist, name) {
  const counts = [];
  for (let r = 0; r < RUNS; r++) counts.push((instructions(dist, name, N) - instructions(dist, name, 0)) / N);
  return Math.min(...counts);
}

execFileSync('valgrind', ['--version']);
const { commit, dist: before } = buildBaseline();
const after = new URL('../dist', import.meta.url).pathname;
const cases = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(CASES);
console.log(`| case | ${commit} | this build | change |\n| --- | ---: | ---: | ---: |`);
for (const name of cases) {
  const b = perCall(before, name);
  const a = perCall(after, name);
  const change = ((a / b - 1) * 100).toFixed(1);
  console.log(`| ${name} | ${Math.round(b)} | ${Math.round(a)} | ${a >= b ? '+' : ''}${change}% |`);
}
