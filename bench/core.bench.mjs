// Core overhead: the success path of a trivial async function through breakwater and its
// peers (cockatiel 3.2.1, opossum 9, p-retry 7), side by side in one process and one
// harness (mitata). Every policy is built once, outside the measured function, as a
// service would build it at start-up.

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
import { CircuitBreaker as Opossum } from './lib/opossum.cjs';
import { writeSection } from './lib/report.mjs';

const { circuitBreaker, policy, retryBudget } = await loadBreakwater();

const work = async () => 1;

// breakwater
const bwRetry = policy({ retry: { maxAttempts: 3 } });
const bwBreaker = policy({ retry: false, circuitBreaker: circuitBreaker() });
const bwFull = policy({
  deadline: 10_000,
  attemptTimeout: 5_000,
  retry: { maxAttempts: 3, budget: retryBudget() },
  circuitBreaker: circuitBreaker(),
});
const openBreaker = circuitBreaker();
openBreaker.isolate();
const bwOpen = policy({ retry: false, circuitBreaker: openBreaker });

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

bench('bare await', async () => do_not_optimize(await work()));
bench('breakwater retry', async () => do_not_optimize(await bwRetry.execute(work)));
bench('breakwater breaker', async () => do_not_optimize(await bwBreaker.execute(work)));
bench('breakwater full pipeline', async () => do_not_optimize(await bwFull.execute(work)));
bench('breakwater open-breaker rejection', async () =>
  do_not_optimize(await bwOpen.execute(work).catch(swallow)),
);
bench('cockatiel retry', async () => do_not_optimize(await ckRetry.execute(work)));
bench('cockatiel breaker', async () => do_not_optimize(await ckBreaker.execute(work)));
bench('cockatiel wrap(timeout, retry, breaker, timeout)', async () =>
  do_not_optimize(await ckWrap.execute(work)),
);
bench('cockatiel open-breaker rejection', async () =>
  do_not_optimize(await ckOpen.execute(work).catch(swallow)),
);
bench('opossum fire() default options', async () => do_not_optimize(await opDefault.fire()));
bench('opossum fire() timeout: false', async () => do_not_optimize(await opNoTimeout.fire()));
bench('p-retry 7', async () => do_not_optimize(await pRetry(work, { retries: 2 })));

const { benchmarks } = await run({ format: 'mitata', colors: false });
opDefault.shutdown();
opNoTimeout.shutdown();

const ns = new Map(benchmarks.map((b) => [b.alias, b.runs[0].stats]));
const avg = (name) => ns.get(name).avg;
const fmt = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} µs` : `${v.toFixed(0)} ns`);
const rows = [...ns.entries()].map(
  ([name, s]) =>
    `| ${name} | ${fmt(s.avg)} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.avg - avg('bare await'))} |`,
);
const bare = avg('bare await');
const full = avg('breakwater full pipeline');
const checks = [
  [
    'full pipeline vs cockatiel wrap',
    avg('cockatiel wrap(timeout, retry, breaker, timeout)') / full,
    '≥ 20× faster',
  ],
  ['full pipeline vs opossum default fire()', avg('opossum fire() default options') / full, 'faster (> 1×)'],
  [
    'open-breaker rejection vs cockatiel',
    avg('cockatiel open-breaker rejection') / avg('breakwater open-breaker rejection'),
    '≥ 10× faster',
  ],
];
const body = `Success path of \`async () => 1\` (mean, median and p99 per operation; "above bare" subtracts the
bare await measured in the same run). Breakwater's full pipeline is retry + breaker + budget +
deadline + attempt timeout. cockatiel's retry is \`maxAttempts: 2\` (3 calls: cockatiel counts
retries), p-retry's \`retries: 2\`.

| benchmark | mean | p50 | p99 | above bare |
| --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}

| target | measured | wanted |
| --- | ---: | --- |
${checks.map(([what, ratio, wanted]) => `| ${what} | ${ratio.toFixed(1)}× | ${wanted} |`).join('\n')}
| full pipeline | ${fmt(full)} | < 600 ns |
| retry alone above bare await | ${fmt(avg('breakwater retry') - bare)} | < 100 ns |
`;
writeSection('core', 'Core overhead (breakwater vs cockatiel, opossum, p-retry)', body);
