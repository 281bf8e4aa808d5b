import { CorruptRecordError, StorageError } from './errors.js';
import { type Loaded, loadAll, openConnection, watchConnection } from './idb/connection.js';
import { checkDirectory } from './idb/directory.js';
import { GroupCommit, type HeldWrite, isTransient } from './idb/group-commit.js';
import type { LoadResult } from './idb/log-load.js';
import { openLog } from './idb/open-log.js';
import { writeSchedules } from './idb/schedule-table.js';
import { copyRecord, describeError, type Entry, isTombstone, noop, SCHEMA_VERSION, SEGMENT_MAX } from './idb/schema.js';
import { SegmentCache } from './idb/segment-cache.js';
import { SegmentMap } from './idb/segment-map.js';
import { MemoryStore } from './memory-store.js';
import type { StorageInfo } from './metrics.js';
import type { RetentionLimits } from './retention.js';
import type { ScheduleRecord } from './schedule-types.js';
import { type ListQuery, matchesQuery, type RecoveredRun, type TaskStore } from './store.js';
import type { TaskRecord } from './types.js';

export { SCHEMA_VERSION } from './idb/schema.js';

export interface IdbStoreOptions {
  /**
   * Transaction durability for writes. `'relaxed'` commits once the OS has the data (fast, survives a
   * tab crash); `'strict'` waits for it to reach the disk (survives a power cut, much slower).
   * @default 'relaxed'
   */
  durability?: 'relaxed' | 'strict';
  /** Called with things that went wrong outside any call: a lost connection, failing commits, corrupt records moved to failed. */
  onWarning?: (error: Error) => void;
  /** Epoch ms for the `finishedAt` of records failed by recovery. @default Date.now */
  now?: () => number;
  /**
   * The IndexedDB to use, e.g. a Storage Bucket's (`(await navigator.storageBuckets.open('tasks',
   * { quota, persisted: true })).indexedDB`) to give tasks their own quota and eviction policy.
   * @default globalThis.indexedDB
   */
  factory?: IDBFactory;
  /**
   * How storage use is measured for `storage()` (`metrics().storage`): for a store on a Storage
   * Bucket, the bucket's `estimate`. Set to `null` to measure nothing.
   * @default navigator.storage.estimate, where there is one
   */
  estimate?: (() => Promise<{ usage?: number; quota?: number }>) | null;
}

/** How long after open the segment directory is checked (`IdbStore.checkDirectory`). */
const DIRECTORY_CHECK_MS = 5_000;

/** Counters for tests and benchmarks. */
export interface IdbStoreStats {
  /** Read-write transactions opened (one per group commit, plus replays, retries and deletions). */
  transactions: number;
  commits: number;
  /** Group commits that failed (their writes rejected, or held for a retry). */
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
  /** Times the database was opened again after its connection was lost (deleted elsewhere, closed by the browser). */
  reopens: number;
}

/** One connection to the database and what is built on it. A store moves to a new one when the old is lost. */
interface Connection {
  readonly raw: IDBDatabase;
  readonly release: () => void;
  readonly map: SegmentMap;
  readonly commit: GroupCommit;
  readonly cache: SegmentCache;
  /** Lost or closed: nothing new starts on it. */
  done: boolean;
}

/** Opens tried after a loss before the store serves from memory, and the pause before the second (doubling after). */
const REOPEN_TRIES = 6;
const REOPEN_PAUSE_MS = 50;
/** After a loss, how long the transactions in flight may take to report before they are given up. */
const SETTLE_WAIT_MS = 500;
/** Storage use is measured after a commit at most this often. */
const MEASURE_EVERY_MS = 2_000;

/** How the connection was lost: deleted by another page, taken by a newer version, or closed by the browser. */
type Loss = 'deleted' | 'upgraded' | 'terminated';

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
 *
 * Faults: a state change (`persist`) whose commit fails for a transient reason (out of quota) is
 * held and committed again with backoff; `health()` says so meanwhile. A database deleted by another
 * page, or a connection the browser closes, is opened again and the live tasks this page still
 * holds are written back; a database taken by a newer version leaves the store serving from memory.
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
    reopens: 0,
  };
  /** Where warnings go; `createScheduler` points it at the scheduler's `warning` event. */
  onwarning: ((error: Error) => void) | undefined;
  readonly #durability: 'relaxed' | 'strict';
  readonly #factory: IDBFactory | undefined;
  #conn: Connection;
  #state: 'open' | 'reopening' | 'memory' | 'closed' = 'open';
  /**
   * While reopening: the calls waiting for the next connection (or for memory), in call order. They
   * run synchronously, in that order, the moment the store leaves `'reopening'`, before any later
   * call: a state change never overtakes an older one.
   */
  readonly #waiting: (() => void)[] = [];
  /** After a loss that could not be repaired: what the store serves from. */
  #memory: MemoryStore | undefined;
  /** Writes of the lost connection's transactions that aborted after it was let go, to carry over. */
  readonly #orphans: HeldWrite[] = [];
  /** Why the store is not fully itself (reopening, serving from memory), for `health()`. */
  #problem: string | undefined;
  /** While held state changes fail to commit: why, for `health()`. */
  #failing: string | undefined;
  /** How storage use is measured, the last measurement, and when the next may be taken. */
  readonly #estimate: (() => Promise<{ usage?: number; quota?: number }>) | undefined;
  #storage: StorageInfo | undefined;
  #persisted: boolean | undefined;
  #measuring = false;
  #nextMeasure = 0;
  /** Live records found on open, handed out once by `recover` and `recoverReady`. */
  #recovered: { live: TaskRecord[]; corrupt: TaskRecord[]; ready: RecoveredRun[] } | undefined;
  readonly #now: () => number;
  /** Finished records found on open whose key still dedupes, handed out once by `recoverKeys`. */
  #recoveredKeys: TaskRecord[] | undefined;
  #closeReason = '';
  #directoryTimer?: ReturnType<typeof setTimeout>;
  /** The repeat schedules, as committed: they are few, and a database lost under the page gets them back from here. */
  readonly #schedules = new Map<string, ScheduleRecord>();

  /** Use `openIdbStore`. */
  constructor(db: IDBDatabase, name: string, loaded: Loaded, options: IdbStoreOptions = {}) {
    this.name = name;
    this.#durability = options.durability ?? 'relaxed';
    this.#factory = options.factory;
    this.onwarning = options.onWarning;
    this.#estimate = options.estimate === null ? undefined : (options.estimate ?? defaultEstimate());
    this.#now = options.now ?? Date.now;
    this.#conn = this.#connect(db, loaded);
    for (const schedule of loaded.schedules) this.#schedules.set(schedule.id, schedule);
    if (loaded.badSchedules > 0)
      queueMicrotask(() =>
        this.#warn(
          new CorruptRecordError(`${loaded.badSchedules} stored schedule(s) of "${this.name}" are unreadable and were left as they are`),
        ),
      );
  }

  /** @internal Builds the connection's map from what `openConnection` found; `openIdbStore` awaits it before handing the store out. */
  async _load(loaded: Loaded): Promise<void> {
    const found = await this.#load(this.#conn, loaded);
    this.#directoryTimer = setTimeout(() => void this.checkDirectory().catch(noop), DIRECTORY_CHECK_MS);
    this.#recovered = { live: found.live, corrupt: found.corrupt, ready: found.ready };
    this.#recoveredKeys = found.keyed;
    if (found.unreadable > 0)
      queueMicrotask(() =>
        this.#warn(
          new CorruptRecordError(`${found.unreadable} stored segment(s) of "${this.name}" are unreadable and were left as they are`),
        ),
      );
  }

  /** Rebuilds `conn`'s map from `loaded` (see `openLog`). */
  #load(conn: Connection, loaded: Loaded): Promise<LoadResult> {
    return openLog(conn.raw, conn.map, conn.commit.groups, loaded, this.#now());
  }

  /** The parts on connection `db`, watched for its loss. */
  #connect(db: IDBDatabase, loaded: Loaded): Connection {
    const { stats } = this;
    const closedError = (what: string) => this.#closedError(what);
    const durability = this.#durability;
    // `conn` is assigned before any of these callbacks can run.
    let conn!: Connection;
    // A connection that refuses transactions (InvalidStateError) is closed, whether or not its
    // `close` event came: treated as closed by the browser.
    const transaction = (mode: IDBTransactionMode) => {
      try {
        return mode === 'readwrite' ? db.transaction(['log', 'summary', 'dir'], mode, { durability }) : db.transaction('log', mode);
      } catch (error) {
        if ((error as DOMException)?.name === 'InvalidStateError')
          queueMicrotask(() => conn === this.#conn && !conn.done && this.#lose(conn, 'terminated', null));
        throw error;
      }
    };
    const map = new SegmentMap({
      stamp: loaded.stamp,
      foreign: loaded.foreign,
      stats,
      isPending: (id) => commit.pending.has(id),
      unpend: (entry) => commit.unpend(entry),
      onDead: (local) => {
        cache.drop(local);
        commit.retire(local);
      },
      accounted: () => commit.scheduleDeletes(),
    });
    const cache = new SegmentCache(
      {
        name: this.name,
        stats,
        get closed() {
          return conn.done;
        },
        closedError,
        readTransaction: () => transaction('readonly'),
        pending: (id) => commit.pending.get(id),
      },
      map,
    );
    const commit: GroupCommit = new GroupCommit(
      {
        name: this.name,
        stamp: loaded.stamp,
        stats,
        get closed() {
          return conn.done;
        },
        closedError,
        writeTransaction: () => transaction('readwrite'),
        commitsFailing: (error, attempt, retryInMs, count) => this.#commitsFailing(conn, error, attempt, retryInMs, count),
        commitsRecovered: () => {
          if (conn === this.#conn) this.#failing = undefined;
        },
        committed: () => this.#measure(),
        orphaned: (writes) => this.#orphans.push(...writes),
      },
      map,
    );
    conn = { raw: db, release: loaded.release, map, commit, cache, done: false };
    watchConnection(db, {
      _onVersionChange: (newVersion) => {
        if (conn === this.#conn && !conn.done) this.#lose(conn, newVersion === null ? 'deleted' : 'upgraded', newVersion);
      },
      _onTerminated: () => {
        if (conn === this.#conn && !conn.done) this.#lose(conn, 'terminated', null);
      },
    });
    return conn;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** `closed`, read where TypeScript would keep a narrowing of `#state` across an `await`. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Why the store is degraded, while it is: state changes failing to commit (and retried), a lost
   * database being opened again, or serving from memory because it cannot be. Undefined when well.
   */
  health(): string | undefined {
    return this.#problem ?? this.#failing;
  }

  #warn(error: Error): void {
    this.onwarning?.(error);
  }

  #closedError(what: string): StorageError {
    return new StorageError(`could not ${what}: database "${this.name}" is closed${this.#closeReason ? ` (${this.#closeReason})` : ''}`);
  }

  /** What was last measured of the storage this store uses (see `IdbStoreOptions.estimate`). */
  storage(): StorageInfo | undefined {
    if (this.#storage === undefined) this.#measure();
    return this.#storage;
  }

  /** @internal Whether the browser granted persistent storage when asked (`createScheduler({ persist: true })`). */
  _notePersisted(persisted: boolean): void {
    this.#persisted = persisted;
    if (this.#storage) this.#storage = { ...this.#storage, persisted };
  }

  /** Measures storage use in the background, at most every `MEASURE_EVERY_MS` (sooner while commits fail). */
  #measure(force = false): void {
    const estimate = this.#estimate;
    if (!estimate || this.#measuring || (!force && Date.now() < this.#nextMeasure)) return;
    this.#measuring = true;
    this.#nextMeasure = Date.now() + MEASURE_EVERY_MS;
    estimate().then(
      (e) => {
        this.#measuring = false;
        const info: StorageInfo = { usage: e.usage ?? 0, quota: e.quota ?? 0, measuredAt: Date.now() };
        if (this.#persisted !== undefined) info.persisted = this.#persisted;
        this.#storage = info;
      },
      () => {
        this.#measuring = false;
      },
    );
  }

  /** One warning per episode of failing commits; `health()` follows every attempt. */
  #commitsFailing(conn: Connection, error: Error, attempt: number, retryInMs: number, count: number): void {
    if (conn !== this.#conn) return;
    if (attempt === 1) this.#measure(true);
    const cause = error.cause as Error | undefined;
    const what = cause?.message ? `${cause.name}: ${cause.message}` : (cause?.name ?? error.message);
    this.#failing = `${count} state change(s) could not be committed to "${this.name}" (${what}), tried ${attempt} time(s); next try in ${retryInMs} ms. Their results and events wait for the commit`;
    if (attempt !== 1) return;
    const warning = new StorageError(
      `state changes could not be committed to "${this.name}" (${cause?.name ?? error.name}): they are kept and committed again with backoff, and the results and events they carry are delivered once they are`,
      { cause: error },
    );
    // An abort is often the first sign of a connection the browser is closing: its `close` event,
    // which comes next, says more, so this one waits a turn and is dropped if the loss was seen.
    if (cause?.name === 'AbortError') setTimeout(() => conn === this.#conn && !conn.done && this.#warn(warning), 0);
    else this.#warn(warning);
  }

  /** `call()` once the store is out of `'reopening'`, in call order with the others waiting. */
  #later<T>(call: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => {
        try {
          resolve(call());
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** Resolves at once, or once the store is out of `'reopening'`. */
  async #whenReady(): Promise<void> {
    while (this.#state === 'reopening') await this.#later(noop);
  }

  /** The store left `'reopening'`: the waiting calls run now, oldest first. */
  #settleWaiting(): void {
    const waiting = this.#waiting.splice(0);
    for (const call of waiting) call();
  }

  /**
   * Stores `records`; resolves when they have committed. Records of a write of up to one segment
   * (512) are copied now; a bigger write's are copied as their segment is put, so the caller must not
   * mutate them until the write settles (the scheduler never does). A failed commit rejects with
   * `StorageError`, and nothing of the write is stored.
   */
  write(records: readonly TaskRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (this.#state === 'open') {
      if (records.length > SEGMENT_MAX) return this.#conn.commit.submit(records.slice(), true);
      return this.#conn.commit.submit(records.map(copyRecord), false);
    }
    if (this.#state === 'reopening') {
      const copies = records.map(copyRecord);
      return this.#later(() => this.write(copies));
    }
    return Promise.reject(this.#refusal(`store ${records.length} record(s)`));
  }

  /**
   * Stores state changes of tasks already stored; resolves once they have committed. Unlike `write`,
   * a commit that fails for a transient reason (quota) does not reject: the changes are held and
   * committed again with backoff (`health()` says so meanwhile), after any newer ones of the same
   * tasks. While a lost database is opened again they wait for it; where it cannot be, they are kept
   * in memory (and `health()` says that).
   */
  persist(records: readonly TaskRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const copies = records.map(copyRecord);
    return this.#persistCopies(copies);
  }

  #persistCopies(copies: TaskRecord[]): Promise<void> {
    if (this.#state === 'open') return this.#conn.commit.submit(copies, false, true);
    if (this.#state === 'reopening') return this.#later(() => this.#persistCopies(copies));
    if (this.#state === 'memory') {
      (this.#memory as MemoryStore).writeNow(copies);
      return Promise.resolve();
    }
    return Promise.reject(this.#closedError(`store ${copies.length} record(s)`));
  }

  /** Why a new task cannot be stored now (closed, or serving from memory after a loss). */
  #refusal(what: string): StorageError {
    if (this.#state === 'memory')
      return new StorageError(`could not ${what}: database "${this.name}" is closed (${this.#closeReason}); new tasks cannot be stored`);
    return this.#closedError(what);
  }

  read(ids: readonly string[]): (TaskRecord | undefined)[] | Promise<(TaskRecord | undefined)[]> {
    if (this.#state === 'memory') return (this.#memory as MemoryStore).read(ids).map((r) => (r ? copyRecord(r) : undefined));
    if (this.#state === 'reopening') return this.#later(() => this.read(ids));
    const conn = this.#conn;
    const out = conn.cache.read(ids);
    if (Array.isArray(out)) return out;
    // A read on a connection lost meanwhile is read again where the store went.
    return out.catch((error: unknown) => {
      if (conn === this.#conn && !conn.done) throw error;
      if (this.#state === 'closed') throw error;
      return this.read(ids);
    });
  }

  /**
   * Starts reading the segments holding `ids` so that a `read` of them soon after needs no wait.
   * Fire and forget.
   */
  prefetch(ids: readonly string[]): void {
    if (this.#state === 'open') this.#conn.cache.prefetch(ids);
  }

  /**
   * Every live record (queued, retrying, running), validated, as found on open. A record that fails
   * validation is replaced by a `failed` one carrying a `CorruptRecordError` (see `corruptToFailed`);
   * a warning lists them. Recovery never throws over a bad record. Call once. Reads back the records
   * of tasks known from summaries alone: `recoverRuns` does not.
   */
  async recover(): Promise<TaskRecord[]> {
    const { records, runs } = await this.recoverRuns();
    const ids: string[] = [];
    for (const run of runs) for (let i = 0; i < run.tasks.size; i++) ids.push(run.tasks.id(i));
    if (ids.length === 0) return records;
    for (const r of await this.read(ids)) if (r) records.push(r);
    return records;
  }

  /** See `TaskStore.recoverRuns`: queued and retrying tasks known on open from segment summaries come as runs. Call once. */
  async recoverRuns(): Promise<{ records: TaskRecord[]; runs: RecoveredRun[] }> {
    if (this.#state === 'closed') throw this.#closedError('recover');
    const found = this.#recovered ?? { live: [], corrupt: [], ready: [] };
    this.#recovered = undefined;
    if (found.corrupt.length > 0) {
      await this.write(found.corrupt);
      const ids = found.corrupt.map((r) => r.id);
      this.#warn(
        new CorruptRecordError(
          `${ids.length} stored record(s) failed validation on load and were moved to failed: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`,
        ),
      );
    }
    return { records: found.live, runs: found.ready };
  }

  /**
   * Finished (completed or failed) records whose idempotency key still dedupes (`keyTtlMs`), as found
   * on open (the open reads every segment anyway): no read of its own. Call once.
   */
  async recoverKeys(): Promise<TaskRecord[]> {
    const found = this.#recoveredKeys ?? [];
    this.#recoveredKeys = undefined;
    return found;
  }

  /**
   * Current versions matching `query`, newest segment first (uncommitted ones before all). Reads
   * segments a few at a time; a task whose version moves meanwhile is read again where it went.
   */
  async list(query: ListQuery): Promise<TaskRecord[]> {
    await this.#whenReady();
    if (this.#state === 'memory') return (await (this.#memory as MemoryStore).list(query)).map(copyRecord);
    if (this.#state === 'closed') throw this.#closedError('list records');
    const conn = this.#conn;
    try {
      return await this.#list(conn, query);
    } catch (error) {
      if (conn === this.#conn || this.#isClosed()) throw error;
      return this.list(query);
    }
  }

  async #list(conn: Connection, query: ListQuery): Promise<TaskRecord[]> {
    const { map, commit, cache } = conn;
    map.settle();
    const limit = query.limit ?? 100;
    if (limit <= 0) return [];
    const out: TaskRecord[] = [];
    const seen = new Set<string>();
    const take = (e: Entry) => {
      if (seen.has(e.id)) return;
      seen.add(e.id);
      if (!isTombstone(e) && matchesQuery(e, query)) out.push(e);
    };
    const pending = commit.pending;
    for (const e of [...pending.values()].reverse()) {
      if (out.length >= limit) return out;
      take(isTombstone(e) ? e : copyRecord(e));
    }
    const locals = map.liveNewestFirst();
    const listed = new Set(locals);
    const moved = new Set<string>();
    for (let i = 0; i < locals.length && out.length < limit; i += 8) {
      const some = locals.slice(i, i + 8);
      const values = await cache.readSegments(some);
      map.settle();
      for (let k = 0; k < some.length && out.length < limit; k++) {
        const local = some[k] as number;
        for (const e of values[k]?.records ?? []) {
          if (out.length >= limit) break;
          if (seen.has(e.id)) continue;
          const at = map.where(e.id);
          if (at === local && !pending.has(e.id)) take(e);
          else if (pending.has(e.id) || (at !== undefined && !listed.has(at))) moved.add(e.id);
        }
      }
    }
    const again = [...moved].filter((id) => !seen.has(id));
    if (again.length > 0 && out.length < limit) for (const r of await this.read(again)) if (r && out.length < limit) take(r);
    return out;
  }

  /** Removes tasks: resolves once their removal has committed. */
  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#whenReady();
    if (this.#state === 'memory') return (this.#memory as MemoryStore).remove(ids);
    if (this.#state === 'closed') throw this.#closedError(`remove ${ids.length} record(s)`);
    await this.#removeAll(this.#conn, ids);
  }

  async #removeAll(conn: Connection, ids: readonly string[]): Promise<void> {
    conn.map.settle();
    const tombstones = conn.map.remove(ids);
    // Resolve only once the removal is on disk: the tombstones, or the deletion of emptied segments.
    if (tombstones.length > 0 || conn.commit.hasDeletes) await conn.commit.submit(tombstones, false);
  }

  /**
   * Applies retention: removes the oldest terminal tasks beyond the limits (`completed` counts
   * completed tasks; `failed` counts failed, cancelled and skipped ones together), then compacts a
   * few mostly-stale segments. Runs in the background; dispatch never waits on it.
   */
  async trim(limits: RetentionLimits): Promise<number> {
    if (this.#state === 'memory') return (this.#memory as MemoryStore).trim(limits);
    if (this.#state !== 'open') return 0;
    const conn = this.#conn;
    try {
      conn.map.settle();
      const victims = conn.map.excess(limits);
      if (victims.length > 0) await this.#removeAll(conn, victims);
      await this.#compact(conn);
      return victims.length;
    } catch (error) {
      // The connection went meanwhile: the next trim runs on the next one.
      if (conn.done && !this.#isClosed()) return 0;
      throw error;
    }
  }

  /** Rewrites the current versions left in mostly-stale segments into a new one, so the old ones go. */
  async #compact(conn: Connection): Promise<void> {
    const { map, cache, commit } = conn;
    map.settle();
    const candidates = map.compactable();
    if (candidates.length === 0 || conn.done) return;
    const values = await cache.readSegments(candidates);
    if (conn.done) return;
    map.settle();
    const moved: Entry[] = [];
    candidates.forEach((local, k) => {
      const current = map.takeForMove(local, values[k]?.records ?? []);
      if (!current) return;
      this.stats.compactions++;
      for (const e of current) moved.push(e);
    });
    if (moved.length > 0) await commit.submit(moved, false);
  }

  async readSchedules(): Promise<ScheduleRecord[]> {
    return [...this.#schedules.values()].map((s) => ({ ...s }));
  }

  writeSchedule(schedule: ScheduleRecord): Promise<void> {
    return this.#writeSchedules([schedule], []);
  }

  removeSchedule(id: string): Promise<void> {
    return this.#writeSchedules([], [id]);
  }

  /** Commits schedule changes, then keeps them here. Serving from memory, only changes to schedules it holds are kept (in memory). */
  async #writeSchedules(put: readonly ScheduleRecord[], remove: readonly string[]): Promise<void> {
    await this.#whenReady();
    if (this.#state === 'closed') throw this.#closedError('store a schedule');
    if (this.#state === 'memory' && put.some((s) => !this.#schedules.has(s.id))) throw this.#refusal('store a new schedule');
    if (this.#state === 'open')
      try {
        await writeSchedules(this.#conn.raw, put, remove, this.#durability);
      } catch (error) {
        throw new StorageError(`could not store a schedule in "${this.name}": ${describeError(error)}`, { cause: error });
      }
    for (const schedule of put) this.#schedules.set(schedule.id, { ...schedule });
    for (const id of remove) this.#schedules.delete(id);
  }

  /**
   * Resolves once every write already requested has committed (or failed), then closes the
   * connection. State changes held after failing to commit get one more try now; those that still
   * fail are rejected.
   */
  /**
   * Compares the segment directory with the segments on disk, repairs it, and warns if it had to:
   * see `idb/directory.ts`. Runs by itself once, `DIRECTORY_CHECK_MS` after open (not in the way of
   * the first dispatch); resolves with what it fixed.
   */
  async checkDirectory(): Promise<{ missing: number; stale: number }> {
    await this.#whenReady();
    const conn = this.#conn;
    if (this.#state !== 'open' || conn.done) return { missing: 0, stale: 0 };
    const fixed = await checkDirectory(conn.raw);
    if (fixed.missing + fixed.stale > 0)
      this.#warn(
        new StorageError(
          `the segment directory of "${this.name}" was out of step with its segments (${fixed.missing} missing, ${fixed.stale} stale) and was repaired; tasks of a missing segment are found at the next open`,
        ),
      );
    return fixed;
  }

  async close(): Promise<void> {
    clearTimeout(this.#directoryTimer);
    await this.#whenReady();
    if (this.#state === 'closed') return;
    if (this.#state === 'memory') {
      this.#state = 'closed';
      return;
    }
    const { map, commit } = this.#conn;
    map.settle();
    if (commit.hasDeletes) void commit.submit([], false).catch(noop);
    commit.flushNow();
    await commit.giveUp();
    // Parked writes go in once the transactions ahead of them finish.
    while (commit.busy) {
      await commit.settled();
      await Promise.resolve();
    }
    this.#markClosed('closed by its owner');
    await commit.settled();
  }

  #markClosed(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeReason = reason;
    this.#failing = undefined;
    this.#let(this.#conn);
  }

  /** Ends `conn`: its lock released, its cache dropped, the connection closed (transactions open still finish). */
  #let(conn: Connection): void {
    if (conn.done) return;
    conn.done = true;
    conn.release();
    conn.commit.close();
    conn.cache.clear();
    conn.raw.close();
  }

  /**
   * The connection is lost. Whatever this page holds goes on: the live tasks on disk are read first
   * where the connection still allows it (the page deleting or upgrading the database waits for that
   * read), then the database is opened again and they are written back, with the state changes that
   * were waiting; the writes of new tasks that were waiting commit there too, except after the
   * browser closed the connection (they reject: storage is in trouble). Where the database cannot be
   * opened again (a newer version holds it, or the open fails) the store serves what it holds from
   * memory and refuses new tasks.
   */
  #lose(conn: Connection, loss: Loss, newVersion: number | null): void {
    const started = performance.now();
    let salvage: Promise<{ keys: IDBValidKey[]; values: unknown[] }> | undefined;
    if (loss !== 'terminated')
      try {
        salvage = loadAll(conn.raw);
        salvage.catch(noop);
      } catch {
        // The connection no longer reads: what is in memory is all there is.
      }
    const cached = conn.cache.snapshot();
    const liveBefore = loss === 'terminated' ? conn.map.liveIds() : [];
    conn.done = true;
    const detached = conn.commit.detach();
    conn.cache.clear();
    conn.release();
    conn.raw.close();
    const why =
      loss === 'deleted'
        ? 'another tab deleted it'
        : loss === 'upgraded'
          ? `another tab is opening it at version ${newVersion} (this one has version ${SCHEMA_VERSION})`
          : 'the browser closed the connection (storage cleared or failing)';
    this.#closeReason = why;
    this.#failing = undefined;
    this.#state = 'reopening';
    this.#problem = `database "${this.name}" was lost (${why}); opening it again, writes wait meanwhile`;
    void (async () => {
      let live: TaskRecord[] = cached;
      if (salvage)
        try {
          const { keys, values } = await salvage;
          live = liveVersions(keys, values);
        } catch {
          // Nothing could be read: the cached records are all that is left of what was on disk.
        }
      // Transactions in flight finish first (the page deleting the database waits for them), and
      // state changes of those that abort are carried too. After the browser closed the connection
      // one it never reports is given up after a while.
      await Promise.race([conn.commit.settled(), new Promise((resolve) => setTimeout(resolve, SETTLE_WAIT_MS))]);
      conn.commit.abandon(new DOMException(`the connection to "${this.name}" was lost`, 'AbortError'));
      const writes = this.#orphans.splice(0).concat(detached);
      // An enqueue that had not committed when the browser closed the connection fails: storage is in trouble.
      const carried = loss === 'terminated' ? writes.filter((w) => this.#rejectUnlessHeld(w)) : writes;
      if (loss === 'upgraded') {
        this.#toMemory(live, carried, why);
        return;
      }
      let reopened: { db: IDBDatabase; loaded: Loaded };
      try {
        reopened = await this.#reopen();
      } catch (error) {
        this.#toMemory(live, carried, `${why}; opening it again failed: ${describeError((error as Error).cause ?? error)}`);
        return;
      }
      const next = this.#connect(reopened.db, reopened.loaded);
      const found = await this.#load(next, reopened.loaded);
      this.#conn = next;
      this.stats.reopens++;
      if (this.#schedules.size > 0) void writeSchedules(next.raw, [...this.#schedules.values()], [], this.#durability).catch(noop);
      // What the new database lacks of what this page holds: written back first (it is older than the carried writes).
      const present = new Set(found.live.map((r) => r.id));
      for (const run of found.ready) for (let i = 0; i < run.tasks.size; i++) present.add(run.tasks.id(i));
      const back = live.filter((r) => !present.has(r.id));
      const restored = back.length > 0 ? next.commit.submit(back, false, true) : Promise.resolve();
      next.commit.adopt(carried);
      this.#state = 'open';
      this.#problem = undefined;
      this.#settleWaiting();
      let lostCount = 0;
      if (loss === 'terminated') {
        const kept = new Set([...back.map((r) => r.id), ...present]);
        for (const w of carried) for (const e of w.entries) kept.add(e.id);
        lostCount = liveBefore.filter((id) => !kept.has(id)).length;
      }
      void restored.then(
        () =>
          this.#warn(
            new StorageError(
              `database "${this.name}" was lost (${why}): opened it again in ${Math.round(performance.now() - started)} ms and stored again the ${back.length} live task(s) this page held` +
                (lostCount > 0
                  ? `; the records of up to ${lostCount} task(s) were only on disk and are gone with it: those not running here fail with StorageError when their turn comes`
                  : ''),
            ),
          ),
        noop,
      );
    })();
  }

  /**
   * Opens the database again. An open that fails for a transient reason (the browser still clearing
   * the site's storage aborts it) is tried again, `REOPEN_TRIES` times in all, with a growing pause.
   */
  async #reopen(): Promise<{ db: IDBDatabase; loaded: Loaded }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await openConnection(this.name, { factory: this.#factory, onWarning: (e) => this.#warn(e) });
      } catch (error) {
        if (attempt >= REOPEN_TRIES || !isTransient((error as Error).cause)) throw error;
        await new Promise((resolve) => setTimeout(resolve, REOPEN_PAUSE_MS * 2 ** (attempt - 1)));
      }
    }
  }

  /** For a write carried over a loss: keeps a state change; rejects the write of new tasks. */
  #rejectUnlessHeld(write: HeldWrite): boolean {
    if (write.hold) return true;
    write.reject(this.#closedError(`store ${write.entries.length} record(s)`));
    return false;
  }

  /** The database cannot be used again: serve what this page holds from memory, refuse new tasks. */
  #toMemory(live: TaskRecord[], writes: readonly HeldWrite[], why: string): void {
    const memory = new MemoryStore();
    memory.writeNow(live);
    for (const w of writes) {
      if (!w.hold) {
        w.reject(new StorageError(`could not store ${w.entries.length} record(s): database "${this.name}" is closed (${why})`));
        continue;
      }
      const gone = w.entries.filter(isTombstone).map((e) => e.id);
      memory.writeNow(w.entries.filter((e): e is TaskRecord => !isTombstone(e)));
      if (gone.length > 0) void memory.remove(gone);
      w.resolve();
    }
    this.#memory = memory;
    this.#state = 'memory';
    this.#closeReason = why;
    this.#problem = `database "${this.name}" is closed (${why}): the tasks this page holds are kept in memory only and will not survive a reload; new tasks are refused`;
    this.#settleWaiting();
    this.#warn(
      new StorageError(
        `database "${this.name}" closed: ${why}; the ${live.length} live task(s) this page holds run on from memory and will not survive a reload; new tasks are refused until the page reloads`,
      ),
    );
  }

  /** @internal Another connection wants a new version (`null`: to delete the database). */
  _onVersionChange(newVersion: number | null): void {
    if (!this.#conn.done) this.#lose(this.#conn, newVersion === null ? 'deleted' : 'upgraded', newVersion);
  }

  /** @internal The browser closed the connection (storage cleared, disk error). */
  _onTerminated(): void {
    if (!this.#conn.done) this.#lose(this.#conn, 'terminated', null);
  }
}

/** `navigator.storage.estimate`, where there is one. */
function defaultEstimate(): (() => Promise<StorageEstimate>) | undefined {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return typeof storage?.estimate === 'function' ? () => storage.estimate() : undefined;
}

/** The current live version of every task in `values` (segments in key order, as read from disk). */
function liveVersions(keys: readonly IDBValidKey[], values: readonly unknown[]): TaskRecord[] {
  const map = new SegmentMap({
    stamp: 0,
    foreign: new Set(),
    stats: { segmentsDeleted: 0 },
    isPending: () => false,
    unpend: noop,
    onDead: noop,
    accounted: noop,
  });
  return map.load(keys, values, Date.now()).live;
}

/**
 * Opens (creating or upgrading) the database `name` and reads where every task's current version
 * is. Rejects with `StorageError` when IndexedDB is missing or refuses (its `cause` says why; a
 * `VersionError` cause means a newer tasklane made it). A connection that blocks a newer version or
 * a delete elsewhere lets it go and carries on (see `IdbStore`), and warns.
 */
export async function openIdbStore(name: string, options: IdbStoreOptions = {}): Promise<IdbStore> {
  const { db, loaded } = await openConnection(name, options);
  const store = new IdbStore(db, name, loaded, options);
  try {
    await store._load(loaded);
  } catch (error) {
    await store.close();
    throw error instanceof StorageError
      ? error
      : new StorageError(`could not open database "${name}": ${describeError(error)}`, { cause: error });
  }
  return store;
}
