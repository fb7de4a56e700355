// Core overhead: the success path of a trivial async function through breakwater and its
// peers (cockatiel 3.2.1, opossum 9, p-retry 7), side by side in one process and one
// harness (mitata). Every policy is built once, outside the measured function, as a
// service would build it at start-up.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import { bench, do_not_optimize, run } from 'mitata';
import pRetry from 'p-retry';
import { loadBreakwater } from './lib/dist.mjs';
import { enginePolicies } from './lib/engine-cases.mjs';
import { CircuitBreaker as Opossum } from './lib/opossum.cjs';
import { writeSection } from './lib/report.mjs';

const { circuitBreaker, policy, retryBudget } = await loadBreakwater();

const work = async () => 1;

// breakwater
const bwRetry = policy({ retry: { maxAttempts: 3 } });
const bwBreaker = policy({ retry: false, circuitBreaker: circuitBreaker() });
const { full: bwFull, open: bwOpen } = enginePolicies({ circuitBreaker, policy, retryBudget });

// cockatiel 3.2.1
const ckRetry = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });
const ckBreaker = cockatielBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) });
const ckWrap = wrap(
  cockatielTimeout(10_000, TimeoutStrategy.Aggressive),
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cockatielBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) }),
  cockatielTimeout(5_000, TimeoutStrategy.Aggressive),
);
const ckOpen = cockatielBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) });
ckOpen.isolate();

// opossum 9
const opDefault = new Opossum(work);
const opNoTimeout = new Opossum(work, { timeout: false });

const swallow = () => {};

const cases = [
  ['bare await', async () => do_not_optimize(await work())],
  ['breakwater retry', async () => do_not_optimize(await bwRetry.execute(work))],
  ['breakwater breaker', async () => do_not_optimize(await bwBreaker.execute(work))],
  ['breakwater full pipeline', async () => do_not_optimize(await bwFull.execute(work))],
  [
    'breakwater open-breaker rejection',
    async () => do_not_optimize(await bwOpen.execute(work).catch(swallow)),
  ],
  ['cockatiel retry', async () => do_not_optimize(await ckRetry.execute(work))],
  ['cockatiel breaker', async () => do_not_optimize(await ckBreaker.execute(work))],
  [
    'cockatiel wrap(timeout, retry, breaker, timeout)',
    async () => do_not_optimize(await ckWrap.execute(work)),
  ],
  [
    'cockatiel open-breaker rejection',
    async () => do_not_optimize(await ckOpen.execute(work).catch(swallow)),
  ],
  ['opossum fire() default options', async () => do_not_optimize(await opDefault.fire())],
  ['opossum fire() timeout: false', async () => do_not_optimize(await opNoTimeout.fire())],
  ['p-retry 7', async () => do_not_optimize(await pRetry(work, { retries: 2 }))],
];

// On a shared virtual machine one run of a few hundred nanoseconds per operation moves by
// ±30% with the order of the benchmarks (JIT and GC state). So the suite runs ROUNDS
// times, each in a fresh process and each starting one benchmark later, and the table
// reports the median of the rounds. By default there is one round per benchmark, so that
// every benchmark runs once at every position.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? cases.length);
const LOOP = 1_000_000;
const LOOPED = [
  'bare await',
  'breakwater retry',
  'breakwater full pipeline',
  'breakwater open-breaker rejection',
  'opossum fire() default options',
  'cockatiel open-breaker rejection',
];

if (process.argv[2] === 'round') {
  const offset = Number(process.argv[3]);
  for (let i = 0; i < cases.length; i++) {
    const [name, fn] = cases[(i + offset) % cases.length];
    bench(name, fn);
  }
  const { benchmarks } = await run({ format: 'quiet' });
  const out = Object.fromEntries(
    benchmarks.map((b) => {
      const { avg, p50, p99 } = b.runs[0].stats;
      return [b.alias, { avg, p50, p99 }];
    }),
  );
  // A second view: a tight loop of sequential awaited calls, as a service's hot path runs
  // them, timed as a whole (GC included, no per-sample timer reads).
  for (const name of LOOPED) {
    const fn = cases.find(([n]) => n === name)[1];
    for (let i = 0; i < 100_000; i++) await fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < LOOP; i++) await fn();
    out[name].loop = Number(process.hrtime.bigint() - start) / LOOP;
  }
  opDefault.shutdown();
  opNoTimeout.shutdown();
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

opDefault.shutdown();
opNoTimeout.shutdown();
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), 'round', String(r)],
    {
      encoding: 'utf8',
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (child.status !== 0) throw new Error(`round ${r + 1} failed (exit ${child.status})`);
  rounds.push(JSON.parse(child.stdout.trim().split('\n').pop()));
  console.log(
    `round ${r + 1}/${ROUNDS}: full pipeline ${rounds[r]['breakwater full pipeline'].avg.toFixed(0)} ns`,
  );
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const stat = (name, key) => median(rounds.map((round) => round[name][key]));
const avg = (name) => stat(name, 'avg');
const fmt = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} µs` : `${v.toFixed(0)} ns`);
const bare = avg('bare await');
const rows = cases.map(
  ([name]) =>
    `| ${name} | ${fmt(avg(name))} | ${fmt(stat(name, 'p50'))} | ${fmt(stat(name, 'p99'))} | ${fmt(avg(name) - bare)} | ${rounds.map((round) => fmt(round[name].avg)).join(', ')} |`,
);
const full = avg('breakwater full pipeline');
// Targets are computed within each round (both sides measured minutes apart in one
// process, on the same machine state), then the median is taken over the rounds.
const perRound = (f) => median(rounds.map((round) => f((name) => round[name].avg)));
const checks = [
  [
    'full pipeline vs cockatiel wrap',
    perRound((m) => m('cockatiel wrap(timeout, retry, breaker, timeout)') / m('breakwater full pipeline')),
    '≥ 20× faster',
  ],
  [
    'full pipeline vs opossum default fire()',
    perRound((m) => m('opossum fire() default options') / m('breakwater full pipeline')),
    'faster (> 1×)',
  ],
  [
    'open-breaker rejection vs cockatiel',
    perRound((m) => m('cockatiel open-breaker rejection') / m('breakwater open-breaker rejection')),
    '≥ 10× faster',
  ],
];
const retryAbove = perRound((m) => m('breakwater retry') - m('bare await'));
const body = `Success path of \`async () => 1\` per operation: the median over ${ROUNDS} rounds (each a
fresh process, benchmark order rotated) of mitata's mean, median and p99; "above bare"
subtracts the bare await. Ratios are taken within each round, then their median. Breakwater's full pipeline is retry +
breaker + budget + deadline + attempt timeout. cockatiel's retry is \`maxAttempts: 2\` (3
calls: cockatiel counts retries), p-retry's \`retries: 2\`.

| benchmark | mean | p50 | p99 | mean above bare | mean per round |
| --- | ---: | ---: | ---: | ---: | --- |
${rows.join('\n')}

| target | measured | wanted |
| --- | ---: | --- |
${checks.map(([what, ratio, wanted]) => `| ${what} | ${ratio.toFixed(1)}× | ${wanted} |`).join('\n')}
| full pipeline | ${fmt(full)} | < 600 ns |
| retry alone above bare await | ${fmt(retryAbove)} | < 100 ns |

The same calls in a tight loop of ${(LOOP / 1e6).toFixed(0)} million sequential awaits per round (median
over the rounds; the loop's own await included in every row):

| benchmark | ns per call | above bare |
| --- | ---: | ---: |
${LOOPED.map((name) => `| ${name} | ${fmt(stat(name, 'loop'))} | ${fmt(stat(name, 'loop') - stat('bare await', 'loop'))} |`).join('\n')}
`;
writeSection('core', 'Core overhead (breakwater vs cockatiel, opossum, p-retry)', body);
