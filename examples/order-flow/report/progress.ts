/**
 * Progress while the example runs. On a terminal: one status line, rewritten in place
 * (phase, time, orders sent and answered, success so far), plus a line for every phase and
 * fault. Elsewhere (a pipe, CI): only the phase and fault lines.
 *
 * @module
 */
import type { ProgressEvent } from '../run.js';
import { PHASES } from '../scenario.js';

const NAMES = { unprotected: 'unprotected', protected: 'breakwater' } as const;

const FAULTS: Record<string, string> = {
  'loyalty-cold': 'Loyalty goes cold: calls take hundreds of ms',
  'loyalty-warm': 'Loyalty is warm again',
  'carrier-down': "Shipping's carrier stops answering",
  'carrier-back': "Shipping's carrier is back",
  'nats-pause': 'nats-server paused: no acks',
  'nats-resume': 'nats-server resumed',
};

export function progressPrinter(stream: NodeJS.WriteStream): (event: ProgressEvent) => void {
  const live = stream.isTTY === true && !process.env.CI;
  let status = false;
  const line = (text: string): void => {
    if (status) stream.write('\r\x1b[K');
    status = false;
    stream.write(`${text}\n`);
  };
  return (event) => {
    switch (event.type) {
      case 'nats':
        line(`NATS: ${event.description}`);
        break;
      case 'run-start':
        line(`\n== ${NAMES[event.mode]} run ==`);
        break;
      case 'phase': {
        const phase = PHASES[event.phase];
        if (phase !== undefined) line(`[${NAMES[event.mode]}] ${phase.title}`);
        break;
      }
      case 'fault':
        line(`[${NAMES[event.mode]}]   · ${FAULTS[event.action] ?? event.action}`);
        break;
      case 'tick':
        if (live) {
          const ok = event.answered === 0 ? 100 : (event.succeeded / event.answered) * 100;
          stream.write(
            `\r\x1b[K  ${(event.elapsedMs / 1_000).toFixed(1)}/${(event.totalMs / 1_000).toFixed(0)} s` +
              `  sent ${event.sent}  answered ${event.answered}  succeeded ${ok.toFixed(0)}%`,
          );
          status = true;
        }
        break;
      case 'draining':
        line(`[${NAMES[event.mode]}] load done; waiting for every order to be published and consumed`);
        break;
      case 'run-end':
        line(
          `[${NAMES[event.mode]}] done in ${(event.result.wallMs / 1_000).toFixed(1)} s` +
            (event.result.drained ? '' : ' (drain timed out)'),
        );
        break;
    }
  };
}
