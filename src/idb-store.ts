import { CorruptRecordError, StorageError } from './errors.js';
import { type Loaded, openConnection, watchConnection } from './idb/connection.js';
import { GroupCommit } from './idb/group-commit.js';
import { copyRecord, type Entry, isTombstone, noop, SCHEMA_VERSION, SEGMENT_MAX } from './idb/schema.js';
import { SegmentCache } from './idb/segment-cache.js';
import { SegmentMap } from './idb/segment-map.js';
import type { RetentionLimits } from './retention.js';
import { type ListQuery, matchesQuery, type TaskStore } from './store.js';
import type { TaskRecord } from './types.js';

export { SCHEMA_VERSION } from './idb/schema.js';

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
  readonly #releaseLock: () => void;
  readonly #map: SegmentMap;
  readonly #commit: GroupCommit;
  readonly #cache: SegmentCache;
  /** Live records found on open, handed out once by `recover`. */
  #recovered: { live: TaskRecord[]; corrupt: TaskRecord[] } | undefined;
  #closed = false;
  #closeReason = '';

  /** Use `openIdbStore`. */
  constructor(db: IDBDatabase, name: string, loaded: Loaded, options: IdbStoreOptions = {}) {
    this.#raw = db;
    this.name = name;
    const durability = options.durability ?? 'relaxed';
    const now = options.now ?? Date.now;
    this.onwarning = options.onWarning;
    this.#releaseLock = loaded.release;
    const store = this;
    const { stats } = this;
    const closedError = (what: string) => this.#closedError(what);
    this.#map = new SegmentMap({
      stamp: loaded.stamp,
      foreign: loaded.foreign,
      stats,
      isPending: (id) => this.#commit.pending.has(id),
      unpend: (entry) => this.#commit.unpend(entry),
      onDead: (local) => {
        this.#cache.drop(local);
        this.#commit.retire(local);
      },
      accounted: () => this.#commit.scheduleDeletes(),
    });
    this.#cache = new SegmentCache(
      {
        name,
        stats,
        get closed() {
          return store.#closed;
        },
        closedError,
        readTransaction: () => db.transaction('log', 'readonly'),
        pending: (id) => this.#commit.pending.get(id),
      },
      this.#map,
    );
    this.#commit = new GroupCommit(
      {
        name,
        stamp: loaded.stamp,
        stats,
        get closed() {
          return store.#closed;
        },
        closedError,
        writeTransaction: () => db.transaction('log', 'readwrite', { durability }),
      },
      this.#map,
    );
    const { live, corrupt, unreadable } = this.#map.load(loaded.keys, loaded.values, now());
    this.#recovered = { live, corrupt };
    if (unreadable > 0)
      queueMicrotask(() =>
        this.#warn(new CorruptRecordError(`${unreadable} stored segment(s) of "${this.name}" are unreadable and were left as they are`)),
      );
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

  /**
   * Stores `records`; resolves when they have committed. Records of a write of up to one segment
   * (512) are copied now; a bigger write's are copied as their segment is put, so the caller must not
   * mutate them until the write settles (the scheduler never does).
   */
  write(records: readonly TaskRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(this.#closedError(`store ${records.length} record(s)`));
    if (records.length > SEGMENT_MAX) return this.#commit.submit(records.slice(), true);
    return this.#commit.submit(records.map(copyRecord), false);
  }

  read(ids: readonly string[]): (TaskRecord | undefined)[] | Promise<(TaskRecord | undefined)[]> {
    return this.#cache.read(ids);
  }

  /**
   * Starts reading the segments holding `ids` so that a `read` of them soon after needs no wait.
   * Fire and forget.
   */
  prefetch(ids: readonly string[]): void {
    this.#cache.prefetch(ids);
  }

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
      await this.#commit.submit(found.corrupt, false);
      const ids = found.corrupt.map((r) => r.id);
      this.#warn(
        new CorruptRecordError(
          `${ids.length} stored record(s) failed validation on load and were moved to failed: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`,
        ),
      );
    }
    return found.live;
  }

  /**
   * Current versions matching `query`, newest segment first (uncommitted ones before all). Reads
   * segments a few at a time; a task whose version moves meanwhile is read again where it went.
   */
  async list(query: ListQuery): Promise<TaskRecord[]> {
    if (this.#closed) throw this.#closedError('list records');
    this.#map.settle();
    const limit = query.limit ?? 100;
    if (limit <= 0) return [];
    const out: TaskRecord[] = [];
    const seen = new Set<string>();
    const take = (e: Entry) => {
      if (seen.has(e.id)) return;
      seen.add(e.id);
      if (!isTombstone(e) && matchesQuery(e, query)) out.push(e);
    };
    const pending = this.#commit.pending;
    for (const e of [...pending.values()].reverse()) {
      if (out.length >= limit) return out;
      take(isTombstone(e) ? e : copyRecord(e));
    }
    const locals = this.#map.liveNewestFirst();
    const listed = new Set(locals);
    const moved = new Set<string>();
    for (let i = 0; i < locals.length && out.length < limit; i += 8) {
      const some = locals.slice(i, i + 8);
      const values = await this.#cache.readSegments(some);
      this.#map.settle();
      for (let k = 0; k < some.length && out.length < limit; k++) {
        const local = some[k] as number;
        for (const e of values[k]?.records ?? []) {
          if (out.length >= limit) break;
          if (seen.has(e.id)) continue;
          const at = this.#map.where(e.id);
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
    if (this.#closed) throw this.#closedError(`remove ${ids.length} record(s)`);
    await this.#removeAll(ids);
  }

  async #removeAll(ids: readonly string[]): Promise<void> {
    this.#map.settle();
    const tombstones = this.#map.remove(ids);
    // Resolve only once the removal is on disk: the tombstones, or the deletion of emptied segments.
    if (tombstones.length > 0 || this.#commit.hasDeletes) await this.#commit.submit(tombstones, false);
  }

  /**
   * Applies retention: removes the oldest terminal tasks beyond the limits (`completed` counts
   * completed tasks; `failed` counts failed, cancelled and skipped ones together), then compacts a
   * few mostly-stale segments. Runs in the background; dispatch never waits on it.
   */
  async trim(limits: RetentionLimits): Promise<number> {
    if (this.#closed) return 0;
    this.#map.settle();
    const victims = this.#map.excess(limits);
    if (victims.length > 0) await this.#removeAll(victims);
    await this.#compact();
    return victims.length;
  }

  /** Rewrites the current versions left in mostly-stale segments into a new one, so the old ones go. */
  async #compact(): Promise<void> {
    this.#map.settle();
    const candidates = this.#map.compactable();
    if (candidates.length === 0 || this.#closed) return;
    const values = await this.#cache.readSegments(candidates);
    if (this.#closed) return;
    this.#map.settle();
    const moved: Entry[] = [];
    candidates.forEach((local, k) => {
      const current = this.#map.takeForMove(local, values[k]?.records ?? []);
      if (!current) return;
      this.stats.compactions++;
      for (const e of current) moved.push(e);
    });
    if (moved.length > 0) await this.#commit.submit(moved, false);
  }

  /** Resolves once every write already requested has committed (or failed), then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#map.settle();
    if (this.#commit.hasDeletes) void this.#commit.submit([], false).catch(noop);
    this.#commit.flushNow();
    // Parked writes go in once the transactions ahead of them finish.
    while (this.#commit.busy) {
      await this.#commit.settled();
      await Promise.resolve();
    }
    this.#markClosed('closed by its owner');
    await this.#commit.settled();
  }

  #markClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#releaseLock();
    this.#commit.close();
    this.#cache.clear();
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
