/**
 * Which stream holds a subject, and that stream's duplicate window, learned from the
 * server once per stream and then answered locally.
 *
 * The stream name is the publisher's key for a keyed circuit breaker (one breaker state
 * per stream) and the duplicate window bounds its retries (see `duplicate-window.ts`).
 * A subject is matched against the subject filters of the streams already known before
 * anything is asked, so `orders.created.<id>` costs one lookup for the whole stream, not
 * one per order. Nothing is cached for a subject no stream holds (it may be created), so
 * the next publish to it asks again.
 *
 * @module
 */
import { JetStreamErrorCodes, jetStreamApiError } from './classify.js';
import { DEFAULT_DUPLICATE_WINDOW_MS } from './duplicate-window.js';
import { subjectMatches } from './subject.js';
import type { JetStreamClientLike, JetStreamManagerLike, StreamInfoLike } from './types.js';

/** What the publisher knows about one stream. */
export interface StreamRecord {
  readonly name: string;
  /** The stream's subject filters. */
  readonly subjects: readonly string[];
  /** The stream's duplicate window, in ms. */
  readonly duplicateWindowMs: number;
}

/** Subjects remembered at most; past it the oldest is forgotten (it is matched again cheaply). */
const MAX_SUBJECTS = 10_000;

/** @internal */
export class StreamDirectory {
  readonly #js: JetStreamClientLike;
  #jsm: Promise<JetStreamManagerLike> | undefined;
  readonly #streams = new Map<string, StreamRecord>();
  /** subject → record, in insertion order (oldest first) for eviction. */
  readonly #subjects = new Map<string, StreamRecord>();
  readonly #pending = new Map<string, Promise<StreamRecord | undefined>>();

  constructor(js: JetStreamClientLike) {
    this.#js = js;
  }

  /** The record for `subject` (or for the stream named `stream`) if known now; no I/O. */
  known(subject: string, stream: string | undefined): StreamRecord | undefined {
    if (stream !== undefined) return this.#streams.get(stream);
    const hit = this.#subjects.get(subject);
    if (hit !== undefined) return hit;
    for (const record of this.#streams.values()) {
      for (const pattern of record.subjects) {
        if (subjectMatches(pattern, subject)) {
          this.#remember(subject, record);
          return record;
        }
      }
    }
    return undefined;
  }

  /**
   * Asks the server which stream holds `subject` (or about the stream named `stream`).
   * Resolves with undefined when no stream holds the subject (or none has the name given);
   * rejects with the client's error when the server cannot be asked (the caller's retry
   * loop decides what next).
   * Concurrent questions about the same subject share one request.
   */
  resolve(subject: string, stream: string | undefined): Promise<StreamRecord | undefined> {
    const id = stream === undefined ? `subject:${subject}` : `stream:${stream}`;
    let pending = this.#pending.get(id);
    if (pending === undefined) {
      pending = this.#lookup(subject, stream).finally(() => this.#pending.delete(id));
      this.#pending.set(id, pending);
    }
    return pending;
  }

  async #lookup(subject: string, stream: string | undefined): Promise<StreamRecord | undefined> {
    const known = this.known(subject, stream);
    if (known !== undefined) return known;
    const jsm = await this.#manager();
    let name = stream;
    if (name === undefined) {
      for await (const found of jsm.streams.names(subject)) {
        name = found;
        break;
      }
      if (name === undefined) return undefined;
    }
    let info: StreamInfoLike;
    try {
      info = await jsm.streams.info(name);
    } catch (error) {
      // A stream named by the caller that does not exist: as good an answer as "no stream".
      if (stream !== undefined && jetStreamApiError(error)?.errCode === JetStreamErrorCodes.streamNotFound) {
        return undefined;
      }
      throw error;
    }
    const record = toRecord(info);
    this.#streams.set(record.name, record);
    if (stream === undefined) this.#remember(subject, record);
    return record;
  }

  #manager(): Promise<JetStreamManagerLike> {
    let jsm = this.#jsm;
    if (jsm === undefined) {
      // `false`: skip the API check request; the lookup itself tells whether JetStream answers.
      const created = this.#js.jetstreamManager(false);
      jsm = created;
      this.#jsm = created;
      // A failed attempt (e.g. the server is down at startup) must not stay cached.
      created.catch(() => {
        if (this.#jsm === created) this.#jsm = undefined;
      });
    }
    return jsm;
  }

  #remember(subject: string, record: StreamRecord): void {
    if (this.#subjects.size >= MAX_SUBJECTS) {
      const oldest = this.#subjects.keys().next();
      if (oldest.done !== true) this.#subjects.delete(oldest.value);
    }
    this.#subjects.set(subject, record);
  }
}

function toRecord(info: StreamInfoLike): StreamRecord {
  const window = info.config.duplicate_window;
  return Object.freeze({
    name: info.config.name,
    subjects: Object.freeze([...(info.config.subjects ?? [])]),
    // The API speaks nanoseconds.
    duplicateWindowMs:
      typeof window === 'number' && window > 0 ? window / 1_000_000 : DEFAULT_DUPLICATE_WINDOW_MS,
  });
}
