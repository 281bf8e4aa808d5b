import { keyHeldUntil } from '../key-ttl.js';
import type { TaskRecord } from '../types.js';

/**
 * Idempotency keys of finished tasks that still dedupe (`keyTtlMs`): key → the task and until when.
 * Filled as tasks finish and, on open, from the store's finished records (`TaskStore.recoverKeys`),
 * so a key outlives a reload. Live keys are `LiveTasks.keys`; this holds only the finished ones.
 */
export class FinishedKeys {
  readonly #byKey = new Map<string, { id: string; until: number }>();

  /** A task reached a terminal status: its key is held if it has a `keyTtlMs` and did the work. */
  note(record: TaskRecord): void {
    if (record.keyTtlMs === undefined) return;
    const until = keyHeldUntil(record);
    if (until !== undefined) this.#byKey.set(record.key as string, { id: record.id, until });
  }

  /** Finished records found on open; the latest-held wins where two share a key. */
  load(records: readonly TaskRecord[], now: number): void {
    for (const record of records) {
      const until = keyHeldUntil(record);
      if (until === undefined || until <= now) continue;
      const held = this.#byKey.get(record.key as string);
      if (!held || held.until < until) this.#byKey.set(record.key as string, { id: record.id, until });
    }
  }

  /** The finished task that holds `key` at `now`, if one does (an expired hold is dropped). */
  find(key: string, now: number): string | undefined {
    if (this.#byKey.size === 0) return undefined;
    const held = this.#byKey.get(key);
    if (!held) return undefined;
    if (held.until > now) return held.id;
    this.#byKey.delete(key);
    return undefined;
  }

  /** `key` is no longer held by task `id` (it is gone from the store, or live again). */
  forget(key: string, id: string): void {
    if (this.#byKey.get(key)?.id === id) this.#byKey.delete(key);
  }
}
