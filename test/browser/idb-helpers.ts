import { type IdbStore, openIdbStore, type TaskRecord } from '../../src/index.js';

/**
 * Raw IndexedDB access for the IndexedDB tests: unique database names, deletion, and direct reads
 * and writes that bypass the store (to plant corrupt or stalled records, or check what is on disk).
 */

let counter = 0;
const made: string[] = [];

/** A database name no other test (or earlier run) uses; deleted by `deleteTestDbs`. */
export function dbName(label: string): string {
  const name = `tasklane-test-${label}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  made.push(name);
  return name;
}

const done = <T>(request: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

export function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // 'blocked' also fires for a connection whose close() was called while a transaction (a
    // prefetch read, say) still runs: deletion proceeds when it ends. A connection that never
    // closes shows as a test timeout instead.
  });
}

export async function deleteTestDbs(): Promise<void> {
  await Promise.all(made.splice(0).map(deleteDb));
}

/** Runs `fn` on the object store `storeName` (`log` by default) of `name` (at its current version) and resolves when the transaction commits. */
export async function rawTx<T>(
  name: string,
  mode: IDBTransactionMode,
  fn: (store: IDBObjectStore) => IDBRequest<T> | undefined,
  storeName = 'log',
): Promise<T | undefined> {
  const db = await done(indexedDB.open(name));
  try {
    const tx = db.transaction(storeName, mode);
    const request = fn(tx.objectStore(storeName));
    let result: T | undefined;
    if (request) request.onsuccess = () => (result = request.result);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
    return result;
  } finally {
    db.close();
  }
}

/** Every segment on disk, in key order. */
export async function rawSegments(name: string): Promise<{ key: [number, number]; records: Record<string, unknown>[] }[]> {
  const db = await done(indexedDB.open(name));
  try {
    const os = db.transaction('log', 'readonly').objectStore('log');
    const [keys, values] = await Promise.all([done(os.getAllKeys()), done(os.getAll())]);
    return values.map((v, i) => ({ key: keys[i] as [number, number], records: (v as { records: Record<string, unknown>[] }).records }));
  } finally {
    db.close();
  }
}

/** Puts `value` as the segment under `key`, with its directory entry, as the store's writer does. */
export async function rawPutSegment(name: string, key: [number, number], value: unknown): Promise<void> {
  const db = await done(indexedDB.open(name));
  try {
    const tx = db.transaction(['log', 'dir'], 'readwrite');
    tx.objectStore('log').put(value, key);
    tx.objectStore('dir').put(0, key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Appends one segment holding `records` (after every segment on disk), as a crashed tab would have left them. */
export async function rawPut(name: string, records: unknown[]): Promise<void> {
  const last = (await rawSegments(name)).at(-1)?.key[0] ?? 0;
  return rawPutSegment(name, [Math.floor(last) + 1, 0], { records });
}

/** The current version of every task on disk (the newest segment's wins; removed ones left out). */
export async function rawAll(name: string): Promise<TaskRecord[]> {
  const current = new Map<string, Record<string, unknown>>();
  for (const segment of await rawSegments(name)) for (const r of segment.records) current.set(r.id as string, r);
  return [...current.values()].filter((r) => r.removed !== true) as unknown as TaskRecord[];
}

let seq = 0;

/** A valid queued record of the fixture worker's tasks. */
export function record(overrides: Partial<TaskRecord> & { id: string }): TaskRecord {
  return {
    name: 'echo',
    input: { value: overrides.id },
    priority: 2,
    runAt: 0,
    seq: seq++,
    status: 'queued',
    attempt: 0,
    retry: { attempts: 3, backoff: { kind: 'fixed', delayMs: 10, maxMs: 10, factor: 1, jitter: false } },
    timeoutMs: 10_000,
    errors: [],
    createdAt: Date.now(),
    stalls: 0,
    ...overrides,
  };
}

const opened: { close(): Promise<unknown> }[] = [];

/** Closes `thing` after the test (see `closeOpened`), schedulers before the stores under them. */
export function closeAfter<T extends { close(): Promise<unknown> }>(thing: T): T {
  opened.push(thing);
  return thing;
}

/** For `afterEach`: closes what `closeAfter` collected, newest first, then deletes the test databases. */
export async function closeOpened(): Promise<void> {
  for (const o of opened.splice(0).reverse()) await o.close();
  await deleteTestDbs();
}

/** A store on `name`, closed after the test. */
export async function openTestStore(name: string, options: Parameters<typeof openIdbStore>[1] = {}): Promise<IdbStore> {
  return closeAfter(await openIdbStore(name, options));
}

/** `r` as finished at `at` with its id as the result. */
export const completedAt = (r: TaskRecord, at: number): TaskRecord => ({ ...r, status: 'completed', result: r.id, finishedAt: at });
