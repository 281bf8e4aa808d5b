import type { Segments } from './directory.js';
import {
  BIG_INPUT,
  copyRecord,
  type Entry,
  inputBytes,
  isTombstone,
  SEGMENT_BYTES,
  SEGMENT_MAX,
  type Segment,
  type SegmentKey,
} from './schema.js';
import type { PutSegment } from './segment-map.js';
import { GROUP_BYTES, GROUP_MAX, holdsReady, type SegmentSummary, type SummaryGroup, summarize, summaryBytes } from './summary.js';
import type { SummaryGroups } from './summary-groups.js';

/** Segment puts in flight at once for a write spread across tasks. */
const CHAIN_DEPTH = 2;

/** Versions waiting for their segments to be put. */
export interface Source {
  /** For a lazy source, the write's own array, whose records are replaced by copies as they are put. */
  entries: Entry[];
  lazy: boolean;
  /** Next entry to put. */
  next: number;
  /** Segment numbers `base … base + entries.length - 1` are reserved for it, so its segments keep its place in write order whenever they are put. */
  base: number;
}

/** What the puts of one transaction need from the batch around them. */
export interface SegmentWriterHost {
  /** This connection's stamp: the first half of every segment key it writes. */
  readonly stamp: number;
  readonly stats: { segmentsWritten: number };
  /** The transaction was aborted to be replayed: no more puts. */
  readonly replayed: boolean;
  /** A lazy source's record was replaced by its copy: the copy is what reads see now. */
  pend(entry: Entry): void;
  /** A put made from a success callback was refused (see `put`): the transaction is to be replayed. */
  refused(): void;
}

/**
 * The segment puts of one read-write transaction: versions into `log` segments (each with its
 * directory entry), and beside each segment holding a queued task its summary. A source of many
 * segments is put one segment per event-loop task: each put's success callback puts the next, which
 * keeps the transaction active between them.
 */
export class SegmentWriter {
  /** The segments put so far, for the map once the transaction commits. */
  readonly segments: PutSegment[] = [];
  readonly #os: Segments;
  /** The `summary` store: each segment's summary goes in the current group. */
  readonly #summaries: IDBObjectStore;
  readonly #host: SegmentWriterHost;
  /** The summary groups put (the last one still filling), registered once the transaction commits. */
  readonly #groups: { key: SegmentKey; parts: [SegmentKey, SegmentSummary][]; locals: number[]; bytes: number }[] = [];
  /** Sources still to put, from put success callbacks (see `#pump`). */
  readonly #queue: Source[] = [];
  #inFlight = 0;

  constructor(os: Segments, summaries: IDBObjectStore, host: SegmentWriterHost) {
    this.#os = os;
    this.#summaries = summaries;
    this.#host = host;
  }

  /**
   * Puts the first segment of `sources` now, where the transaction is active, and the rest from put
   * success callbacks. Returns what `put` returns for that first segment; nothing is queued unless
   * it went in.
   */
  start(sources: readonly Source[]): unknown {
    const failure = this.put(sources[0] as Source);
    if (failure !== undefined) return failure;
    this.#queue.push(...sources);
    this.#pump();
    return undefined;
  }

  /**
   * Puts the next segment of `source`: up to `SEGMENT_MAX` versions and about `SEGMENT_BYTES` of
   * input, a big input alone. Returns undefined, `'inactive'` when the transaction no longer takes
   * requests (nothing is taken then), or the error of a value IndexedDB refuses (a `DataCloneError`:
   * thrown, and the put never happens).
   */
  put(source: Source): unknown {
    const { entries } = source;
    const start = source.next;
    let end = start;
    let bytes = 0;
    while (end < entries.length && end - start < SEGMENT_MAX) {
      const e = entries[end] as Entry;
      const size = isTombstone(e) ? 0 : inputBytes(e.input);
      if (end > start && (size > BIG_INPUT || bytes + size > SEGMENT_BYTES)) break;
      bytes += size;
      end++;
      if (size > BIG_INPUT) break;
    }
    const segment = start === 0 && end === entries.length ? entries : entries.slice(start, end);
    if (source.lazy)
      for (let k = 0; k < segment.length; k++) {
        const e = segment[k] as Entry;
        const copy = isTombstone(e) ? e : copyRecord(e);
        segment[k] = copy;
        entries[start + k] = copy;
        this.#host.pend(copy);
      }
    const local = source.base + start;
    const key: SegmentKey = [this.#host.stamp, local];
    let request: IDBRequest;
    try {
      request = this.#os.put(key, { records: segment } satisfies Segment);
      // Only a segment holding a queued task gets a summary: one of state changes (running,
      // finished) is read whole if it is still there at the next open, as running tasks must be anyway.
      if (holdsReady(segment)) this.#putSummary(key, local, summarize(segment));
    } catch (error) {
      if ((error as DOMException)?.name === 'TransactionInactiveError') return 'inactive';
      return error ?? new Error('put failed');
    }
    source.next = end;
    this.#host.stats.segmentsWritten++;
    this.segments.push({ local, key, entries: segment });
    this.#inFlight++;
    request.onsuccess = () => {
      this.#inFlight--;
      this.#pump();
    };
    return undefined;
  }

  /** The transaction committed: its summary groups go into `groups`. */
  register(groups: SummaryGroups): void {
    for (const g of this.#groups) groups.add(g.key, g.locals);
  }

  /**
   * Adds a segment's summary to the current group and puts the group again (the put replaces the
   * last one, in the same transaction): a group is whole whenever the transaction ends.
   */
  #putSummary(key: SegmentKey, local: number, summary: SegmentSummary): void {
    const bytes = summaryBytes(summary);
    let group = this.#groups.at(-1);
    if (!group || group.parts.length >= GROUP_MAX || group.bytes + bytes > GROUP_BYTES) {
      group = { key, parts: [], locals: [], bytes: 0 };
      this.#groups.push(group);
    }
    group.parts.push([key, summary]);
    group.locals.push(local);
    group.bytes += bytes;
    this.#summaries.put({ v: 2, parts: group.parts } satisfies SummaryGroup, group.key);
  }

  /** Keeps up to `CHAIN_DEPTH` puts in flight; called where the transaction is active (`start`, a put's success callback). */
  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < CHAIN_DEPTH && !this.#host.replayed) {
      const source = this.#queue[0] as Source;
      if (source.next >= source.entries.length) {
        this.#queue.shift();
        continue;
      }
      const failure = this.put(source);
      if (failure !== undefined) {
        this.#host.refused();
        return;
      }
    }
  }
}
