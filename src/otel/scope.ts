/**
 * The context an attempt runs in: the caller's context with the operation's span and the
 * attempt's number on top. The API's own contexts copy every value they hold on each
 * `setValue` (a Map and three closures per context), two per attempt for these two
 * values; this one holds them as fields over the caller's context, unchanged, and copies
 * nothing until someone derives a context from it.
 *
 * @module
 */
import { type Context, createContextKey, trace } from '@opentelemetry/api';
import { ATTEMPT_KEY } from './attempt.js';

/**
 * The key under which the API keeps the active span, learnt from the API itself: the key
 * `trace.getSpan` asks a context for. (It is `Symbol.for('OpenTelemetry Context Key SPAN')`
 * in every version of the API, so that copies of it agree.)
 */
export const SPAN_KEY: symbol = spanKey();

function spanKey(): symbol {
  let asked: symbol | undefined;
  const probe: Context = {
    getValue(key) {
      asked = key;
      return undefined;
    },
    setValue: () => probe,
    deleteValue: () => probe,
  };
  trace.getSpan(probe);
  return asked ?? createContextKey('OpenTelemetry Context Key SPAN');
}

/** @internal A span and an attempt number over a parent context. */
export class AttemptScope implements Context {
  readonly #parent: Context;
  readonly #span: unknown;
  readonly #attempt: unknown;

  constructor(parent: Context, span: unknown, attempt: unknown) {
    this.#parent = parent;
    this.#span = span;
    this.#attempt = attempt;
  }

  getValue(key: symbol): unknown {
    if (key === SPAN_KEY) return this.#span;
    if (key === ATTEMPT_KEY) return this.#attempt;
    return this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    if (key === SPAN_KEY) return new AttemptScope(this.#parent, value, this.#attempt);
    if (key === ATTEMPT_KEY) return new AttemptScope(this.#parent, this.#span, value);
    return new AttemptScope(this.#parent.setValue(key, value), this.#span, this.#attempt);
  }

  deleteValue(key: symbol): Context {
    if (key === SPAN_KEY || key === ATTEMPT_KEY) {
      // Rare: fall back to the API's contexts, which can tell a missing value from undefined.
      return this.#parent
        .setValue(SPAN_KEY, this.#span)
        .setValue(ATTEMPT_KEY, this.#attempt)
        .deleteValue(key);
    }
    return new AttemptScope(this.#parent.deleteValue(key), this.#span, this.#attempt);
  }
}
