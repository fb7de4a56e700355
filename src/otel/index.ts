/**
 * `breakwater/otel`: OpenTelemetry traces and metrics for every policy.
 *
 * `openTelemetry()` gives a policy one INTERNAL span per operation (`breakwater <name>`,
 * the parent of every attempt's transport span), span events for what the policy decided,
 * and four metrics. Only `@opentelemetry/api` is imported (an optional peer dependency);
 * the SDK, exporters and instrumentations are the application's. docs/otel.md has the
 * names table and the wiring.
 *
 * @packageDocumentation
 */
import type { Telemetry } from '../engine/stages.js';
import { type OpenTelemetryOptions, resolveOptions } from './options.js';
import { OpenTelemetryTelemetry } from './telemetry.js';

export type { Telemetry } from '../engine/stages.js';
export { activeAttempt, undiciResendCount } from './attempt.js';
export type {
  AttemptOutcomeValue,
  CircuitStateValue,
  OperationOutcome,
  PolicyEventValue,
} from './names.js';
export type { OpenTelemetryOptions } from './options.js';

/**
 * Creates the telemetry for `policy({ telemetry })`: traces and metrics through the
 * OpenTelemetry API, to the global providers unless others are given. Safe to share
 * between policies; each policy is traced and measured under its own `name`.
 *
 * With no SDK registered (the API's no-op), an operation costs a few property reads.
 *
 * @throws InvalidOptionsError for an unknown option or a value of the wrong kind.
 *
 * @example
 * ```ts
 * import { policy } from 'breakwater';
 * import { openTelemetry } from 'breakwater/otel';
 * const orders = policy({ name: 'orders', telemetry: openTelemetry() });
 * ```
 */
export function openTelemetry(options?: OpenTelemetryOptions): Telemetry {
  return new OpenTelemetryTelemetry(resolveOptions(options));
}
