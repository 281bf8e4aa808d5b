import { isObject } from '../record-validation.js';
import type { ScheduleRecord } from '../schedule-types.js';

/**
 * The `schedules` object store: one value per repeat schedule, keyed by its id. Schedules are few
 * and small, so the store keeps them all in memory too (`IdbStore`), and these are plain one-shot
 * transactions beside the task log's group commit.
 */
export const SCHEDULES = 'schedules';

/** Every stored schedule that has the shape of one; `bad` counts the others (left on disk as they are). */
export function readSchedules(db: IDBDatabase): Promise<{ schedules: ScheduleRecord[]; bad: number }> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(SCHEDULES, 'readonly');
    const all = tx.objectStore(SCHEDULES).getAll();
    tx.oncomplete = () => {
      const schedules: ScheduleRecord[] = [];
      let bad = 0;
      for (const value of all.result as unknown[])
        if (isSchedule(value)) schedules.push(value);
        else bad++;
      resolve({ schedules, bad });
    };
    tx.onabort = () => reject(tx.error);
  });
}

/** Puts `put` and deletes `remove` in one transaction; resolves once it commits. */
export function writeSchedules(
  db: IDBDatabase,
  put: readonly ScheduleRecord[],
  remove: readonly string[],
  durability: 'relaxed' | 'strict',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(SCHEDULES, 'readwrite', { durability });
    const os = tx.objectStore(SCHEDULES);
    for (const s of put) os.put(s);
    for (const id of remove) os.delete(id);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('the schedules transaction aborted', 'AbortError'));
  });
}

function isSchedule(value: unknown): value is ScheduleRecord {
  if (!isObject(value)) return false;
  const timing = typeof value.cron === 'string' || (typeof value.every === 'number' && value.every > 0);
  return (
    typeof value.id === 'string' &&
    typeof value.name === 'string' &&
    timing &&
    typeof value.count === 'number' &&
    typeof value.anchor === 'number' &&
    (value.next === undefined || typeof value.next === 'number') &&
    (value.misfire === 'skip' || value.misfire === 'once' || value.misfire === 'all')
  );
}
