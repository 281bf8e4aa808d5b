import type { TaskRecord } from './types.js';

/**
 * Until when a finished task's idempotency key still dedupes (`keyTtlMs` after it finished), in
 * scheduler-clock ms; undefined when it does not. Only a completed or failed task holds its key:
 * a cancelled or skipped one did not do the work, so its key is free at once.
 */
export function keyHeldUntil(record: Pick<TaskRecord, 'key' | 'keyTtlMs' | 'status' | 'finishedAt'>): number | undefined {
  // Read from disk as found (finished records are not validated on load): numbers or nothing.
  if (typeof record.keyTtlMs !== 'number' || typeof record.key !== 'string' || typeof record.finishedAt !== 'number') return undefined;
  if (record.status !== 'completed' && record.status !== 'failed') return undefined;
  return record.finishedAt + record.keyTtlMs;
}
