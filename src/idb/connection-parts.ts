import type { StorageError } from '../errors.js';
import { type Loaded, watchConnection } from './connection.js';
import { GroupCommit, type GroupCommitHost, type HeldWrite } from './group-commit.js';
import { SegmentCache, type SegmentCacheHost } from './segment-cache.js';
import { SegmentMap, type SegmentMapHost } from './segment-map.js';

/** One connection to the database and what is built on it. A store moves to a new one when the old is lost. */
export interface Connection {
  readonly raw: IDBDatabase;
  readonly release: () => void;
  readonly map: SegmentMap;
  readonly commit: GroupCommit;
  readonly cache: SegmentCache;
  /** Lost or closed: nothing new starts on it. */
  done: boolean;
}

/** How a connection was lost: deleted by another page, taken by a newer version, or closed by the browser. */
export type Loss = 'deleted' | 'upgraded' | 'terminated';

/**
 * What the parts of a connection need from the store around them. Every call but `isCurrent` and
 * `closedError` names the connection it comes from: a lost one's parts may still report.
 */
export interface ConnectionPartsHost {
  readonly name: string;
  readonly durability: 'relaxed' | 'strict';
  readonly stats: SegmentMapHost['stats'] & SegmentCacheHost['stats'] & GroupCommitHost['stats'];
  /** Whether `conn` is the one the store runs on now. */
  isCurrent(conn: Connection): boolean;
  /** The store's current connection `conn` is lost (only reported while it is current and not done). */
  lost(conn: Connection, loss: Loss, newVersion: number | null): void;
  closedError(what: string): StorageError;
  /** See `GroupCommitHost.commitsFailing`. */
  commitsFailing(conn: Connection, error: Error, attempt: number, retryInMs: number, count: number): void;
  /** `conn`'s held state changes committed. */
  commitsRecovered(conn: Connection): void;
  /** A transaction committed. */
  committed(): void;
  /** See `GroupCommitHost.orphaned`. */
  orphaned(writes: HeldWrite[]): void;
}

/** The parts on connection `db` (segment map, cache and group commit, wired to each other), watched for its loss. */
export function buildConnection(db: IDBDatabase, loaded: Loaded, host: ConnectionPartsHost): Connection {
  const { name, stats, durability } = host;
  const closedError = (what: string) => host.closedError(what);
  const lose = (loss: Loss, newVersion: number | null) => {
    if (host.isCurrent(conn) && !conn.done) host.lost(conn, loss, newVersion);
  };
  // `conn` is assigned before any of these callbacks can run.
  let conn!: Connection;
  // A connection that refuses transactions (InvalidStateError) is closed, whether or not its
  // `close` event came: treated as closed by the browser.
  const transaction = (mode: IDBTransactionMode) => {
    try {
      return mode === 'readwrite' ? db.transaction(['log', 'summary', 'dir'], mode, { durability }) : db.transaction('log', mode);
    } catch (error) {
      if ((error as DOMException)?.name === 'InvalidStateError') queueMicrotask(() => lose('terminated', null));
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
      name,
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
      name,
      stamp: loaded.stamp,
      stats,
      get closed() {
        return conn.done;
      },
      closedError,
      writeTransaction: () => transaction('readwrite'),
      commitsFailing: (error, attempt, retryInMs, count) => host.commitsFailing(conn, error, attempt, retryInMs, count),
      commitsRecovered: () => host.commitsRecovered(conn),
      committed: () => host.committed(),
      orphaned: (writes) => host.orphaned(writes),
    },
    map,
  );
  conn = { raw: db, release: loaded.release, map, commit, cache, done: false };
  watchConnection(db, {
    _onVersionChange: (newVersion) => lose(newVersion === null ? 'deleted' : 'upgraded', newVersion),
    _onTerminated: () => lose('terminated', null),
  });
  return conn;
}

/** Ends `conn`: its lock released, its cache dropped, the connection closed (transactions open still finish). */
export function endConnection(conn: Connection): void {
  if (conn.done) return;
  conn.done = true;
  conn.release();
  conn.commit.close();
  conn.cache.clear();
  conn.raw.close();
}
