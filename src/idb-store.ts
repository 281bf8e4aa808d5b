import { CorruptRecordError, StorageError } from './errors.js';
import { type Loaded, openConnection } from './idb/connection.js';
import { ConnectionLoss } from './idb/connection-loss.js';
import { buildConnection, type Connection, endConnection } from './idb/connection-parts.js';
import { checkDirectory } from './idb/directory.js';
import { listCurrent } from './idb/list-log.js';
import type { LoadResult } from './idb/log-load.js';
import { openLog } from './idb/open-log.js';
import { writeSchedules } from './idb/schedule-table.js';
import { copyRecord, describeError, type Entry, noop, SEGMENT_MAX } from './idb/schema.js';
import { StorageGauge } from './idb/storage-gauge.js';
import type { MemoryStore } from './memory-store.js';
import type { StorageInfo } from './metrics.js';
import type { RetentionLimits } from './retention.js';
import type { ScheduleRecord } from './schedule-types.js';
import type { ListQuery, RecoveredRun, TaskStore } from './store.js';
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
  #conn: Connection;
  #state: 'open' | 'reopening' | 'memory' | 'closed' = 'open';
  /** Losing the connection, and what a loss leaves: the memory served from, why the store is degraded. */
  readonly #loss: ConnectionLoss;
  /** While held state changes fail to commit: why, for `health()`. */
  #failing: string | undefined;
  /** Storage use, measured in the background for `storage()`. */
  readonly #gauge: StorageGauge;
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
    this.onwarning = options.onWarning;
    this.#gauge = new StorageGauge(options.estimate);
    this.#now = options.now ?? Date.now;
    this.#loss = new ConnectionLoss({
      name,
      factory: options.factory,
      durability: this.#durability,
      schedules: this.#schedules,
      connect: (db, loaded) => this.#connect(db, loaded),
      load: (conn, loaded) => this.#load(conn, loaded),
      enter: (state, reason) => {
        if (reason !== undefined) {
          this.#closeReason = reason;
          this.#failing = undefined;
        }
        this.#state = state;
      },
      reopened: (conn) => {
        this.#conn = conn;
        this.stats.reopens++;
      },
      closedError: (what) => this.#closedError(what),
      warn: (error) => this.#warn(error),
    });
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
    return buildConnection(db, loaded, {
      name: this.name,
      durability: this.#durability,
      stats: this.stats,
      isCurrent: (conn) => conn === this.#conn,
      lost: (conn, loss, newVersion) => this.#loss.lose(conn, loss, newVersion),
      closedError: (what) => this.#closedError(what),
      commitsFailing: (conn, error, attempt, retryInMs, count) => this.#commitsFailing(conn, error, attempt, retryInMs, count),
      commitsRecovered: (conn) => {
        if (conn === this.#conn) this.#failing = undefined;
      },
      committed: () => this.#gauge.measure(),
      orphaned: (writes) => this.#loss.orphan(writes),
    });
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
    return this.#loss.problem ?? this.#failing;
  }

  #warn(error: Error): void {
    this.onwarning?.(error);
  }

  #closedError(what: string): StorageError {
    return new StorageError(`could not ${what}: database "${this.name}" is closed${this.#closeReason ? ` (${this.#closeReason})` : ''}`);
  }

  /** What was last measured of the storage this store uses (see `IdbStoreOptions.estimate`). */
  storage(): StorageInfo | undefined {
    return this.#gauge.latest();
  }

  /** @internal Whether the browser granted persistent storage when asked (`createScheduler({ persist: true })`). */
  _notePersisted(persisted: boolean): void {
    this.#gauge.notePersisted(persisted);
  }

  /** One warning per episode of failing commits; `health()` follows every attempt. */
  #commitsFailing(conn: Connection, error: Error, attempt: number, retryInMs: number, count: number): void {
    if (conn !== this.#conn) return;
    if (attempt === 1) this.#gauge.measure(true);
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

  /** Resolves at once, or once the store is out of `'reopening'`. */
  async #whenReady(): Promise<void> {
    while (this.#state === 'reopening') await this.#loss.later(noop);
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
      return this.#loss.later(() => this.write(copies));
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
    if (this.#state === 'reopening') return this.#loss.later(() => this.#persistCopies(copies));
    if (this.#state === 'memory') {
      (this.#loss.memory as MemoryStore).writeNow(copies);
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
    if (this.#state === 'memory') return (this.#loss.memory as MemoryStore).read(ids).map((r) => (r ? copyRecord(r) : undefined));
    if (this.#state === 'reopening') return this.#loss.later(() => this.read(ids));
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
    if (this.#state === 'memory') return (await (this.#loss.memory as MemoryStore).list(query)).map(copyRecord);
    if (this.#state === 'closed') throw this.#closedError('list records');
    const conn = this.#conn;
    try {
      return await listCurrent(conn, query, (ids) => this.read(ids));
    } catch (error) {
      if (conn === this.#conn || this.#isClosed()) throw error;
      return this.list(query);
    }
  }

  /** Removes tasks: resolves once their removal has committed. */
  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#whenReady();
    if (this.#state === 'memory') return (this.#loss.memory as MemoryStore).remove(ids);
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
    if (this.#state === 'memory') return (this.#loss.memory as MemoryStore).trim(limits);
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

  /**
   * Resolves once every write already requested has committed (or failed), then closes the
   * connection. State changes held after failing to commit get one more try now; those that still
   * fail are rejected.
   */
  async close(): Promise<void> {
    clearTimeout(this.#directoryTimer);
    // A connection lost while close() waits is opened again with what this page held, and that
    // connection is the one to drain and close: the loop runs until nothing changed under it.
    for (;;) {
      await this.#whenReady();
      if (this.#isClosed()) return;
      if (this.#state === 'memory') {
        this.#state = 'closed';
        return;
      }
      const conn = this.#conn;
      const { map, commit } = conn;
      map.settle();
      if (commit.hasDeletes) void commit.submit([], false).catch(noop);
      commit.flushNow();
      await commit.giveUp();
      // Parked writes go in once the transactions ahead of them finish.
      while (commit.busy) {
        await commit.settled();
        await Promise.resolve();
      }
      if (conn === this.#conn && !conn.done) break;
    }
    const { commit } = this.#conn;
    this.#markClosed('closed by its owner');
    await commit.settled();
  }

  #markClosed(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeReason = reason;
    this.#failing = undefined;
    endConnection(this.#conn);
  }

  /** @internal Another connection wants a new version (`null`: to delete the database). */
  _onVersionChange(newVersion: number | null): void {
    if (!this.#conn.done) this.#loss.lose(this.#conn, newVersion === null ? 'deleted' : 'upgraded', newVersion);
  }

  /** @internal The browser closed the connection (storage cleared, disk error). */
  _onTerminated(): void {
    if (!this.#conn.done) this.#loss.lose(this.#conn, 'terminated', null);
  }
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
