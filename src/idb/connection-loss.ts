import { StorageError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import type { ScheduleRecord } from '../schedule-types.js';
import type { TaskRecord } from '../types.js';
import { type Loaded, loadAll, openConnection } from './connection.js';
import { type Connection, endConnection, type Loss } from './connection-parts.js';
import { type HeldWrite, isTransient } from './group-commit.js';
import type { LoadResult } from './log-load.js';
import { writeSchedules } from './schedule-table.js';
import { describeError, isTombstone, noop, SCHEMA_VERSION } from './schema.js';
import { SegmentMap } from './segment-map.js';

/** Opens tried after a loss before the store serves from memory, and the pause before the second (doubling after). */
const REOPEN_TRIES = 6;
const REOPEN_PAUSE_MS = 50;
/** After a loss, how long the transactions in flight may take to report before they are given up. */
const SETTLE_WAIT_MS = 500;

/** What a loss needs from the store around it. */
export interface ConnectionLossHost {
  readonly name: string;
  /** The IndexedDB the database is opened again from (`IdbStoreOptions.factory`). */
  readonly factory: IDBFactory | undefined;
  readonly durability: 'relaxed' | 'strict';
  /** The repeat schedules, as committed: a database opened again gets them back. */
  readonly schedules: ReadonlyMap<string, ScheduleRecord>;
  /** The parts on connection `db`, watched for its loss. */
  connect(db: IDBDatabase, loaded: Loaded): Connection;
  /** Rebuilds `conn`'s map from `loaded`. */
  load(conn: Connection, loaded: Loaded): Promise<LoadResult>;
  /**
   * The store is `state` from now on: `'reopening'` at a loss, then `'open'` or `'memory'` (and the
   * calls waiting meanwhile run right after). With a `reason`, that is why its database is closed
   * (what its errors say), and failures of the lost connection's commits no longer count.
   */
  enter(state: 'reopening' | 'open' | 'memory', reason?: string): void;
  /** The database was opened again: the store runs on `conn` (its state is still `'reopening'`). */
  reopened(conn: Connection): void;
  closedError(what: string): StorageError;
  warn(error: Error): void;
}

/**
 * Survives losing the store's connection: the database is opened again and what this page holds is
 * written back to it, or, where it cannot be opened, served from memory; calls made meanwhile wait
 * here. The store keeps the current connection and its state; this keeps what a loss leaves behind.
 */
export class ConnectionLoss {
  readonly #host: ConnectionLossHost;
  /** After a loss that could not be repaired: what the store serves from. */
  #memory: MemoryStore | undefined;
  /** Writes of the lost connection's transactions that aborted after it was let go, to carry over. */
  readonly #orphans: HeldWrite[] = [];
  /** Why the store is not fully itself (reopening, serving from memory), for `health()`. */
  #problem: string | undefined;
  /**
   * While reopening: the calls waiting for the next connection (or for memory), in call order. They
   * run synchronously, in that order, the moment the store leaves `'reopening'`, before any later
   * call: a state change never overtakes an older one.
   */
  readonly #waiting: (() => void)[] = [];

  constructor(host: ConnectionLossHost) {
    this.#host = host;
  }

  /** What the store serves from once it is `'memory'`. */
  get memory(): MemoryStore | undefined {
    return this.#memory;
  }

  /** Why the store is degraded by a loss (being reopened, or serving from memory); undefined when it is not. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** `call()` once the store is out of `'reopening'`, in call order with the others waiting. */
  later<T>(call: () => T | Promise<T>): Promise<T> {
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

  /** A lost connection's commit handed over `writes` (state changes of a transaction that aborted after `detach`). */
  orphan(writes: readonly HeldWrite[]): void {
    this.#orphans.push(...writes);
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
  lose(conn: Connection, loss: Loss, newVersion: number | null): void {
    const host = this.#host;
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
    host.enter('reopening', why);
    this.#problem = `database "${host.name}" was lost (${why}); opening it again, writes wait meanwhile`;
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
      conn.commit.abandon(new DOMException(`the connection to "${host.name}" was lost`, 'AbortError'));
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
      const next = host.connect(reopened.db, reopened.loaded);
      let found: LoadResult;
      try {
        found = await host.load(next, reopened.loaded);
      } catch (error) {
        // The new connection failed while it was read (closed by the browser too): it is let go, lock and all.
        endConnection(next);
        this.#toMemory(live, carried, `${why}; reading it again failed: ${describeError((error as Error).cause ?? error)}`);
        return;
      }
      host.reopened(next);
      if (host.schedules.size > 0) void writeSchedules(next.raw, [...host.schedules.values()], [], host.durability).catch(noop);
      // What the new database lacks of what this page holds: written back first (it is older than the carried writes).
      const present = new Set(found.live.map((r) => r.id));
      for (const run of found.ready) for (let i = 0; i < run.tasks.size; i++) present.add(run.tasks.id(i));
      const back = live.filter((r) => !present.has(r.id));
      const restored = back.length > 0 ? next.commit.submit(back, false, true) : Promise.resolve();
      next.commit.adopt(carried);
      this.#problem = undefined;
      host.enter('open');
      this.#settleWaiting();
      let lostCount = 0;
      if (loss === 'terminated') {
        const kept = new Set([...back.map((r) => r.id), ...present]);
        for (const w of carried) for (const e of w.entries) kept.add(e.id);
        lostCount = liveBefore.filter((id) => !kept.has(id)).length;
      }
      void restored.then(
        () =>
          host.warn(
            new StorageError(
              `database "${host.name}" was lost (${why}): opened it again in ${Math.round(performance.now() - started)} ms and stored again the ${back.length} live task(s) this page held` +
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
    const host = this.#host;
    for (let attempt = 1; ; attempt++) {
      try {
        return await openConnection(host.name, { factory: host.factory, onWarning: (e) => host.warn(e) });
      } catch (error) {
        if (attempt >= REOPEN_TRIES || !isTransient((error as Error).cause)) throw error;
        await new Promise((resolve) => setTimeout(resolve, REOPEN_PAUSE_MS * 2 ** (attempt - 1)));
      }
    }
  }

  /** For a write carried over a loss: keeps a state change; rejects the write of new tasks. */
  #rejectUnlessHeld(write: HeldWrite): boolean {
    if (write.hold) return true;
    write.reject(this.#host.closedError(`store ${write.entries.length} record(s)`));
    return false;
  }

  /** The store left `'reopening'`: the waiting calls run now, oldest first. */
  #settleWaiting(): void {
    const waiting = this.#waiting.splice(0);
    for (const call of waiting) call();
  }

  /** The database cannot be used again: serve what this page holds from memory, refuse new tasks. */
  #toMemory(live: TaskRecord[], writes: readonly HeldWrite[], why: string): void {
    const host = this.#host;
    const memory = new MemoryStore();
    memory.writeNow(live);
    for (const w of writes) {
      if (!w.hold) {
        w.reject(new StorageError(`could not store ${w.entries.length} record(s): database "${host.name}" is closed (${why})`));
        continue;
      }
      const gone = w.entries.filter(isTombstone).map((e) => e.id);
      memory.writeNow(w.entries.filter((e): e is TaskRecord => !isTombstone(e)));
      if (gone.length > 0) void memory.remove(gone);
      w.resolve();
    }
    this.#memory = memory;
    this.#problem = `database "${host.name}" is closed (${why}): the tasks this page holds are kept in memory only and will not survive a reload; new tasks are refused`;
    host.enter('memory', why);
    this.#settleWaiting();
    host.warn(
      new StorageError(
        `database "${host.name}" closed: ${why}; the ${live.length} live task(s) this page holds run on from memory and will not survive a reload; new tasks are refused until the page reloads`,
      ),
    );
  }
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
