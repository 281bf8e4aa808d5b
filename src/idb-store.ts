import { type DBSchema, type IDBPDatabase, unwrap, wrap } from 'idb';
import { CorruptRecordError, StorageError } from './errors.js';
import { corruptToFailed, recordProblems } from './record-validation.js';
import { type ListQuery, matchesQuery, type TaskStore } from './store.js';
import type { TaskRecord, TaskStatus } from './types.js';

/**
 * The schema, typed once. Bump `SCHEMA_VERSION` and add a step to `upgradeSchema` for every change;
 * never edit a past step.
 */
interface TasklaneDB extends DBSchema {
  tasks: {
    key: string;
    value: TaskRecord;
    indexes: {
      /** Every record by status: recovery scans the live ones, `list({ status })` reads one. */
      status: string;
      /** Idempotency keys. */
      key: string;
      /** Terminal records by status, then finish time (live ones have no `finishedAt`, so are absent): retention walks it oldest first. */
      finishedAt: [string, number];
    };
  };
}

export const SCHEMA_VERSION = 1;

type Db = IDBPDatabase<TasklaneDB>;

/** Brings a database from `oldVersion` (0 when new) to `SCHEMA_VERSION`, one step at a time. */
function upgradeSchema(db: Db, oldVersion: number): void {
  if (oldVersion < 1) {
    const tasks = db.createObjectStore('tasks', { keyPath: 'id' });
    tasks.createIndex('status', 'status');
    tasks.createIndex('key', 'key');
    tasks.createIndex('finishedAt', ['status', 'finishedAt']);
  }
  // if (oldVersion < 2) { … } — each later step migrates from the one before it.
}

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
  /** Read-write transactions opened by `write` (one per group commit). */
  transactions: number;
  commits: number;
  /** Group commits that failed (their writes rejected). */
  aborts: number;
  /** Read-only transactions opened by `read` and `prefetch`. */
  reads: number;
  /** Records `read` took from a prefetch (done or still in flight) instead of opening a transaction. */
  prefetchHits: number;
}

/** One group commit: a read-write transaction and every write that went into it. */
interface Batch {
  tx: IDBTransaction;
  os: IDBObjectStore;
  writes: (readonly TaskRecord[])[];
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
  /** Aborted on purpose so its other writes go again in a new batch: its abort rejects nothing. */
  replayed: boolean;
}

const INACTIVE = Symbol('inactive');
/** Prefetched records kept at most; the oldest go first. */
const CACHE_MAX = 512;
/** Records retention deletes per transaction, so trimming never holds the store for long. */
const TRIM_BATCH = 500;
const TERMINAL = ['cancelled', 'completed', 'failed', 'skipped'] as const;

const noop = () => {};
const describeError = (error: unknown) =>
  error instanceof Error || error instanceof DOMException ? `${error.name}: ${error.message}` : String(error);

/**
 * Records in IndexedDB, one per task, keyed by id.
 *
 * Writes are group-committed: `write` puts its records at once into the read-write transaction of
 * the current turn (opening one if the turn has none), and resolves when that transaction
 * commits. IndexedDB keeps a transaction open until its task ends, so every write of one turn
 * shares one commit and one durability wait; a burst of 10,000 `enqueue` calls makes a handful of
 * transactions, not 10,000. Putting at once (not at the end of the turn) clones each record when it
 * is written, so later mutations by the caller never leak in, and a read issued afterwards is
 * ordered after the write by IndexedDB itself.
 *
 * Reads return copies. `prefetch(ids)` reads ahead into a small cache that `read` drains, so a
 * dispatch of prefetched tasks gets its records synchronously.
 */
export class IdbStore implements TaskStore {
  readonly kind = 'indexeddb' as const;
  readonly name: string;
  readonly stats: IdbStoreStats = { transactions: 0, commits: 0, aborts: 0, reads: 0, prefetchHits: 0 };
  /** Where warnings go; `createScheduler` points it at the scheduler's `warning` event. */
  onwarning: ((error: Error) => void) | undefined;
  readonly #db: Db;
  readonly #raw: IDBDatabase;
  readonly #durability: IDBTransactionDurability;
  readonly #now: () => number;
  #batch: Batch | undefined;
  readonly #pending = new Set<Promise<void>>();
  readonly #cache = new Map<string, TaskRecord>();
  readonly #inflight = new Map<string, Promise<TaskRecord | undefined>>();
  #closed = false;
  #closeReason = '';

  /** Use `openIdbStore`. */
  constructor(db: Db, name: string, options: IdbStoreOptions = {}) {
    this.#db = db;
    this.#raw = unwrap(db);
    this.name = name;
    this.#durability = options.durability ?? 'relaxed';
    this.#now = options.now ?? Date.now;
    this.onwarning = options.onWarning;
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

  // ── write: group commit ───────────────────────────────────────────────────────────────────────

  write(records: readonly TaskRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(this.#closedError(`store ${records.length} record(s)`));
    for (const record of records) this.#forget(record.id);
    for (;;) {
      let batch = this.#batch;
      const fresh = !batch;
      if (!batch) {
        try {
          batch = this.#begin();
        } catch (error) {
          return Promise.reject(
            new StorageError(`could not start a transaction to store ${records.length} record(s): ${describeError(error)}`, {
              cause: error,
            }),
          );
        }
      }
      const failure = putAll(batch.os, records);
      if (failure === undefined) {
        batch.writes.push(records);
        return batch.promise;
      }
      if (failure === INACTIVE && !fresh) {
        // The turn that opened this transaction is over: it is committing. Start the next one.
        if (this.#batch === batch) this.#batch = undefined;
        continue;
      }
      // A record IndexedDB refuses (a DataCloneError for an ImageBitmap, say) does not abort the
      // transaction by itself, and the records put before it would commit. Abort, so this write
      // leaves nothing behind, and replay the other writes of the turn in a fresh transaction.
      const cause = failure === INACTIVE ? new DOMException('transaction inactive', 'TransactionInactiveError') : failure;
      this.#replayWithout(batch);
      return Promise.reject(new StorageError(`could not store ${records.length} record(s): ${describeError(cause)}`, { cause }));
    }
  }

  #begin(): Batch {
    const tx = this.#raw.transaction('tasks', 'readwrite', { durability: this.#durability });
    this.stats.transactions++;
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Each writer handles its own rejection; this keeps a batch nobody waits on from being "unhandled".
    promise.catch(noop);
    const batch: Batch = { tx, os: tx.objectStore('tasks'), writes: [], promise, resolve, reject, replayed: false };
    this.#pending.add(promise);
    const settled = () => {
      if (this.#batch === batch) this.#batch = undefined;
      this.#pending.delete(promise);
    };
    tx.oncomplete = () => {
      settled();
      this.stats.commits++;
      resolve();
    };
    tx.onabort = () => {
      settled();
      if (batch.replayed) return;
      this.stats.aborts++;
      const cause = tx.error ?? new DOMException('the transaction was aborted', 'AbortError');
      const count = batch.writes.reduce((n, w) => n + w.length, 0);
      reject(new StorageError(`commit of ${count} record(s) to "${this.name}" failed: ${describeError(cause)}`, { cause }));
    };
    this.#batch = batch;
    return batch;
  }

  /** Aborts `batch` and puts its writes again in a new one, which settles them. */
  #replayWithout(batch: Batch): void {
    batch.replayed = true;
    if (this.#batch === batch) this.#batch = undefined;
    try {
      batch.tx.abort();
    } catch {
      // Already finished or aborting.
    }
    if (batch.writes.length === 0) {
      batch.resolve();
      return;
    }
    let next: Batch;
    try {
      next = this.#begin();
    } catch (error) {
      batch.reject(new StorageError(`could not restart a transaction: ${describeError(error)}`, { cause: error }));
      return;
    }
    for (const records of batch.writes) {
      const failure = putAll(next.os, records);
      if (failure !== undefined) {
        // Stored once already, so this cannot refuse them; if it does, fail the whole group.
        next.replayed = true;
        next.tx.abort();
        batch.reject(new StorageError(`could not store records again after an aborted commit`, { cause: failure }));
        return;
      }
      next.writes.push(records);
    }
    next.promise.then(batch.resolve, batch.reject);
  }

  // ── read, prefetch ────────────────────────────────────────────────────────────────────────────

  read(ids: readonly string[]): (TaskRecord | undefined)[] | Promise<(TaskRecord | undefined)[]> {
    const out: (TaskRecord | undefined)[] = new Array(ids.length);
    let missing: number[] | undefined;
    let waits: Promise<void>[] | undefined;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const cached = this.#cache.get(id);
      if (cached !== undefined) {
        // Taken, not shared: the caller may mutate what it gets.
        this.#cache.delete(id);
        this.stats.prefetchHits++;
        out[i] = cached;
        continue;
      }
      const pending = this.#inflight.get(id);
      if (pending) {
        this.#inflight.delete(id);
        this.stats.prefetchHits++;
        (waits ??= []).push(
          pending.then((record) => {
            out[i] = record;
          }),
        );
        continue;
      }
      (missing ??= []).push(i);
    }
    if (!missing && !waits) return out;
    if (this.#closed && missing) return Promise.reject(this.#closedError(`read ${missing.length} record(s)`));
    const all = waits ?? [];
    if (missing) {
      const slots = missing;
      all.push(
        this.#fetch(slots.map((i) => ids[i] as string)).then((records) => {
          for (let k = 0; k < slots.length; k++) out[slots[k] as number] = records[k];
        }),
      );
    }
    return Promise.all(all).then(() => out);
  }

  /**
   * Starts reading `ids` so that a `read` of them soon after needs no wait. Fire and forget; a
   * write of an id drops what was prefetched for it.
   */
  prefetch(ids: readonly string[]): void {
    if (this.#closed) return;
    const want = ids.filter((id) => !this.#cache.has(id) && !this.#inflight.has(id));
    if (want.length === 0) return;
    let all: Promise<(TaskRecord | undefined)[]>;
    try {
      all = this.#fetch(want);
    } catch {
      return;
    }
    const each = want.map((id, k) => {
      const one = all.then((records) => records[k]);
      one.catch(noop);
      this.#inflight.set(id, one);
      return one;
    });
    all.then(
      (records) => {
        for (let k = 0; k < want.length; k++) {
          const id = want[k] as string;
          if (this.#inflight.get(id) !== each[k]) continue; // taken by a read, or dropped by a write
          this.#inflight.delete(id);
          const record = records[k];
          if (record) this.#remember(id, record);
        }
      },
      () => {
        for (let k = 0; k < want.length; k++)
          if (this.#inflight.get(want[k] as string) === each[k]) this.#inflight.delete(want[k] as string);
      },
    );
  }

  #remember(id: string, record: TaskRecord): void {
    this.#cache.set(id, record);
    if (this.#cache.size > CACHE_MAX) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }

  #forget(id: string): void {
    this.#cache.delete(id);
    this.#inflight.delete(id);
  }

  /** One read-only transaction; IndexedDB orders it after every write transaction opened before. */
  #fetch(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    return new Promise((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = this.#raw.transaction('tasks', 'readonly');
      } catch (error) {
        reject(new StorageError(`could not read ${ids.length} record(s): ${describeError(error)}`, { cause: error }));
        return;
      }
      this.stats.reads++;
      const os = tx.objectStore('tasks');
      const out: (TaskRecord | undefined)[] = new Array(ids.length);
      for (let i = 0; i < ids.length; i++) {
        const request = os.get(ids[i] as string);
        request.onsuccess = () => {
          out[i] = request.result as TaskRecord | undefined;
        };
      }
      tx.oncomplete = () => resolve(out);
      tx.onabort = () =>
        reject(new StorageError(`could not read ${ids.length} record(s): ${describeError(tx.error)}`, { cause: tx.error }));
    });
  }

  // ── recovery ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Every live record (queued, retrying, running), validated. A record that fails validation is
   * replaced, in the same transaction, by a `failed` one carrying a `CorruptRecordError` (see
   * `corruptToFailed`); a warning lists them. Recovery never throws over a bad record.
   */
  async recover(): Promise<TaskRecord[]> {
    if (this.#closed) throw this.#closedError('recover');
    const now = this.#now();
    const tx = this.#db.transaction('tasks', 'readwrite', { durability: this.#durability });
    const byStatus = tx.store.index('status');
    const live: TaskRecord[] = [];
    const corrupt: TaskRecord[] = [];
    const seen = new Set<IDBValidKey>();
    const visit = (value: unknown, key: IDBValidKey) => {
      seen.add(key);
      const problems = recordProblems(value);
      if (problems.length === 0) live.push(value as TaskRecord);
      else corrupt.push(corruptToFailed(value, key as string, problems, now));
    };
    // Everything whose status is not one of the four terminal ones: live statuses, and any other
    // key a foreign or corrupt record may hold (numbers and dates sort before strings, arrays after).
    const [c, d, f, s] = TERMINAL;
    const ranges = [
      IDBKeyRange.upperBound(c, true),
      IDBKeyRange.bound(c, d, true, true),
      IDBKeyRange.bound(d, f, true, true),
      IDBKeyRange.bound(f, s, true, true),
      IDBKeyRange.lowerBound(s, true),
    ];
    for (const range of ranges) {
      const [values, keys] = await Promise.all([byStatus.getAll(range), byStatus.getAllKeys(range)]);
      for (let i = 0; i < values.length; i++) visit(values[i], keys[i] as IDBValidKey);
    }
    // A record whose status is no valid key at all (missing, null, a boolean) is in no index: only a
    // full scan finds it, and only a count mismatch makes one necessary.
    const [total, indexed] = await Promise.all([tx.store.count(), byStatus.count()]);
    if (total !== indexed) {
      for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue()) {
        const status = (cursor.value as { status?: unknown } | null)?.status;
        if (seen.has(cursor.primaryKey) || (typeof status === 'string' && (TERMINAL as readonly string[]).includes(status))) continue;
        visit(cursor.value, cursor.primaryKey);
      }
    }
    await Promise.all([...corrupt.map((record) => tx.store.put(record)), tx.done]);
    if (corrupt.length > 0) {
      const ids = corrupt.map((r) => r.id);
      this.#warn(
        new CorruptRecordError(
          `${corrupt.length} stored record(s) failed validation on load and were moved to failed: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`,
        ),
      );
    }
    return live;
  }

  // ── list, remove, retention ───────────────────────────────────────────────────────────────────

  async list(query: ListQuery): Promise<TaskRecord[]> {
    if (this.#closed) throw this.#closedError('list records');
    const limit = query.limit ?? 100;
    if (limit <= 0) return [];
    const statuses: TaskStatus[] | undefined =
      query.status === undefined ? undefined : [...new Set(Array.isArray(query.status) ? query.status : [query.status])];
    const tx = this.#db.transaction('tasks', 'readonly');
    const out: TaskRecord[] = [];
    const sources = statuses
      ? statuses.map((status) => ({ source: tx.store.index('status'), range: IDBKeyRange.only(status) }))
      : [{ source: tx.store, range: undefined }];
    for (const { source, range } of sources) {
      if (out.length >= limit) break;
      if (query.name === undefined) {
        out.push(...(await source.getAll(range, limit - out.length)));
        continue;
      }
      for (let cursor = await source.openCursor(range); cursor && out.length < limit; cursor = await cursor.continue())
        if (matchesQuery(cursor.value, query)) out.push(cursor.value);
    }
    await tx.done;
    return out;
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    if (this.#closed) throw this.#closedError(`remove ${ids.length} record(s)`);
    for (const id of ids) this.#forget(id);
    const tx = this.#db.transaction('tasks', 'readwrite', { durability: this.#durability });
    try {
      await Promise.all([...ids.map((id) => tx.store.delete(id)), tx.done]);
    } catch (error) {
      throw new StorageError(`could not remove ${ids.length} record(s): ${describeError(error)}`, { cause: error });
    }
  }

  /**
   * Deletes the oldest terminal records (by finish time) beyond the limits: `completed` counts
   * completed tasks, `failed` counts failed, cancelled and skipped ones together. Works in
   * transactions of at most `TRIM_BATCH` deletions with a macrotask between them, so writes and
   * reads interleave and dispatch never waits long behind it.
   */
  async trim(limits: { completed: number; failed: number }): Promise<number> {
    let removed = 0;
    let excess: { completed: number; failed: number } | undefined;
    while (!this.#closed) {
      const round = await this.#trimRound(limits, excess);
      removed += round.removed;
      excess = round.excess;
      if (round.removed === 0 || (excess.completed <= 0 && excess.failed <= 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return removed;
  }

  async #trimRound(
    limits: { completed: number; failed: number },
    known: { completed: number; failed: number } | undefined,
  ): Promise<{ removed: number; excess: { completed: number; failed: number } }> {
    const tx = this.#db.transaction('tasks', 'readwrite', { durability: this.#durability });
    const byFinish = tx.store.index('finishedAt');
    const rangeOf = (status: string) => IDBKeyRange.bound([status, Number.NEGATIVE_INFINITY], [status, Number.POSITIVE_INFINITY]);
    let excess = known;
    if (!excess) {
      // Counted once per trim; records finishing meanwhile wait for the next trim.
      const [completed, ...others] = await Promise.all(
        ['completed', 'failed', 'cancelled', 'skipped'].map((s) => byFinish.count(rangeOf(s))),
      );
      excess = { completed: (completed ?? 0) - limits.completed, failed: others.reduce((a, b) => a + b, 0) - limits.failed };
    }
    const victims: string[] = [];
    const takeCompleted = Math.min(TRIM_BATCH, excess.completed);
    if (takeCompleted > 0) victims.push(...(await byFinish.getAllKeys(rangeOf('completed'), takeCompleted)));
    const takeFailed = Math.min(TRIM_BATCH, excess.failed);
    if (takeFailed > 0) {
      // The oldest across three statuses: the oldest `takeFailed` of each, merged by finish time.
      const candidates: { at: number; id: string }[] = [];
      for (const status of ['failed', 'cancelled', 'skipped']) {
        let n = 0;
        for (let cursor = await byFinish.openKeyCursor(rangeOf(status)); cursor && n < takeFailed; cursor = await cursor.continue(), n++)
          candidates.push({ at: (cursor.key as [string, number])[1], id: cursor.primaryKey });
      }
      candidates.sort((a, b) => a.at - b.at);
      for (const c of candidates.slice(0, takeFailed)) victims.push(c.id);
    }
    for (const id of victims) this.#forget(id);
    await Promise.all([...victims.map((id) => tx.store.delete(id)), tx.done]);
    return {
      removed: victims.length,
      excess: { completed: excess.completed - Math.max(0, takeCompleted), failed: excess.failed - Math.max(0, takeFailed) },
    };
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────────

  /** Resolves once every write already requested has committed (or failed), then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#markClosed('closed by its owner');
    await Promise.allSettled([...this.#pending]);
  }

  #markClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#batch = undefined;
    this.#cache.clear();
    this.#inflight.clear();
    // Transactions already open still finish; new ones throw InvalidStateError.
    this.#db.close();
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
    this.#closed = true;
    this.#closeReason = 'the browser closed the connection';
    this.#warn(
      new StorageError(
        `database "${this.name}" was closed by the browser (storage cleared or failing); writes fail until the page reloads`,
      ),
    );
  }
}

/** Puts every record; returns the error of the first put that throws, or `INACTIVE` if the transaction was already committing. */
function putAll(os: IDBObjectStore, records: readonly TaskRecord[]): unknown {
  let i = 0;
  try {
    for (; i < records.length; i++) os.put(records[i]);
  } catch (error) {
    if (i === 0 && (error as DOMException)?.name === 'TransactionInactiveError') return INACTIVE;
    return error ?? new Error('put failed');
  }
  return undefined;
}

/**
 * Opens (creating or upgrading) the database `name`. Rejects with `StorageError` when IndexedDB is
 * missing or refuses (its `cause` says why; a `VersionError` cause means a newer tasklane made it).
 * A connection that blocks a newer version or a delete elsewhere closes itself and warns.
 */
export async function openIdbStore(name: string, options: IdbStoreOptions = {}): Promise<IdbStore> {
  let factory: IDBFactory | undefined = options.factory;
  try {
    factory ??= globalThis.indexedDB;
  } catch (error) {
    throw new StorageError(`IndexedDB is not available here: ${describeError(error)}`, { cause: error });
  }
  if (!factory)
    throw new StorageError('IndexedDB is not available here', { cause: new DOMException('indexedDB is undefined', 'NotSupportedError') });
  let db: Db;
  try {
    // idb's openDB, on the given factory.
    const request = factory.open(name, SCHEMA_VERSION);
    request.addEventListener('upgradeneeded', (event) => upgradeSchema(wrap(request.result) as Db, event.oldVersion));
    request.addEventListener('blocked', (event) =>
      options.onWarning?.(
        new StorageError(
          `opening database "${name}" at version ${event.newVersion} waits for another tab holding version ${event.oldVersion} to close it`,
        ),
      ),
    );
    db = (await wrap(request)) as Db;
  } catch (error) {
    throw new StorageError(`could not open database "${name}": ${describeError(error)}`, { cause: error });
  }
  const store = new IdbStore(db, name, options);
  const raw = unwrap(db);
  raw.addEventListener('versionchange', (event) => store._onVersionChange(event.newVersion));
  raw.addEventListener('close', () => store._onTerminated());
  return store;
}
