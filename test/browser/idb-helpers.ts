import type { TaskRecord } from '../../src/index.js';

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

/** Runs `fn` on the `tasks` store of `name` (at its current version) and resolves when the transaction commits. */
export async function rawTx<T>(
  name: string,
  mode: IDBTransactionMode,
  fn: (store: IDBObjectStore) => IDBRequest<T> | undefined,
): Promise<T | undefined> {
  const db = await done(indexedDB.open(name));
  try {
    const tx = db.transaction('tasks', mode);
    const request = fn(tx.objectStore('tasks'));
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

export function rawPut(name: string, records: unknown[]): Promise<unknown> {
  return rawTx(name, 'readwrite', (store) => {
    for (const r of records) store.put(r);
    return undefined;
  });
}

export async function rawAll(name: string): Promise<TaskRecord[]> {
  return ((await rawTx(name, 'readonly', (store) => store.getAll())) ?? []) as TaskRecord[];
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
