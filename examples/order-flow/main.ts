/**
 * `npm run example`: runs the order flow without and with breakwater, prints the table,
 * writes the chart. A thin shell around {@link runOrderFlow}.
 *
 *   npm run example -- --duration 4 --rate 40 --only protected
 *
 * Exits on its own when done (nothing it started outlives the run); Ctrl-C tears
 * everything down (nats-server included) before it exits.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NatsUnavailableError } from './nats/server.js';
import { renderChart } from './report/chart.js';
import { progressPrinter } from './report/progress.js';
import { formatClaims, formatTable, formatTransitions } from './report/table.js';
import { formatWaterfall } from './report/waterfall.js';
import { type OrderFlowResult, runOrderFlow } from './run.js';

const USAGE = `Usage: npm run example -- [options]

  --duration <s>   seconds per phase (5 phases per run)        default 4
  --rate <n>       orders per second, open loop                 default 40
  --only <mode>    run only "protected" or "unprotected"        default both
  --out <dir>      where to write order-flow.svg and .json      default examples/order-flow/out
  -h, --help

NATS: uses NATS_URL when set, else starts nats-server from the PATH.`;

const here = dirname(fileURLToPath(import.meta.url));

function parse(): {
  phaseMs: number;
  rate: number;
  only: 'protected' | 'unprotected' | undefined;
  out: string;
} {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = values.only;
  if (only !== undefined && only !== 'protected' && only !== 'unprotected') {
    throw new Error(`--only must be "protected" or "unprotected"; got "${only}"`);
  }
  return {
    phaseMs: Math.round(Number(values.duration ?? 4) * 1_000),
    rate: Number(values.rate ?? 40),
    only,
    out: resolve(values.out ?? resolve(here, 'out')),
  };
}

function report(result: OrderFlowResult, out: string): void {
  console.log('');
  for (const line of formatTable(result)) console.log(line);
  console.log('');
  for (const line of formatClaims(result)) console.log(line);
  const guarded = result.runs.find((run) => run.mode === 'protected');
  if (guarded !== undefined && guarded.transitions.length > 0) {
    console.log('breaker transitions (time since the load started):');
    for (const line of formatTransitions(guarded)) console.log(line);
  }
  if (guarded?.trace !== undefined && guarded.trace.length > 0) {
    console.log('');
    for (const line of formatWaterfall(guarded.trace)) console.log(line);
  }
  mkdirSync(out, { recursive: true });
  const chart = resolve(out, 'order-flow.svg');
  writeFileSync(chart, renderChart(result));
  writeFileSync(resolve(out, 'order-flow.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nchart: ${chart}`);
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const controller = new AbortController();
  const interrupt = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      // A second Ctrl-C: stop now (nats-server is killed on exit all the same).
      process.exit(130);
    }
    console.error(`\n${signal}: stopping, tearing everything down (Ctrl-C again to force)...`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    const result = await runOrderFlow({
      phaseMs: options.phaseMs,
      rate: options.rate,
      only: options.only,
      signal: controller.signal,
      onProgress: progressPrinter(process.stderr),
    });
    report(result, options.out);
  } catch (error) {
    if (error instanceof NatsUnavailableError) console.error(error.message);
    else if (controller.signal.aborted) console.error('interrupted; everything it started is stopped.');
    else console.error(`order-flow failed: ${(error as Error).message ?? error}`);
    process.exitCode = controller.signal.aborted ? 130 : 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  // The process should now exit by itself. If something still holds it, say what.
  setTimeout(() => {
    console.error(
      'order-flow: still running 5 s after the end; open handles:',
      process.getActiveResourcesInfo(),
    );
    process.exit(process.exitCode ?? 1);
  }, 5_000).unref();
}

await main();
