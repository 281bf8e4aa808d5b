import { type MintedIds, mintedId } from '../id-run.js';
import { keyHeldUntil } from '../key-ttl.js';
import { corruptToFailed, isObject, recordProblems } from '../record-validation.js';
import { lastAtOrBefore } from '../sorted.js';
import type { ReadyExtras, RecoveredRun } from '../store.js';
import type { Stretch } from '../task-index.js';
import { type TaskRecord, type TaskStatus, TERMINAL_STATUSES } from '../types.js';
import type { Entry, SegmentKey } from './schema.js';
import type { SegmentMap } from './segment-map.js';
import { at, KIND, type SegmentSummary, statusOfCode, summarize, summaryRunAt, summarySeq } from './summary.js';

/** A segment found on open: its summary, or (when it has none this version can read) its value. */
export interface FoundSegment {
  key: SegmentKey;
  summary?: SegmentSummary | undefined;
  value?: unknown;
  /** Set by `LogLoad`: the segment's number in the map, once it joined. */
  local?: number;
  /** Deleted after its key was read. */
  gone?: boolean;
}

/** What opening found. */
export interface LoadResult {
  /** Live records read whole (running, waiting, keyed ones, and every live one of a segment without a summary). */
  live: TaskRecord[];
  /** Queued and retrying tasks known from summaries alone, by position. */
  ready: RecoveredRun[];
  corrupt: TaskRecord[];
  /** Values that are no segment this version can read. */
  unreadable: number;
  /** Finished records whose key still dedupes. */
  keyed: TaskRecord[];
  /** Summaries for segments found without one, to store so the next open need not read them whole. */
  backfill: { key: SegmentKey; summary: SegmentSummary }[];
}

interface Loading {
  key: SegmentKey;
  local: number;
  /** The versions' ids; undefined for a run the map holds by position (`minted`). */
  ids: string[] | undefined;
  minted: MintedIds | undefined;
  n: number;
  summary: SegmentSummary | undefined;
  records: unknown[] | undefined;
  /** A version of this segment failed validation: it gets no summary. */
  corrupt?: boolean;
}

/**
 * Rebuilds a `SegmentMap` from what is on disk, in steps a caller can spread over event-loop tasks:
 * first every version's id joins the map (in key order, so the newest wins), then each current
 * version is sorted out — from its summary where there is one, so inputs are never decoded for
 * queued tasks; the few versions a summary cannot describe (`KIND.full`) are read whole after.
 */
export class LogLoad {
  readonly #map: SegmentMap;
  readonly #found: readonly FoundSegment[];
  readonly #now: number;
  readonly #loading: Loading[] = [];
  #pass = 1;
  #at = 0;
  readonly #runs = new RunJoiner();
  readonly #result: LoadResult = { live: [], ready: this.#runs.runs, corrupt: [], unreadable: 0, keyed: [], backfill: [] };
  readonly #tombs: string[] = [];
  readonly #finished: { id: string; status: TaskStatus; held: number | undefined; at: number; record?: TaskRecord }[] = [];
  /** Current versions a summary cannot describe: their segment, and their positions in it. */
  readonly #whole = new Map<Loading, number[]>();

  constructor(map: SegmentMap, found: readonly FoundSegment[], now: number) {
    this.#map = map;
    this.#found = found;
    this.#now = now;
  }

  /** Does about `budget` versions' worth of the work; true once only `needed` and `finish` are left. */
  step(budget: number): boolean {
    while (budget > 0 && this.#pass === 1) {
      if (this.#at >= this.#found.length) {
        this.#map.loadSettle();
        this.#pass = 2;
        this.#at = 0;
        break;
      }
      budget -= this.#join(this.#found[this.#at++] as FoundSegment);
    }
    while (budget > 0 && this.#pass === 2) {
      if (this.#at >= this.#loading.length) {
        this.#pass = 3;
        break;
      }
      budget -= this.#sort(this.#loading[this.#at++] as Loading);
    }
    if (this.#pass === 3) this.#runs.flush();
    return this.#pass === 3;
  }

  /** Keys of the segments whose versions must be read whole, for `fill`. */
  needed(): SegmentKey[] {
    return [...this.#whole.keys()].map((l) => l.key);
  }

  /** The values of the `needed` segments, in that order (undefined for one that is gone). */
  fill(values: readonly unknown[]): void {
    let k = 0;
    for (const [loading, positions] of this.#whole) {
      const value = values[k++];
      const records = isObject(value) && Array.isArray(value.records) ? (value.records as unknown[]) : undefined;
      for (const i of positions) {
        const id = idAt(loading, i);
        const raw = records?.[i];
        if (isObject(raw) && raw.id === id) this.#classify(id, raw, loading);
        else
          this.#result.corrupt.push(
            corruptToFailed({ id }, id, ['its segment could not be read back where its summary said it is'], this.#now),
          );
      }
    }
    this.#whole.clear();
  }

  finish(): LoadResult {
    const finished = this.#finished.sort((a, b) => a.at - b.at);
    for (const f of finished) if (f.held !== undefined && f.record) this.#result.keyed.push(f.record);
    this.#map.loadEnd(this.#tombs, finished);
    for (const l of this.#loading)
      if (l.records && !l.corrupt && l.records.every((e) => isObject(e) && typeof e.id === 'string'))
        this.#result.backfill.push({ key: l.key, summary: summarize(l.records as Entry[]) });
    return this.#result;
  }

  /** Pass 1: the segment's versions join the map. Returns how many there were. */
  #join(found: FoundSegment): number {
    const { key, summary } = found;
    if (summary) {
      const local = this.#map.loadSegment(key, summary.n);
      found.local = local;
      if (Array.isArray(summary.ids)) {
        for (const id of summary.ids) this.#map.loadVersion(id, local);
        this.#loading.push({ key, local, ids: summary.ids, minted: undefined, n: summary.n, summary, records: undefined });
        return summary.n;
      }
      // A minted run: held by position, no id made or hashed.
      this.#map.loadRun(local, summary.ids.prefix, summary.ids.first, summary.n);
      this.#loading.push({ key, local, ids: undefined, minted: summary.ids, n: summary.n, summary, records: undefined });
      return 1;
    }
    const value = found.value;
    if (!isObject(value) || !Array.isArray(value.records)) {
      // Not a segment this version can read: left alone (never deleted), reported.
      this.#result.unreadable++;
      return 1;
    }
    const records = value.records as unknown[];
    const local = this.#map.loadSegment(key, records.length);
    found.local = local;
    const ids = records.map((raw, j) =>
      isObject(raw) && typeof raw.id === 'string' && raw.id !== '' ? raw.id : `corrupt:${key.join('.')}:${j}`,
    );
    for (const id of ids) this.#map.loadVersion(id, local);
    this.#loading.push({ key, local, ids, minted: undefined, n: ids.length, summary: undefined, records });
    return records.length;
  }

  /** Pass 2: each current version of the segment is sorted out. Returns how many versions it holds. */
  #sort(l: Loading): number {
    const { ids, local, summary, n } = l;
    const map = this.#map;
    if (!summary) {
      const records = l.records as unknown[];
      const all = ids as string[];
      for (let i = 0; i < n; i++) {
        const id = all[i] as string;
        if (map.where(id) === local) this.#classify(id, records[i], l);
      }
      return n;
    }
    const slot = ids ? undefined : map.runSlot(local);
    // The usual segment of a big batch: all ready, all current — one stretch, no per-task look.
    if (slot && summary.kind === KIND.ready && slot.goneCount === 0) {
      if (n > 0) this.#runs.add(summary, l, 0, n);
      return 1;
    }
    let runFrom = -1;
    for (let i = 0; i <= n; i++) {
      const current = i < n && (slot ? !slot.isGone(i) : map.where((ids as string[])[i] as string) === local);
      const kind = current ? at(summary.kind, i) : -1;
      if (kind === KIND.ready) {
        if (runFrom < 0) runFrom = i;
        continue;
      }
      if (runFrom >= 0) {
        this.#runs.add(summary, l, runFrom, i);
        runFrom = -1;
      }
      if (kind === -1) continue;
      const id = idAt(l, i);
      if (kind === KIND.tombstone) this.#tombs.push(id);
      else if (kind === KIND.done)
        this.#finished.push({ id, status: statusOfCode(at(summary.status, i)), held: undefined, at: summary.finishedAt?.[i] ?? 0 });
      else if (kind === KIND.full) {
        const positions = this.#whole.get(l);
        if (positions) positions.push(i);
        else this.#whole.set(l, [i]);
      }
    }
    return ids ? n : Math.ceil(n / 16);
  }

  /** A current version read whole: a tombstone, a finished task, or a live one (validated). */
  #classify(id: string, raw: unknown, l: Loading): void {
    if (isObject(raw) && raw.removed === true && raw.id === id) {
      this.#tombs.push(id);
      return;
    }
    if (isObject(raw) && raw.id === id && TERMINAL_STATUSES.has(raw.status as TaskRecord['status'])) {
      const record = raw as unknown as TaskRecord;
      this.#finished.push({ id, status: record.status, held: keyHeldUntil(record), at: record.finishedAt ?? 0, record });
      return;
    }
    const problems = recordProblems(raw);
    if (problems.length === 0) this.#result.live.push(raw as unknown as TaskRecord);
    else {
      l.corrupt = true;
      this.#result.corrupt.push(corruptToFailed(raw, id, problems, this.#now));
    }
  }
}

const idAt = (l: Loading, i: number): string => (l.ids ? (l.ids[i] as string) : mintedId(l.minted as MintedIds, i));

/** A stretch of one summary's versions, all current and ready. */
interface Piece {
  s: SegmentSummary;
  l: Loading;
  from: number;
  to: number;
  /** Position of `from` in the run. */
  at: number;
}

/** Tasks of one joined run at most: the index takes a run in one go, and the scheduler yields between runs. */
const JOIN_MAX = 65_536;

/**
 * Ready stretches of consecutive segments joined into one run where they continue each other (ids
 * minted in a row, seqs in a row): a queue enqueued in one big batch comes back as a few runs the
 * index holds by position, not as one per segment (too small for that).
 */
class RunJoiner {
  readonly runs: RecoveredRun[] = [];
  #pieces: Piece[] = [];
  #size = 0;
  #minted: { prefix: string; first: number } | undefined;
  #lastSeq = Number.NaN;

  add(s: SegmentSummary, l: Loading, from: number, to: number): void {
    const minted = Array.isArray(s.ids) ? undefined : { prefix: s.ids.prefix, first: s.ids.first + from };
    const continues =
      minted !== undefined &&
      this.#minted !== undefined &&
      minted.prefix === this.#minted.prefix &&
      minted.first === this.#minted.first + this.#size &&
      summarySeq(s, from) === this.#lastSeq + 1;
    if (!continues || this.#size >= JOIN_MAX) this.flush();
    if (this.#pieces.length === 0) this.#minted = minted;
    this.#pieces.push({ s, l, from, to, at: this.#size });
    this.#size += to - from;
    this.#lastSeq = summarySeq(s, to - 1);
  }

  flush(): void {
    if (this.#pieces.length === 0) return;
    this.runs.push(runOf(this.#pieces, this.#size, this.#minted));
    this.#pieces = [];
    this.#size = 0;
    this.#minted = undefined;
  }
}

const atOf = (p: Piece) => p.at;

/** The run over `pieces`. Reads go mostly in order, so the last piece used is tried first. */
function runOf(pieces: readonly Piece[], size: number, minted: RecoveredRun['minted']): RecoveredRun {
  let last = pieces[0] as Piece;
  const find = (i: number): Piece => {
    if (i >= last.at && i < last.at + last.to - last.from) return last;
    last = pieces[lastAtOrBefore(pieces, atOf, i)] as Piece;
    return last;
  };
  const pos = (p: Piece, i: number) => p.from + i - p.at;
  const extras: [number, ReadyExtras][] = [];
  let topSeq = Number.NEGATIVE_INFINITY;
  // Stretches are known without a look per task when each piece shares name, priority and runAt (a
  // batch's segments do) and the seqs run on (which joining checked between pieces).
  let uniform = minted !== undefined;
  for (const p of pieces) {
    for (const [i, x] of p.s.extras ?? []) if (i >= p.from && i < p.to) extras.push([p.at + i - p.from, x]);
    const { s } = p;
    if (typeof s.seq === 'number') topSeq = Math.max(topSeq, s.seq + p.to - 1);
    else for (let i = p.from; i < p.to; i++) topSeq = Math.max(topSeq, s.seq[i] as number);
    uniform &&= typeof s.seq === 'number' && typeof s.nameOf === 'number' && typeof s.priority === 'number' && typeof s.runAt === 'number';
  }
  const groupAt = new Map<number, string>();
  for (const [i, x] of extras) if (x.group !== undefined) groupAt.set(i, x.group);
  const stretches = function* (): Generator<Stretch> {
    for (const p of pieces)
      yield {
        to: p.at + p.to - p.from,
        name: p.s.names[p.s.nameOf as number] as string,
        priority: p.s.priority as TaskRecord['priority'],
        runAt: p.s.runAt as number,
      };
  };
  return {
    tasks: {
      size,
      id: (i) => {
        const p = find(i);
        return idAt(p.l, pos(p, i));
      },
      name: (i) => {
        const p = find(i);
        return p.s.names[at(p.s.nameOf, pos(p, i))] as string;
      },
      priority: (i) => {
        const p = find(i);
        return at(p.s.priority, pos(p, i)) as TaskRecord['priority'];
      },
      runAt: (i) => {
        const p = find(i);
        return summaryRunAt(p.s, pos(p, i));
      },
      seq: (i) => {
        const p = find(i);
        return summarySeq(p.s, pos(p, i));
      },
      ...(uniform ? { stretches } : {}),
      ...(groupAt.size > 0 ? { group: (i: number) => groupAt.get(i) } : {}),
    },
    minted,
    extras: extras.length > 0 ? extras : undefined,
    topSeq,
  };
}
