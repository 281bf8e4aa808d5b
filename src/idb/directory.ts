import { ByKey } from './by-key.js';
import type { SegmentKey } from './schema.js';

/**
 * The segment directory (`dir` store, schema version 5): one tiny entry under every segment's key,
 * put and deleted in the same transaction as the segment. Open lists segments from here, not from
 * `log`: listing the keys of `log` reads through every stored segment (inputs included), which
 * at a million queued tasks cost the open 20-100 ms of disk before the first task could start.
 *
 * Invariant: the keys of `dir` are the keys of `log`. Every write of `log` goes through `Segments`
 * below (and the version 5 upgrade fills `dir` from `log`), and `checkDirectory` compares the two
 * in the background after each open, so a break is repaired and reported, never a lost task.
 */
export class Segments {
  readonly #log: IDBObjectStore;
  readonly #dir: IDBObjectStore;

  /** The `log` and `dir` stores of one read-write transaction. */
  constructor(tx: IDBTransaction) {
    this.#log = tx.objectStore('log');
    this.#dir = tx.objectStore('dir');
  }

  put(key: SegmentKey, segment: unknown): IDBRequest {
    this.#dir.put(0, key);
    return this.#log.put(segment, key);
  }

  delete(key: SegmentKey): void {
    this.#log.delete(key);
    this.#dir.delete(key);
  }
}

/** Every segment's key, in key order, read from the directory. */
export function directoryKeys(db: IDBDatabase): Promise<SegmentKey[]> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('dir', 'readonly');
    const request = tx.objectStore('dir').getAllKeys();
    tx.oncomplete = () => resolve(request.result as SegmentKey[]);
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Compares `dir` with `log` and makes `dir` right: a segment missing from it is added (its tasks
 * are found by the next open), an entry without its segment is deleted. Resolves with how many of
 * each it fixed; both 0 unless something broke the invariant. Compares in a read-only transaction
 * first, so commits wait on it only when there is something to fix.
 */
export async function checkDirectory(db: IDBDatabase): Promise<{ missing: number; stale: number }> {
  const found = await compare(db, 'readonly');
  return found.missing + found.stale === 0 ? found : compare(db, 'readwrite');
}

function compare(db: IDBDatabase, mode: IDBTransactionMode): Promise<{ missing: number; stale: number }> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(['log', 'dir'], mode);
    const log = tx.objectStore('log').getAllKeys();
    const dir = tx.objectStore('dir').getAllKeys();
    const fixed = { missing: 0, stale: 0 };
    dir.onsuccess = () => {
      const fix = mode === 'readwrite' ? tx.objectStore('dir') : undefined;
      const listed = new ByKey<true>();
      for (const key of dir.result as SegmentKey[]) listed.set(key, true);
      const stored = new ByKey<true>();
      for (const key of log.result as SegmentKey[]) {
        stored.set(key, true);
        if (listed.has(key)) continue;
        fixed.missing++;
        fix?.put(0, key);
      }
      for (const key of dir.result as SegmentKey[])
        if (!stored.has(key)) {
          fixed.stale++;
          fix?.delete(key);
        }
    };
    tx.oncomplete = () => resolve(fixed);
    tx.onabort = () => reject(tx.error);
  });
}
