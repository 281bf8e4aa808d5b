import { matchesQuery, type ListQuery, type TaskStore } from './store.js';
import { TERMINAL_STATUSES, type TaskRecord } from './types.js';

/**
 * Records in a Map, gone with the page. Reads return the stored object itself (no copy): the
 * scheduler owns records and mutates them only through transitions, so a copy would buy nothing
 * on the hot path. Inputs are kept by reference, as given to `enqueue`.
 */
export class MemoryStore implements TaskStore {
  readonly kind = 'memory' as const;
  readonly #records = new Map<string, TaskRecord>();
  /** Terminal ids, oldest end first (a Set keeps insertion order), for retention. */
  readonly #terminal = new Set<string>();

  async recover(): Promise<TaskRecord[]> {
    return [...this.#records.values()].filter((r) => !TERMINAL_STATUSES.has(r.status));
  }

  write(records: readonly TaskRecord[]): Promise<void> {
    for (const record of records) {
      this.#records.set(record.id, record);
      this.#terminal.delete(record.id);
      if (TERMINAL_STATUSES.has(record.status)) this.#terminal.add(record.id);
    }
    return Promise.resolve();
  }

  read(ids: readonly string[]): (TaskRecord | undefined)[] {
    return ids.map((id) => this.#records.get(id));
  }

  async list(query: ListQuery): Promise<TaskRecord[]> {
    const limit = query.limit ?? 100;
    const out: TaskRecord[] = [];
    for (const record of this.#records.values()) {
      if (out.length >= limit) break;
      if (matchesQuery(record, query)) out.push(record);
    }
    return out;
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      this.#records.delete(id);
      this.#terminal.delete(id);
    }
  }

  async trim(limits: { completed: number; failed: number }): Promise<number> {
    let completed = 0;
    let failed = 0;
    for (const id of this.#terminal) {
      if (this.#records.get(id)?.status === 'completed') completed++;
      else failed++;
    }
    let removed = 0;
    for (const id of this.#terminal) {
      if (completed <= limits.completed && failed <= limits.failed) break;
      const isCompleted = this.#records.get(id)?.status === 'completed';
      if (isCompleted ? completed <= limits.completed : failed <= limits.failed) continue;
      if (isCompleted) completed--;
      else failed--;
      this.#terminal.delete(id);
      this.#records.delete(id);
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {}
}
