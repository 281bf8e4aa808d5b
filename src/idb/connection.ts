import { type IDBPDatabase, unwrap, wrap } from 'idb';
import { StorageError } from '../errors.js';
import type { ScheduleRecord } from '../schedule-types.js';
import { readSchedules } from './schedule-table.js';
import { describeError, noop, SCHEMA_VERSION, type TasklaneDB, upgradeSchema } from './schema.js';

/** Everything on disk at open, in key order, and who this connection is among the open ones. */
export interface Loaded {
  keys: IDBValidKey[];
  values: unknown[];
  /** The stored repeat schedules, and how many stored values were not one. */
  schedules: ScheduleRecord[];
  badSchedules: number;
  stamp: number;
  foreign: ReadonlySet<number>;
  release: () => void;
}

/** What an open connection tells its owner about after open: both end the connection's usefulness. */
export interface ConnectionEvents {
  /** Another connection wants version `newVersion` (null: to delete the database); this one should close. */
  _onVersionChange(newVersion: number | null): void;
  /** The browser closed the connection (storage cleared, disk error). */
  _onTerminated(): void;
}

/**
 * Holds a Web Lock named after this connection's stamp for its lifetime, and lists the stamps of
 * the other connections holding theirs. Without Web Locks every other stamp counts as gone.
 */
export async function connectionLock(name: string, stamp: number): Promise<{ foreign: Set<number>; release: () => void }> {
  const foreign = new Set<number>();
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return { foreign, release: noop };
  const prefix = `tasklane:${name}:connection:`;
  let release: () => void = noop;
  await new Promise<void>((held) => {
    void locks.request(`${prefix}${stamp}`, () => {
      held();
      return new Promise<void>((done) => {
        release = done;
      });
    });
  });
  const state = await locks.query();
  for (const lock of state.held ?? [])
    if (lock.name?.startsWith(prefix)) {
      const other = Number(lock.name.slice(prefix.length));
      if (other !== stamp) foreign.add(other);
    }
  return { foreign, release: () => release() };
}

/**
 * The stamp of a new connection's segment keys: after every key on disk (so its versions win over
 * any found on open, which is what recovery needs), from the clock where possible, with a random
 * fraction so two tabs opening at once never share one.
 */
export function stampAfter(last: IDBValidKey | undefined): number {
  const previous = Array.isArray(last) && typeof last[0] === 'number' ? Math.floor(last[0]) : 0;
  return Math.max(previous + 1, Date.now()) + Math.random();
}

export function loadAll(db: IDBDatabase): Promise<{ keys: IDBValidKey[]; values: unknown[] }> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('log', 'readonly');
    const os = tx.objectStore('log');
    const keys = os.getAllKeys();
    const values = os.getAll();
    tx.oncomplete = () => resolve({ keys: keys.result, values: values.result });
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Opens (creating or upgrading) the database `name`, reads everything on disk and takes this
 * connection's lock. Rejects with `StorageError` when IndexedDB is missing or refuses (its `cause`
 * says why; a `VersionError` cause means a newer tasklane made it). While the open waits for a tab
 * holding an older version, `onWarning` hears of it.
 */
export async function openConnection(
  name: string,
  options: { factory?: IDBFactory | undefined; onWarning?: ((error: Error) => void) | undefined },
): Promise<{ db: IDBDatabase; loaded: Loaded }> {
  let factory: IDBFactory | undefined = options.factory;
  try {
    factory ??= globalThis.indexedDB;
  } catch (error) {
    throw new StorageError(`IndexedDB is not available here: ${describeError(error)}`, { cause: error });
  }
  if (!factory)
    throw new StorageError('IndexedDB is not available here', { cause: new DOMException('indexedDB is undefined', 'NotSupportedError') });
  let raw: IDBDatabase;
  let loaded: Loaded;
  try {
    const request = factory.open(name, SCHEMA_VERSION);
    request.addEventListener('upgradeneeded', (event) =>
      upgradeSchema(request.result, request.transaction as IDBTransaction, event.oldVersion),
    );
    request.addEventListener('blocked', (event) =>
      options.onWarning?.(
        new StorageError(
          `opening database "${name}" at version ${event.newVersion} waits for another tab holding version ${event.oldVersion} to close it`,
        ),
      ),
    );
    raw = unwrap((await wrap(request)) as IDBPDatabase<TasklaneDB>);
    try {
      const [found, { schedules, bad }] = await Promise.all([loadAll(raw), readSchedules(raw)]);
      const stamp = stampAfter(found.keys.at(-1));
      loaded = { ...found, schedules, badSchedules: bad, stamp, ...(await connectionLock(name, stamp)) };
    } catch (error) {
      raw.close();
      throw error;
    }
  } catch (error) {
    throw new StorageError(`could not open database "${name}": ${describeError(error)}`, { cause: error });
  }
  return { db: raw, loaded };
}

/** Tells `owner` when `db` must close for another connection, or was closed by the browser. */
export function watchConnection(db: IDBDatabase, owner: ConnectionEvents): void {
  db.addEventListener('versionchange', (event) => owner._onVersionChange(event.newVersion));
  db.addEventListener('close', () => owner._onTerminated());
}
