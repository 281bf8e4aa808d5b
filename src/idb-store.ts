import { CorruptRecordError, StorageError } from './errors.js';
import { type Loaded, openConnection, watchConnection } from './idb/connection.js';
import {
  BIG_INPUT,
  copyRecord,
  describeError,
  type Entry,
  inputBytes,
  isTombstone,
  noop,
  SCHEMA_VERSION,
  SEGMENT_BYTES,
  SEGMENT_MAX,
  type Segment,
  type SegmentKey,
  type Tombstone,
} from './idb/schema.js';
import { corruptToFailed, isObject, recordProblems } from './record-validation.js';
import { Retention, type RetentionLimits } from './retention.js';
import { type ListQuery, matchesQuery, type TaskStore } from './store.js';
import { type TaskRecord, TERMINAL_STATUSES } from './types.js';
import { yieldToEventLoop } from './yield.js';

export { SCHEMA_VERSION } from './idb/schema.js';

/** Decoded records kept for reads (prefetched segments), at most. */
const CACHE_MAX = 2048;
/** Segment puts in flight at once for a write spread across tasks. */
const CHAIN_DEPTH = 2;
/** Versions whose bookkeeping one event-loop task does after a commit, at most. */
const LEDGER_SLICE = 4096;
/** Compaction rewrites a segment once this fraction or less of it is current, and it has at least `COMPACT_MIN_SIZE` versions. */
const COMPACT_RATIO = 0.25;
const COMPACT_MIN_SIZE = 32;
/** Segments compacted per `trim` call. */
const COMPACT_PER_TRIM = 8;

export interface IdbStoreOptions {
  /**
   * Transaction durability for writes. `'relaxed'` commits once the OS has the data (fast, survives a
   * tab crash); `'strict'` waits for it to reach the disk (survives a power cut, much slower).
   * @default 'relaxed'
   */
  durability?: 'relaxed' | 'strict';
  /** Called with things that went wrong outside any call: a closed connection, corrupt records moved to failed. */
  onWarning?: (error: Error) => void;
  /** Epoch ms for the `finishedAt` of records failed by recovery. @default Date.now */
  now?: () => number;
  /**
   * The IndexedDB to use, e.g. a Storage Bucket's (`(await navigator.storageBuckets.open('tasks',
   * { quota, persisted: true })).indexedDB`) to give tasks their own quota and eviction policy.
   * @default globalThis.indexedDB
   */
  factory?: IDBFactory;
}

/** Counters for tests and benchmarks. */
export interface IdbStoreStats {
  /** Read-write transactions opened (one per group commit, plus replays and deletions). */
  transactions: number;
  commits: number;
  /** Group commits that failed (their writes rejected). */
  aborts: number;
  /** Read-only transactions opened by `read`, `prefetch`, `list` and compaction. */
  reads: number;
  /** Records `read` took from a prefetched segment (done or still in flight) instead of opening a transaction. */
  prefetchHits: number;
  /** Segments put. */
  segmentsWritten: number;
  /** Segments deleted because nothing current was left in them. */
  segmentsDeleted: number;
  /** Segments rewritten by compaction. */
  compactions: number;
}

/** One caller's `write`: settled when the transaction holding it commits or aborts. */
interface Write {
  /** Its versions; for a lazy write, our own array, whose records are replaced by copies as they are put. */
  entries: Entry[];
  /**
   * A write bigger than one segment: copied and made visible to `read` segment by segment as it is
   * put, so no single event-loop task pays for all of it.
   */
  lazy: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/** Versions waiting for their segments to be put. */
interface Source {
  entries: Entry[];
  lazy: boolean;
  /** Next entry to put. */
  next: number;
  /** Segment numbers `base … base + entries.length - 1` are reserved for it, so its segments keep its place in write order whenever they are put. */
  base: number;
}

/** A segment put in a transaction not yet committed. */
interface PutSegment {
  local: number;
  key: SegmentKey;
  entries: Entry[];
}

/** One group commit: a read-write transaction and everything that went into it. */
interface Batch {
  tx: IDBTransaction;
  os: IDBObjectStore;
  writes: Write[];
  /** Writes not yet handed to `queue`; the flush that does runs at the end of the turn, or at once for a big write. */
  unflushed: Write[];
  flushQueued: boolean;
  /** Versions still to put: one segment is put at once, the rest from put success callbacks (see `#pump`). */
  queue: Source[];
  inFlight: number;
  segments: PutSegment[];
  deletes: number[];
  /** Aborted on purpose so its writes go again in a new batch: its abort rejects nothing. */
  replayed: boolean;
}

/** A committed batch whose bookkeeping is not finished: `segment`/`entry` say how far it got. */
interface LedgerItem {
  segments: PutSegment[];
  deletes: number[];
  segment: number;
  entry: number;
}

/** What the store knows of a committed segment. */
interface SegmentInfo {
  key: SegmentKey;
  size: number;
  /** Tasks whose current version is in this segment. */
  live: number;
  /** Nothing current is left: its deletion is requested or in flight. */
  dying: boolean;
}

/** The versions of several small writes, one per task (the last written wins), in first-write order. */
function combine(writes: readonly Write[]): Entry[] {
  if (writes.length === 1) return (writes[0] as Write).entries;
  const byId = new Map<string, Entry>();
  for (const w of writes) for (const e of w.entries) byId.set(e.id, e);
  return [...byId.values()];
}

/**
 * Tasks in IndexedDB, packed: each group commit appends one segment (a single value) holding the
 * new version of every task written in it, so a commit of 500 state changes costs one `put`, not
 * 500. Segments whose versions have all been superseded are deleted in a later commit; retention
 * writes tombstones where older versions could otherwise come back; compaction rewrites mostly-
 * stale segments forward.
 *
 * In memory the store keeps, per task, only where its current version lives (a segment number), not
 * the record: inputs stay on disk until a task is read for dispatch, and `prefetch` reads the next
 * segments ahead so dispatch rarely waits.
 *
 * Writes are group-committed: every `write` of one turn shares one read-write transaction, and a
 * version written twice in it is stored once. A write of thousands of tasks is put one segment per
 * event-loop task, in the same transaction (each put's success callback puts the next), so the
 * main thread is never held for the whole serialisation while the write stays all-or-nothing.
 */
export class IdbStore implements TaskStore {
  readonly kind = 'indexeddb' as const;
  readonly name: string;
  readonly stats: IdbStoreStats = {
    transactions: 0,
    commits: 0,
    aborts: 0,
    reads: 0,
    prefetchHits: 0,
    segmentsWritten: 0,
    segmentsDeleted: 0,
    compactions: 0,
  };
  /** Where warnings go; `createScheduler` points it at the scheduler's `warning` event. */
  onwarning: ((error: Error) => void) | undefined;
  readonly #raw: IDBDatabase;
  readonly #durability: IDBTransactionDurability;
  readonly #now: () => number;
  readonly #stamp: number;
  /** Stamps of other connections open on this database when this one opened (see `#collectable`). */
  readonly #foreign: ReadonlySet<number>;
  readonly #releaseLock: () => void;
  #nextLocal: number;

  /** Committed segments by local number (ascending = key order). */
  readonly #segments = new Map<number, SegmentInfo>();
  /** Task id → the segment holding its current committed version. */
  readonly #where = new Map<string, number>();
  /** Task id → segments that held its earlier versions (some may be deleted since). */
  readonly #older = new Map<string, number[]>();
  /** Ids whose current version is a tombstone. */
  readonly #tombs = new Set<string>();
  /** Versions written but not yet committed, by id: what a read sees first. */
  readonly #pending = new Map<string, Entry>();
  readonly #retention = new Retention();
  /** Versions compaction is moving (not new states of their tasks). */
  readonly #moved = new WeakSet<Entry>();
  /** Segments with nothing current, waiting to be deleted in the next commit. */
  #toDelete: number[] = [];
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;

  #batch: Batch | undefined;
  /** Batches begun and not finished, oldest first: IndexedDB commits them in this order. */
  readonly #open: Batch[] = [];
  /** Writes waiting for the transactions in flight to finish (see `#moveToNext`). */
  readonly #parked: Write[] = [];
  readonly #ledger: LedgerItem[] = [];
  #accountQueued = false;
  readonly #settling = new Set<Promise<void>>();
  /** Decoded segments read ahead: local number → id → record (taken out when read). */
  readonly #cache = new Map<number, Map<string, TaskRecord>>();
  #cached = 0;
  readonly #inflight = new Map<number, Promise<Map<string, TaskRecord>>>();
  /** Live records found on open, handed out once by `recover`. */
  #recovered: { live: TaskRecord[]; corrupt: TaskRecord[] } | undefined;
  #closed = false;
  #closeReason = '';

  /** Use `openIdbStore`. */
  constructor(db: IDBDatabase, name: string, loaded: Loaded, options: IdbStoreOptions = {}) {
    this.#raw = db;
    this.name = name;
    this.#durability = options.durability ?? 'relaxed';
    this.#now = options.now ?? Date.now;
    this.onwarning = options.onWarning;
    this.#stamp = loaded.stamp;
    this.#foreign = loaded.foreign;
    this.#releaseLock = loaded.release;
    this.#nextLocal = 0;
    this.#load(loaded);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #warn(error: Error): void {
    this.onwarning?.(error);
  }

  #closedError(what: string): StorageError {
    return new StorageError(`could not ${what}: database "${this.name}" is closed${this.#closeReason ? ` (${this.#closeReason})` : ''}`);
  }

  // ── open: rebuild the map of current versions ─────────────────────────────────────────────────

  #load({ keys, values }: Loaded): void {
    const now = this.#now();
    const current = new Map<string, unknown>();
    let unreadable = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as SegmentKey;
      const value = values[i];
      if (!isObject(value) || !Array.isArray(value.records)) {
        // Not a segment this version can read: left alone (never deleted), reported.
        unreadable++;
        continue;
      }
      const local = this.#nextLocal++;
      const entries = value.records as unknown[];
      this.#segments.set(local, { key, size: entries.length, live: 0, dying: false });
      for (let j = 0; j < entries.length; j++) {
        const raw = entries[j];
        const id = isObject(raw) && typeof raw.id === 'string' && raw.id !== '' ? raw.id : `corrupt:${key.join('.')}:${j}`;
        this.#supersede(id, local);
        current.set(id, raw);
      }
    }
    const live: TaskRecord[] = [];
    const corrupt: TaskRecord[] = [];
    const finished: TaskRecord[] = [];
    for (const [id, raw] of current) {
      if (isObject(raw) && raw.removed === true && raw.id === id) {
        this.#tombs.add(id);
        continue;
      }
      if (isObject(raw) && raw.id === id && TERMINAL_STATUSES.has(raw.status as TaskRecord['status'])) {
        finished.push(raw as unknown as TaskRecord);
        continue;
      }
      const problems = recordProblems(raw);
      if (problems.length === 0) live.push(raw as unknown as TaskRecord);
      else corrupt.push(corruptToFailed(raw, id, problems, now));
    }
    finished.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const r of finished) this.#retention.note(r.id, r.status);
    for (const [local, info] of this.#segments) if (info.live === 0) this.#markDead(local, info);
    this.#dropTombstones();
    this.#recovered = { live, corrupt };
    if (unreadable > 0)
      queueMicrotask(() =>
        this.#warn(new CorruptRecordError(`${unreadable} stored segment(s) of "${this.name}" are unreadable and were left as they are`)),
      );
  }

  // ── accounting: which segment holds each task's current version ──────────────────────────────

  /** `id`'s current version is now in `local`; the one it replaces (if any) becomes history. */
  #supersede(id: string, local: number): void {
    const info = this.#segments.get(local) as SegmentInfo;
    const prev = this.#where.get(id);
    if (prev !== undefined && prev !== local) {
      const old = this.#segments.get(prev);
      if (old) {
        if (--old.live === 0) this.#markDead(prev, old);
        // Pruned in place of segments already gone, so a history stays a few entries long.
        const history = this.#older.get(id);
        if (!history) this.#older.set(id, [prev]);
        else {
          let kept = 0;
          for (const s of history) if (this.#segments.has(s)) history[kept++] = s;
          history.length = kept;
          history.push(prev);
        }
      }
    }
    if (prev !== local) info.live++;
    this.#where.set(id, local);
  }

  /** Forgets `id` entirely: its current version's segment loses it. Only when no older version can come back (see `#removable`). */
  #drop(id: string): void {
    const at = this.#where.get(id);
    this.#where.delete(id);
    this.#older.delete(id);
    this.#tombs.delete(id);
    this.#retention.forget(id);
    const info = at === undefined ? undefined : this.#segments.get(at);
    if (info && --info.live === 0) this.#markDead(at as number, info);
  }

  /** True when no segment holding an earlier version of `id` is left on disk. */
  #removable(id: string): boolean {
    const history = this.#older.get(id);
    return !history || history.every((s) => !this.#segments.has(s));
  }

  /**
   * Whether this connection may delete or compact a segment: its own, or one written by a
   * connection that is gone (a closed tab, a migration). Another open tab's segments hold versions
   * that tab may still read, and states it wrote after this one opened; they are left to it.
   */
  #collectable(info: SegmentInfo): boolean {
    const stamp = info.key[0];
    return stamp === this.#stamp || !this.#foreign.has(stamp);
  }

  #markDead(local: number, info: SegmentInfo): void {
    if (info.dying || !this.#collectable(info)) return;
    info.dying = true;
    this.#toDelete.push(local);
    this.#cacheDrop(local);
    this.#scheduleDeletes();
  }

  /** Deletions ride along with the next flush; with none coming this turn, they get a commit of their own. */
  #scheduleDeletes(): void {
    if (this.#toDelete.length === 0 || this.#deleteTimer !== undefined || this.#closed || this.#batch?.flushQueued) return;
    this.#deleteTimer = setTimeout(() => {
      this.#deleteTimer = undefined;
      if (this.#toDelete.length > 0 && !this.#closed) void this.#own([]).catch(noop);
    }, 0);
  }

  /** Tombstones whose task has no older version left on disk are no longer needed. */
  #dropTombstones(): void {
    for (const id of this.#tombs) if (!this.#pending.has(id) && this.#removable(id)) this.#drop(id);
  }

  /**
   * A batch committed: its segments join the map (in key order), its deletions leave it. Done in
   * slices of `LEDGER_SLICE` versions, one per event-loop task, in commit order. Until a version's
   * turn comes it stays in `#pending`, which reads consult first, so the lag is invisible to them;
   * `#settle` finishes the bookkeeping for the operations that need all of it (trim, list, remove).
   */
  #committed(batch: Batch): void {
    const segments = batch.segments.sort((a, b) => a.local - b.local);
    this.#ledger.push({ segments, deletes: batch.deletes, segment: 0, entry: 0 });
    this.#account(LEDGER_SLICE);
  }

  #account(budget: number): void {
    while (this.#ledger.length > 0 && budget > 0) {
      const item = this.#ledger[0] as LedgerItem;
      while (item.segment < item.segments.length && budget > 0) {
        const seg = item.segments[item.segment] as PutSegment;
        if (item.entry === 0) this.#segments.set(seg.local, { key: seg.key, size: seg.entries.length, live: 0, dying: false });
        const end = Math.min(seg.entries.length, item.entry + budget);
        for (let k = item.entry; k < end; k++) {
          const e = seg.entries[k] as Entry;
          this.#supersede(e.id, seg.local);
          if (isTombstone(e)) {
            this.#tombs.add(e.id);
            this.#retention.forget(e.id);
          } else {
            this.#tombs.delete(e.id);
            // A version compaction moved keeps its task's place in retention's order.
            if (!this.#moved.has(e)) this.#retention.note(e.id, e.status);
          }
          if (this.#pending.get(e.id) === e) this.#pending.delete(e.id);
        }
        budget -= end - item.entry;
        item.entry = end;
        if (item.entry < seg.entries.length) break;
        const info = this.#segments.get(seg.local) as SegmentInfo;
        if (info.live === 0) this.#markDead(seg.local, info);
        item.segment++;
        item.entry = 0;
      }
      if (item.segment < item.segments.length) break;
      this.#ledger.shift();
      if (item.deletes.length > 0) {
        for (const local of item.deletes) this.#segments.delete(local);
        this.stats.segmentsDeleted += item.deletes.length;
        if (this.#tombs.size > 0) this.#dropTombstones();
      }
    }
    if (this.#ledger.length > 0 && !this.#accountQueued) {
      this.#accountQueued = true;
      void yieldToEventLoop().then(() => {
        this.#accountQueued = false;
        this.#account(LEDGER_SLICE);
      });
    }
    this.#scheduleDeletes();
  }

  /** Finishes all pending bookkeeping now. */
  #settle(): void {
    if (this.#ledger.length > 0) this.#account(Number.POSITIVE_INFINITY);
  }

  // ── write: group commit ───────────────────────────────────────────────────────────────────────

  /**
   * Stores `records`; resolves when they have committed. Records of a write of up to one segment
   * (512) are copied now; a bigger write's are copied as their segment is put, so the caller must not
   * mutate them until the write settles (the scheduler never does).
   */
  write(records: readonly TaskRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(this.#closedError(`store ${records.length} record(s)`));
    if (records.length > SEGMENT_MAX) return this.#submit(records.slice(), true);
    return this.#submit(records.map(copyRecord), false);
  }

  /** Submits versions the store made itself (nobody else holds them, so nothing to copy). */
  #own(entries: Entry[]): Promise<void> {
    return this.#submit(entries, false);
  }

  /** Adds versions to this turn's batch (opening one if needed); resolves when it commits. */
  #submit(entries: Entry[], lazy: boolean): Promise<void> {
    let batch = this.#batch;
    if (!batch && (this.#parked.length > 0 || this.#open.length > 0)) {
      // A transaction is committing: this write waits with the others for the next one.
      const parked = this.#newWrite(entries, lazy);
      this.#parked.push(parked.write);
      return parked.promise;
    }
    const { write, promise } = this.#newWrite(entries, lazy);
    batch ??= this.#tryBegin([write]);
    if (!batch) return promise;
    batch.writes.push(write);
    batch.unflushed.push(write);
    if (lazy) this.#flush(batch);
    else if (!batch.flushQueued) {
      batch.flushQueued = true;
      const b = batch;
      queueMicrotask(() => this.#flush(b));
    }
    return promise;
  }

  #newWrite(entries: Entry[], lazy: boolean): { write: Write; promise: Promise<void> } {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    if (!lazy) for (const e of entries) this.#pending.set(e.id, e);
    return { write: { entries, lazy, resolve, reject }, promise };
  }

  /** A new batch, or undefined after failing `writes` with the reason none could be begun (a closed connection, say). */
  #tryBegin(writes: readonly Write[]): Batch | undefined {
    try {
      return this.#begin();
    } catch (error) {
      const count = writes.reduce((n, w) => n + w.entries.length, 0);
      const failure = new StorageError(`could not start a transaction to store ${count} record(s): ${describeError(error)}`, {
        cause: error,
      });
      for (const w of writes) this.#fail(w, failure);
      return undefined;
    }
  }

  #begin(): Batch {
    const tx = this.#raw.transaction('log', 'readwrite', { durability: this.#durability });
    this.stats.transactions++;
    if (this.#deleteTimer !== undefined) {
      clearTimeout(this.#deleteTimer);
      this.#deleteTimer = undefined;
    }
    const batch: Batch = {
      tx,
      os: tx.objectStore('log'),
      writes: [],
      unflushed: [],
      flushQueued: false,
      queue: [],
      inFlight: 0,
      segments: [],
      deletes: [],
      replayed: false,
    };
    let done!: () => void;
    const settled = new Promise<void>((r) => (done = r));
    this.#settling.add(settled);
    this.#open.push(batch);
    const finish = () => {
      if (this.#batch === batch) this.#batch = undefined;
      const at = this.#open.indexOf(batch);
      if (at >= 0) this.#open.splice(at, 1);
      if (!this.#closed) queueMicrotask(() => this.#unpark());
      this.#settling.delete(settled);
      done();
    };
    tx.oncomplete = () => {
      finish();
      this.stats.commits++;
      this.#committed(batch);
      for (const w of batch.writes) w.resolve();
    };
    tx.onabort = () => {
      finish();
      if (batch.replayed) return;
      this.stats.aborts++;
      this.#toDelete.push(...batch.deletes);
      this.#scheduleDeletes();
      const cause = tx.error ?? new DOMException('the transaction was aborted', 'AbortError');
      const count = batch.writes.reduce((n, w) => n + w.entries.length, 0);
      const error = new StorageError(`commit of ${count} record(s) to "${this.name}" failed: ${describeError(cause)}`, { cause });
      for (const w of batch.writes) this.#fail(w, error);
    };
    this.#batch = batch;
    return batch;
  }

  #fail(write: Write, error: unknown): void {
    for (const e of write.entries) if (this.#pending.get(e.id) === e) this.#pending.delete(e.id);
    write.reject(error);
  }

  #source(entries: Entry[], lazy: boolean): Source {
    const base = this.#nextLocal;
    // At least one number even when empty: two segments sharing a key would overwrite each other.
    this.#nextLocal += Math.max(1, entries.length);
    return { entries, lazy, next: 0, base };
  }

  /** Hands this turn's writes to the batch's queue and puts the first segment now, with the pending deletions. */
  #flush(batch: Batch): void {
    batch.flushQueued = false;
    if (batch.replayed) return;
    const writes = batch.unflushed.splice(0);
    const deletes = this.#toDelete.splice(0);
    try {
      for (const local of deletes) {
        const info = this.#segments.get(local);
        if (info) batch.os.delete(info.key);
      }
      batch.deletes.push(...deletes);
    } catch (error) {
      this.#toDelete.push(...deletes);
      if ((error as DOMException)?.name === 'TransactionInactiveError') {
        // The turn that opened this transaction is over and it is committing: the next one takes these.
        this.#moveToNext(batch, writes);
        return;
      }
      this.#replay(batch);
      return;
    }
    const sources = (
      writes.some((w) => w.lazy) ? writes.map((w) => this.#source(w.entries, w.lazy)) : [this.#source(combine(writes), false)]
    ).filter((source) => source.entries.length > 0);
    if (sources.length === 0) return;
    const failure = this.#putFrom(batch, sources[0] as Source);
    if (failure === 'inactive') {
      this.#moveToNext(batch, writes);
      return;
    }
    if (failure !== undefined) {
      this.#replay(batch);
      return;
    }
    batch.queue.push(...sources);
    this.#pump(batch);
  }

  /**
   * Writes that came too late for `batch` (already committing) go to the next one. That one begins
   * when every transaction in flight has finished (IndexedDB would make it wait anyway): everything
   * written meanwhile shares it, so under load a commit carries many turns' writes, not one.
   */
  #moveToNext(batch: Batch, writes: Write[]): void {
    if (this.#batch === batch) this.#batch = undefined;
    const moving = new Set(writes);
    batch.writes = batch.writes.filter((w) => !moving.has(w));
    if (writes.length === 0 && this.#toDelete.length === 0) return;
    if (this.#closed) {
      // Closed while they waited for their flush: no next batch will come.
      for (const w of writes) this.#fail(w, this.#closedError(`store ${w.entries.length} record(s)`));
      return;
    }
    if (this.#open.length > 0) {
      this.#parked.push(...writes);
      return;
    }
    this.#beginWith(writes);
  }

  /** After the last transaction in flight finished: the parked writes go in one new batch. */
  #unpark(): void {
    if (this.#open.length > 0 || this.#parked.length === 0) return;
    this.#beginWith(this.#parked.splice(0));
  }

  #beginWith(writes: Write[]): void {
    const next = this.#tryBegin(writes);
    if (!next) return;
    next.writes.push(...writes);
    next.unflushed.push(...writes);
    this.#flush(next);
  }

  /**
   * Puts the next segment of `source`: up to `SEGMENT_MAX` versions and about `SEGMENT_BYTES` of
   * input, a big input alone. Returns undefined, `'inactive'` when the transaction no longer takes
   * requests (nothing is taken then), or the error of a value IndexedDB refuses (a `DataCloneError`:
   * thrown, and the put never happens).
   */
  #putFrom(batch: Batch, source: Source): unknown {
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
        this.#pending.set(copy.id, copy);
      }
    const local = source.base + start;
    const key: SegmentKey = [this.#stamp, local];
    let request: IDBRequest;
    try {
      request = batch.os.put({ records: segment } satisfies Segment, key);
    } catch (error) {
      if ((error as DOMException)?.name === 'TransactionInactiveError') return 'inactive';
      return error ?? new Error('put failed');
    }
    source.next = end;
    this.stats.segmentsWritten++;
    batch.segments.push({ local, key, entries: segment });
    batch.inFlight++;
    request.onsuccess = () => {
      batch.inFlight--;
      this.#pump(batch);
    };
    return undefined;
  }

  /** Keeps up to `CHAIN_DEPTH` puts in flight; called where the transaction is active (a flush, a put's success callback). */
  #pump(batch: Batch): void {
    while (batch.queue.length > 0 && batch.inFlight < CHAIN_DEPTH && !batch.replayed) {
      const source = batch.queue[0] as Source;
      if (source.next >= source.entries.length) {
        batch.queue.shift();
        continue;
      }
      const failure = this.#putFrom(batch, source);
      if (failure !== undefined) {
        this.#replay(batch);
        return;
      }
    }
  }

  /**
   * A value in `batch` was refused. Aborts it (so nothing of it commits) and puts each write again
   * on its own in a new transaction, all at once: a write refused again fails alone with a
   * `StorageError`; the others commit.
   */
  #replay(batch: Batch): void {
    // Batches begun after this one cannot have committed (IndexedDB runs them in order), and their
    // versions are newer: they are aborted and replayed too, after this one's, to keep that order.
    const from = this.#open.indexOf(batch);
    const aborted = from >= 0 ? this.#open.slice(from) : [batch];
    let writes: Write[] = [];
    for (const b of aborted) {
      b.replayed = true;
      if (this.#batch === b) this.#batch = undefined;
      this.#toDelete.push(...b.deletes);
      try {
        b.tx.abort();
      } catch {
        // Already finished or aborting.
      }
      writes = writes.concat(b.writes);
    }
    retry: while (writes.length > 0) {
      const next = this.#tryBegin(writes);
      if (!next) return;
      if (this.#batch === next) this.#batch = undefined; // a replay takes no new writes
      for (const w of writes) {
        const before = next.segments.length;
        const source = this.#source(w.entries, w.lazy);
        let cause: unknown;
        while (cause === undefined && source.next < source.entries.length) cause = this.#putFrom(next, source);
        if (cause === undefined) {
          next.writes.push(w);
          continue;
        }
        this.#fail(w, new StorageError(`could not store ${w.entries.length} record(s): ${describeError(cause)}`, { cause }));
        if (next.segments.length > before) {
          // Part of the refused write went in: start over without it.
          next.replayed = true;
          next.tx.abort();
          writes = writes.filter((other) => other !== w);
          continue retry;
        }
      }
      break;
    }
    this.#scheduleDeletes();
  }

  // ── read, prefetch ────────────────────────────────────────────────────────────────────────────

  read(ids: readonly string[]): (TaskRecord | undefined)[] | Promise<(TaskRecord | undefined)[]> {
    const out: (TaskRecord | undefined)[] = new Array(ids.length);
    let missing: Map<number, number[]> | undefined;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const pending = this.#pending.get(id);
      if (pending !== undefined) {
        out[i] = isTombstone(pending) ? undefined : copyRecord(pending);
        continue;
      }
      const at = this.#where.get(id);
      if (at === undefined || this.#tombs.has(id)) continue;
      const hit = this.#cacheTake(at, id);
      if (hit !== undefined) {
        out[i] = hit;
        continue;
      }
      if (!missing) missing = new Map();
      const slots = missing.get(at);
      if (slots) slots.push(i);
      else missing.set(at, [i]);
    }
    if (!missing) return out;
    if (this.#closed) return Promise.reject(this.#closedError(`read ${ids.length} record(s)`));
    const fetch = [...missing.keys()].filter((at) => !this.#inflight.has(at));
    if (fetch.length > 0) this.#fetch(fetch);
    const waits: Promise<void>[] = [];
    for (const [at, slots] of missing) {
      const inflight = this.#inflight.get(at);
      if (!inflight) continue; // the segment went meanwhile: its tasks are gone too
      if (!fetch.includes(at)) this.stats.prefetchHits += slots.length;
      waits.push(
        inflight.then(async (decoded) => {
          let moved: number[] | undefined;
          for (const i of slots) {
            const id = ids[i] as string;
            const record = decoded.get(id);
            if (record === undefined) {
              // Its version moved while the segment was read (a commit in between): read it where it is now.
              if (this.#pending.has(id) || (this.#where.get(id) ?? at) !== at) (moved ??= []).push(i);
              continue;
            }
            out[i] = copyRecord(record);
            const cached = this.#cache.get(at);
            if (cached?.delete(id)) this.#cached--;
          }
          if (moved) {
            const again = await this.read(moved.map((i) => ids[i] as string));
            moved.forEach((i, k) => {
              out[i] = again[k];
            });
          }
        }),
      );
    }
    return Promise.all(waits).then(() => out);
  }

  /** A prefetched record, taken out of the cache (the caller may mutate it; it is read once). */
  #cacheTake(at: number, id: string): TaskRecord | undefined {
    const decoded = this.#cache.get(at);
    const hit = decoded?.get(id);
    if (hit === undefined) return undefined;
    decoded?.delete(id);
    this.#cached--;
    this.stats.prefetchHits++;
    return copyRecord(hit);
  }

  /**
   * Starts reading the segments holding `ids` so that a `read` of them soon after needs no wait.
   * Fire and forget.
   */
  prefetch(ids: readonly string[]): void {
    if (this.#closed) return;
    let want: number[] | undefined;
    for (const id of ids) {
      if (this.#pending.has(id)) continue;
      const at = this.#where.get(id);
      if (at === undefined || this.#cache.has(at) || this.#inflight.has(at) || want?.includes(at)) continue;
      (want ??= []).push(at);
    }
    if (want) this.#fetch(want);
  }

  /**
   * Reads segments in one read-only transaction (IndexedDB orders it after every write transaction
   * opened before it). Each resolves with its current versions, never mutated; a copy of that map
   * goes to the cache, from which reads take.
   */
  #fetch(locals: readonly number[]): void {
    let tx: IDBTransaction;
    try {
      tx = this.#raw.transaction('log', 'readonly');
    } catch (error) {
      const failure = Promise.reject(new StorageError(`could not read: ${describeError(error)}`, { cause: error }));
      failure.catch(noop);
      for (const local of locals) this.#inflight.set(local, failure);
      queueMicrotask(() => {
        for (const local of locals) if (this.#inflight.get(local) === failure) this.#inflight.delete(local);
      });
      return;
    }
    this.stats.reads++;
    const os = tx.objectStore('log');
    for (const local of locals) {
      const info = this.#segments.get(local);
      if (!info) continue;
      const request = os.get(info.key);
      const promise = new Promise<Map<string, TaskRecord>>((resolve, reject) => {
        request.onsuccess = () => {
          const decoded = new Map<string, TaskRecord>();
          const value = request.result as Segment | undefined;
          for (const e of value?.records ?? []) if (!isTombstone(e) && this.#where.get(e.id) === local) decoded.set(e.id, e);
          if (this.#inflight.get(local) === promise) {
            this.#inflight.delete(local);
            if (!this.#closed && this.#segments.has(local)) this.#cacheAdd(local, new Map(decoded));
          }
          resolve(decoded);
        };
        request.onerror = () =>
          reject(new StorageError(`could not read a segment of "${this.name}": ${describeError(request.error)}`, { cause: request.error }));
      });
      promise.catch(() => {
        if (this.#inflight.get(local) === promise) this.#inflight.delete(local);
      });
      this.#inflight.set(local, promise);
    }
  }

  #cacheAdd(local: number, decoded: Map<string, TaskRecord>): void {
    this.#cacheDrop(local);
    this.#cache.set(local, decoded);
    this.#cached += decoded.size;
    for (const [oldest, records] of this.#cache) {
      if (this.#cached <= CACHE_MAX || oldest === local) break;
      this.#cache.delete(oldest);
      this.#cached -= records.size;
    }
  }

  #cacheDrop(local: number): void {
    const decoded = this.#cache.get(local);
    if (!decoded) return;
    this.#cache.delete(local);
    this.#cached -= decoded.size;
  }

  // ── recovery ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Every live record (queued, retrying, running), validated, as found on open. A record that fails
   * validation is replaced by a `failed` one carrying a `CorruptRecordError` (see `corruptToFailed`);
   * a warning lists them. Recovery never throws over a bad record. Call once.
   */
  async recover(): Promise<TaskRecord[]> {
    if (this.#closed) throw this.#closedError('recover');
    const found = this.#recovered ?? { live: [], corrupt: [] };
    this.#recovered = undefined;
    if (found.corrupt.length > 0) {
      await this.#own(found.corrupt);
      const ids = found.corrupt.map((r) => r.id);
      this.#warn(
        new CorruptRecordError(
          `${ids.length} stored record(s) failed validation on load and were moved to failed: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`,
        ),
      );
    }
    return found.live;
  }

  // ── list, remove, retention, compaction ───────────────────────────────────────────────────────

  /**
   * Current versions matching `query`, newest segment first (uncommitted ones before all). Reads
   * segments a few at a time; a task whose version moves meanwhile is read again where it went.
   */
  async list(query: ListQuery): Promise<TaskRecord[]> {
    if (this.#closed) throw this.#closedError('list records');
    this.#settle();
    const limit = query.limit ?? 100;
    if (limit <= 0) return [];
    const out: TaskRecord[] = [];
    const seen = new Set<string>();
    const take = (e: Entry) => {
      if (seen.has(e.id)) return;
      seen.add(e.id);
      if (!isTombstone(e) && matchesQuery(e, query)) out.push(e);
    };
    for (const e of [...this.#pending.values()].reverse()) {
      if (out.length >= limit) return out;
      take(isTombstone(e) ? e : copyRecord(e));
    }
    const locals = [...this.#segments.entries()]
      .filter(([, info]) => info.live > 0)
      .map(([local]) => local)
      .sort((a, b) => b - a);
    const listed = new Set(locals);
    const moved = new Set<string>();
    for (let i = 0; i < locals.length && out.length < limit; i += 8) {
      const some = locals.slice(i, i + 8);
      const values = await this.#readSegments(some);
      this.#settle();
      for (let k = 0; k < some.length && out.length < limit; k++) {
        const local = some[k] as number;
        for (const e of values[k]?.records ?? []) {
          if (out.length >= limit) break;
          if (seen.has(e.id)) continue;
          const at = this.#where.get(e.id);
          if (at === local && !this.#pending.has(e.id)) take(e);
          else if (this.#pending.has(e.id) || (at !== undefined && !listed.has(at))) moved.add(e.id);
        }
      }
    }
    const again = [...moved].filter((id) => !seen.has(id));
    if (again.length > 0 && out.length < limit) for (const r of await this.read(again)) if (r && out.length < limit) take(r);
    return out;
  }

  /** Raw segment values, bypassing the cache (callers keep or mutate what they get). */
  #readSegments(locals: readonly number[]): Promise<(Segment | undefined)[]> {
    return new Promise((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = this.#raw.transaction('log', 'readonly');
      } catch (error) {
        reject(new StorageError(`could not read: ${describeError(error)}`, { cause: error }));
        return;
      }
      this.stats.reads++;
      const os = tx.objectStore('log');
      const out: (Segment | undefined)[] = new Array(locals.length);
      locals.forEach((local, k) => {
        const info = this.#segments.get(local);
        if (!info) return;
        const request = os.get(info.key);
        request.onsuccess = () => {
          out[k] = request.result as Segment | undefined;
        };
      });
      tx.oncomplete = () => resolve(out);
      tx.onabort = () => reject(new StorageError(`could not read: ${describeError(tx.error)}`, { cause: tx.error }));
    });
  }

  /** Removes tasks: resolves once their removal has committed. */
  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    if (this.#closed) throw this.#closedError(`remove ${ids.length} record(s)`);
    await this.#removeAll(ids);
  }

  /**
   * Removes the current versions of `ids`. A task goes without a trace when its segment empties
   * with it and no older version of it is left on disk; otherwise a tombstone is written, kept
   * until those older versions are gone.
   */
  async #removeAll(ids: readonly string[]): Promise<void> {
    this.#settle();
    const bySegment = new Map<number, string[]>();
    const tombstones: Tombstone[] = [];
    for (const id of new Set(ids)) {
      if (this.#pending.has(id)) {
        tombstones.push({ id, removed: true });
        continue;
      }
      const at = this.#where.get(id);
      if (at === undefined || this.#tombs.has(id)) continue;
      const list = bySegment.get(at);
      if (list) list.push(id);
      else bySegment.set(at, [id]);
    }
    for (const [at, list] of bySegment) {
      const info = this.#segments.get(at) as SegmentInfo;
      if (info.live === list.length && this.#collectable(info) && list.every((id) => this.#removable(id)))
        for (const id of list) this.#drop(id);
      else
        // Retention forgets them once the tombstones commit (`#account`); until then `trim` skips
        // them as pending, and a failed write leaves them tracked, as they still are on disk.
        for (const id of list) tombstones.push({ id, removed: true });
    }
    // Resolve only once the removal is on disk: the tombstones, or the deletion of emptied segments.
    if (tombstones.length > 0 || this.#toDelete.length > 0) await this.#own(tombstones);
  }

  /**
   * Applies retention: removes the oldest terminal tasks beyond the limits (`completed` counts
   * completed tasks; `failed` counts failed, cancelled and skipped ones together), then compacts a
   * few mostly-stale segments. Runs in the background; dispatch never waits on it.
   */
  async trim(limits: RetentionLimits): Promise<number> {
    if (this.#closed) return 0;
    this.#settle();
    const victims = this.#retention.excess(limits).filter((id) => !this.#pending.has(id));
    if (victims.length > 0) await this.#removeAll(victims);
    await this.#compact();
    return victims.length;
  }

  /** Rewrites the current versions left in mostly-stale segments into a new one, so the old ones go. */
  async #compact(): Promise<void> {
    this.#settle();
    const candidates: number[] = [];
    for (const [local, info] of this.#segments) {
      if (info.dying || info.size < COMPACT_MIN_SIZE || info.live > info.size * COMPACT_RATIO || !this.#collectable(info)) continue;
      candidates.push(local);
      if (candidates.length >= COMPACT_PER_TRIM) break;
    }
    if (candidates.length === 0 || this.#closed) return;
    const values = await this.#readSegments(candidates);
    if (this.#closed) return;
    this.#settle();
    const moved: Entry[] = [];
    candidates.forEach((local, k) => {
      if (!this.#segments.has(local)) return;
      this.stats.compactions++;
      // A segment holds one version per task: the one whose current version is here is it.
      for (const e of values[k]?.records ?? []) if (this.#where.get(e.id) === local && !this.#pending.has(e.id)) moved.push(e);
    });
    for (const e of moved) this.#moved.add(e);
    if (moved.length > 0) await this.#own(moved);
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────────

  /** Resolves once every write already requested has committed (or failed), then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#settle();
    if (this.#toDelete.length > 0) void this.#own([]).catch(noop);
    const batch = this.#batch;
    if (batch?.flushQueued) this.#flush(batch);
    // Parked writes go in once the transactions ahead of them finish.
    while (this.#open.length > 0 || this.#parked.length > 0) {
      await Promise.allSettled([...this.#settling]);
      await Promise.resolve();
    }
    this.#markClosed('closed by its owner');
    await Promise.allSettled([...this.#settling]);
  }

  #markClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#releaseLock();
    const parked = this.#parked.splice(0);
    for (const w of parked) this.#fail(w, this.#closedError(`store ${w.entries.length} record(s)`));
    this.#batch = undefined;
    if (this.#deleteTimer !== undefined) clearTimeout(this.#deleteTimer);
    this.#cache.clear();
    this.#cached = 0;
    this.#inflight.clear();
    // Transactions already open still finish; new ones throw InvalidStateError.
    this.#raw.close();
  }

  /** @internal Another connection wants a new version, or to delete the database: let it. */
  _onVersionChange(newVersion: number | null): void {
    if (this.#closed) return;
    const reason =
      newVersion === null
        ? 'another tab is deleting it'
        : `another tab is opening it at version ${newVersion} (this one has version ${SCHEMA_VERSION})`;
    this.#markClosed(reason);
    this.#warn(new StorageError(`database "${this.name}" closed: ${reason}; writes fail until the page reloads`));
  }

  /** @internal The browser closed the connection (storage cleared, disk error). */
  _onTerminated(): void {
    if (this.#closed) return;
    this.#markClosed('the browser closed the connection');
    this.#warn(
      new StorageError(
        `database "${this.name}" was closed by the browser (storage cleared or failing); writes fail until the page reloads`,
      ),
    );
  }
}

/**
 * Opens (creating or upgrading) the database `name` and reads where every task's current version
 * is. Rejects with `StorageError` when IndexedDB is missing or refuses (its `cause` says why; a
 * `VersionError` cause means a newer tasklane made it). A connection that blocks a newer version or
 * a delete elsewhere closes itself and warns.
 */
export async function openIdbStore(name: string, options: IdbStoreOptions = {}): Promise<IdbStore> {
  const { db, loaded } = await openConnection(name, options);
  const store = new IdbStore(db, name, loaded, options);
  watchConnection(db, store);
  return store;
}
