import { type IDBPDatabase, unwrap, wrap } from 'idb';
import { StorageError } from '../errors.js';
import type { ScheduleRecord } from '../schedule-types.js';
import { ByKey } from './by-key.js';
import { directoryKeys } from './directory.js';
import type { FoundSegment } from './log-load.js';
import { readSchedules } from './schedule-table.js';
import { describeError, noop, SCHEMA_VERSION, type SegmentKey, type TasklaneDB, upgradeSchema } from './schema.js';
import { asGroup, GROUP_MAX, type SegmentSummary, type SummaryGroup } from './summary.js';

/** What is on disk at open (each segment's summary, or the segment where it has none), in key order, and who this connection is among the open ones. */
export interface Loaded {
  found: FoundSegment[];
  /** Stored summary groups and the segments still on disk whose summaries they hold. */
  groups: { key: SegmentKey; members: SegmentKey[] }[];
  /** Values of the `summary` store that are no group, or a group none of whose segments is left: to delete. */
  strays: SegmentKey[];
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

/** Summaries read per request on open: a request's values are decoded in one task. */
const SUMMARIES_PER_READ = 512;

/**
 * Reads what opening needs: every segment's key (from the directory, `directory.ts`), every
 * summary, and whole only the segments that have none (written before version 4, or holding no
 * queued task). Reads a bounded number of values per request, so no one task decodes the whole
 * queue. The keys and the summaries are read in two transactions at once: a commit of another
 * connection in between can only leave a segment without its summary here (then it is read
 * whole) or a summary without its segment (then it is passed over).
 */
export async function loadFound(
  db: IDBDatabase,
): Promise<{ found: FoundSegment[]; groups: { key: SegmentKey; members: SegmentKey[] }[]; strays: SegmentKey[] }> {
  const [keys, stored] = await Promise.all([directoryKeys(db), readGroups(db)]);
  const summaries = new ByKey<SegmentSummary>();
  for (const { parts } of stored) for (const [key, summary] of parts ?? []) if (summary) summaries.set(key, summary);
  const present = new ByKey<true>();
  const found: FoundSegment[] = [];
  const whole: FoundSegment[] = [];
  for (const key of keys) {
    present.set(key, true);
    const segment: FoundSegment = { key, summary: summaries.get(key) };
    found.push(segment);
    if (!segment.summary) whole.push(segment);
  }
  if (whole.length > 0) {
    const values = await readSegments(
      db,
      whole.map((s) => s.key),
    );
    whole.forEach((segment, i) => {
      segment.value = values[i];
      // Deleted since its key was read: not there at all.
      if (values[i] === undefined) segment.gone = true;
    });
  }
  const groups: { key: SegmentKey; members: SegmentKey[] }[] = [];
  const strays: SegmentKey[] = [];
  for (const { key, parts } of stored) {
    const members = parts?.filter(([k]) => present.has(k)).map(([k]) => k) ?? [];
    if (members.length > 0) groups.push({ key, members });
    else strays.push(key);
  }
  return { found: found.filter((s) => !s.gone), groups, strays };
}

/** Every value of the `summary` store: its key, and its parts if it is a summary group. */
function readGroups(db: IDBDatabase): Promise<{ key: SegmentKey; parts: [SegmentKey, SegmentSummary | undefined][] | undefined }[]> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('summary', 'readonly');
    const os = tx.objectStore('summary');
    const stored: { key: SegmentKey; parts: [SegmentKey, SegmentSummary | undefined][] | undefined }[] = [];
    const next = (after: IDBValidKey | undefined) => {
      const range = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true);
      const keys = os.getAllKeys(range, SUMMARIES_PER_READ);
      const values = os.getAll(range, SUMMARIES_PER_READ);
      values.onsuccess = () => {
        const got = keys.result;
        for (let i = 0; i < got.length; i++) stored.push({ key: got[i] as SegmentKey, parts: asGroup(values.result[i]) });
        if (got.length === SUMMARIES_PER_READ) next(got.at(-1));
      };
    };
    next(undefined);
    tx.oncomplete = () => resolve(stored);
    tx.onabort = () => reject(tx.error);
  });
}

/** The segments under `keys`, in that order (undefined for one that is gone). */
export function readSegments(db: IDBDatabase, keys: readonly SegmentKey[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('log', 'readonly');
    const os = tx.objectStore('log');
    const out: unknown[] = new Array(keys.length);
    keys.forEach((key, i) => {
      const request = os.get(key);
      request.onsuccess = () => (out[i] = request.result);
    });
    tx.oncomplete = () => resolve(out);
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Stores summaries for segments found without one, in groups, and deletes `strays` first, in the
 * background. A part is only stored where its segment still is (one deleted meanwhile leaves none
 * behind). Returns the groups as they are meant to be stored (key, member keys).
 */
export function writeSummaries(
  db: IDBDatabase,
  summaries: readonly { key: SegmentKey; summary: SegmentSummary }[],
  strays: readonly SegmentKey[],
): { key: SegmentKey; members: SegmentKey[] }[] {
  let tx: IDBTransaction;
  try {
    tx = db.transaction(['log', 'summary'], 'readwrite');
  } catch {
    return [];
  }
  const log = tx.objectStore('log');
  const sums = tx.objectStore('summary');
  for (const key of strays) sums.delete(key);
  const groups: { key: SegmentKey; members: SegmentKey[] }[] = [];
  for (let i = 0; i < summaries.length; i += GROUP_MAX) {
    const chunk = summaries.slice(i, i + GROUP_MAX);
    const key = (chunk[0] as { key: SegmentKey }).key;
    groups.push({ key, members: chunk.map((c) => c.key) });
    const parts: SummaryGroup['parts'] = [];
    let asked = 0;
    for (const { key: at, summary } of chunk) {
      const there = log.count(at);
      there.onsuccess = () => {
        if (there.result > 0) parts.push([at, summary]);
        if (++asked === chunk.length && parts.length > 0) sums.put({ v: 2, parts } satisfies SummaryGroup, key);
      };
    }
  }
  tx.onabort = noop;
  tx.onerror = (event) => event.preventDefault();
  return groups;
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
      const [found, { schedules, bad }] = await Promise.all([loadFound(raw), readSchedules(raw)]);
      const stamp = stampAfter(found.found.at(-1)?.key);
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
