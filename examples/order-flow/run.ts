/**
 * `runOrderFlow(options)`: the whole example as a function. It gets a NATS server, then
 * for each mode (unprotected, then protected) builds the system, sends the same open-loop
 * load through the five phases while injecting the faults on the same timeline, waits for
 * everything to drain, and returns what it measured. `main.ts` prints it; the test asserts
 * on it.
 *
 * @module
 */
import { Faults } from './faults.js';
import { openLoop } from './load.js';
import {
  type BreakerTransition,
  type PhaseNumbers,
  phaseNumbers,
  Recorder,
  type SeriesPoint,
  summarize,
  timeSeries,
} from './metrics.js';
import { type NatsEndpoint, openNats } from './nats/server.js';
import type { StreamCount } from './nats/streams.js';
import {
  CHECKOUT_DEADLINE_MS,
  type FaultStep,
  faultTimeline,
  PHASES,
  phaseAt,
  WARM_UP_CART,
} from './scenario.js';
import { protectedStack, retryBudgetBound } from './stacks/protected.js';
import type { Mode } from './stacks/types.js';
import { unprotectedStack } from './stacks/unprotected.js';
import { startSystem } from './system.js';
import { OrderFlowTracing, type WaterfallRow } from './tracing.js';

/** The chart's time resolution: at 40 orders/s, 20 orders per point. */
const CHART_BUCKET_MS = 500;

export interface OrderFlowOptions {
  /**
   * Length of each of the five phases, ms.
   * @default 4_000
   */
  phaseMs?: number | undefined;
  /**
   * Orders per second (open loop).
   * @default 40
   */
  rate?: number | undefined;
  /** Run one mode only. @default both, unprotected first */
  only?: Mode | undefined;
  /** An existing NATS server. @default process.env.NATS_URL, else nats-server from the PATH */
  natsUrl?: string | undefined;
  /**
   * How long to wait, after the load, for every order to be published and consumed, ms.
   * @default 20_000
   */
  drainTimeoutMs?: number | undefined;
  /** Interrupts the run (Ctrl-C): everything is torn down and the run rejects. */
  signal?: AbortSignal | undefined;
  /** Progress while it runs. */
  onProgress?: ((event: ProgressEvent) => void) | undefined;
}

export type ProgressEvent =
  | { readonly type: 'nats'; readonly description: string }
  | { readonly type: 'run-start'; readonly mode: Mode }
  | { readonly type: 'phase'; readonly mode: Mode; readonly phase: number }
  | { readonly type: 'fault'; readonly mode: Mode; readonly action: FaultStep['action'] }
  | {
      readonly type: 'tick';
      readonly mode: Mode;
      readonly phase: number;
      readonly elapsedMs: number;
      readonly totalMs: number;
      readonly sent: number;
      readonly answered: number;
      readonly succeeded: number;
    }
  | { readonly type: 'draining'; readonly mode: Mode }
  | { readonly type: 'run-end'; readonly mode: Mode; readonly result: RunResult };

export interface RunResult {
  readonly mode: Mode;
  /** One entry per phase, in order. */
  readonly phases: PhaseNumbers[];
  readonly total: PhaseNumbers;
  /** Success rate and p99 per time bucket, for the chart. */
  readonly series: SeriesPoint[];
  readonly bucketMs: number;
  readonly transitions: BreakerTransition[];
  /** Whether every order was published and consumed before the drain timeout. */
  readonly drained: boolean;
  /** Messages in the ORDERS stream at the end, and how many were read to count copies per order. */
  readonly stream: StreamCount;
  /** Wall time of the run, set-up and drain included, ms. */
  readonly wallMs: number;
  /** Protected: the trace of the slowest checkout, from the spans the OpenTelemetry SDK recorded. */
  readonly trace?: WaterfallRow[] | undefined;
}

export interface OrderFlowResult {
  readonly phaseMs: number;
  readonly rate: number;
  readonly deadlineMs: number;
  /** The most calls per request the protected clients' retry budgets allow to reach Loyalty. */
  readonly retryBudgetBound: number;
  readonly nats: string;
  readonly runs: RunResult[];
}

function check(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a number from ${min} to ${max}; got ${value}`);
  }
  return value;
}

export async function runOrderFlow(options: OrderFlowOptions = {}): Promise<OrderFlowResult> {
  const phaseMs = check('phase duration (ms)', options.phaseMs ?? 4_000, 1_000, 60_000);
  const rate = check('rate (orders per second)', options.rate ?? 40, 1, 500);
  const modes: Mode[] = options.only === undefined ? ['unprotected', 'protected'] : [options.only];
  const emit = options.onProgress ?? (() => {});
  const nats = await openNats(options.natsUrl);
  const runs: RunResult[] = [];
  try {
    emit({ type: 'nats', description: nats.description });
    for (const mode of modes) {
      options.signal?.throwIfAborted();
      runs.push(await runOnce(mode, nats, { ...options, phaseMs, rate }, emit));
    }
  } finally {
    await nats.close();
  }
  return {
    phaseMs,
    rate,
    deadlineMs: CHECKOUT_DEADLINE_MS,
    retryBudgetBound: retryBudgetBound(rate),
    nats: nats.description,
    runs,
  };
}

async function runOnce(
  mode: Mode,
  nats: NatsEndpoint,
  options: OrderFlowOptions & { phaseMs: number; rate: number },
  emit: (event: ProgressEvent) => void,
): Promise<RunResult> {
  const { phaseMs, rate, signal } = options;
  const wallStart = performance.now();
  const totalMs = PHASES.length * phaseMs;
  emit({ type: 'run-start', mode });
  const recorder = new Recorder(phaseMs);
  const faults = new Faults();
  const tracing = mode === 'protected' ? new OrderFlowTracing() : undefined;
  const stack =
    tracing !== undefined ? tracing.traced(protectedStack(recorder, tracing)) : unprotectedStack();
  const system = await startSystem(stack, recorder, faults, nats.url);
  const timers: ReturnType<typeof setTimeout>[] = [];
  let ticker: ReturnType<typeof setInterval> | undefined;
  let pausing: Promise<void> | undefined;
  let paused = false;
  let drained = false;
  let stream: StreamCount = { messages: 0, counted: 0, warmUp: 0, deadLetters: 0 };
  let trace: WaterfallRow[] | undefined;
  try {
    // Connections, channels and the publisher's stream lookup, before the clock starts.
    for (let i = 0; i < 5; i++) {
      await system.edge.placeOrder({ seq: WARM_UP_CART, customer: 'warm-up', amountCents: 100 });
    }
    recorder.start();

    const apply = (step: FaultStep): void => {
      emit({ type: 'fault', mode, action: step.action });
      if (step.action === 'loyalty-cold') faults.loyaltyCold = true;
      else if (step.action === 'loyalty-warm') faults.loyaltyCold = false;
      else if (step.action === 'carrier-down') faults.carrierFails();
      else if (step.action === 'carrier-back') faults.carrierRecovers();
      else if (step.action === 'nats-pause') {
        paused = true;
        pausing = nats.pause();
      } else {
        void (pausing ?? Promise.resolve()).finally(() => {
          nats.resume();
          paused = false;
        });
      }
    };
    for (const step of faultTimeline(phaseMs)) timers.push(setTimeout(() => apply(step), step.at));

    let phase = -1;
    const tick = (): void => {
      const elapsedMs = Math.min(totalMs, recorder.now());
      const current = phaseAt(elapsedMs, phaseMs);
      if (current !== phase) {
        phase = current;
        emit({ type: 'phase', mode, phase });
      }
      let answered = 0;
      let succeeded = 0;
      for (const cart of recorder.carts) {
        if (cart.ok !== undefined) answered++;
        if (cart.ok === true) succeeded++;
      }
      emit({
        type: 'tick',
        mode,
        phase,
        elapsedMs,
        totalMs,
        sent: recorder.carts.length,
        answered,
        succeeded,
      });
    };
    tick();
    ticker = setInterval(tick, 250);

    await openLoop(system.edge, recorder, { rate, durationMs: totalMs, signal });
    clearInterval(ticker);
    tick();
    signal?.throwIfAborted();

    emit({ type: 'draining', mode });
    drained = await system.drain(options.drainTimeoutMs ?? 20_000, signal);
    signal?.throwIfAborted();
    stream = await system.countStored();
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    for (const timer of timers) clearTimeout(timer);
    faults.clear();
    if (paused) {
      await pausing?.catch(() => {});
      nats.resume();
    }
    await system.close();
    trace = tracing?.slowestCheckout(WARM_UP_CART);
    await tracing?.shutdown();
  }

  const result: RunResult = {
    mode,
    phases: phaseNumbers(recorder),
    total: summarize(
      recorder,
      () => true,
      { service: 'Loyalty', counter: 'loyalty' },
      recorder.transitions.length,
    ),
    series: timeSeries(recorder, CHART_BUCKET_MS),
    bucketMs: CHART_BUCKET_MS,
    transitions: recorder.transitions,
    drained,
    stream,
    wallMs: performance.now() - wallStart,
    trace,
  };
  emit({ type: 'run-end', mode, result });
  return result;
}
