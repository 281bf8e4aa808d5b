import { Retention, type RetentionLimits } from './retention.js';
import { type ListQuery, matchesQuery, type TaskStore } from './store.js';
import { type TaskRecord, TERMINAL_STATUSES } from './types.js';

/**
 * Records in a Map, gone with the page. Reads return the stored object itself (no copy): the
 * scheduler owns records and mutates them only through transitions, so a copy would buy nothing
 * on the hot path. Inputs are kept by reference, as given to `enqueue`.
 */
export class MemoryStore implements TaskStore {
  readonly kind = 'memory' as const;
  readonly #records = new Map<string, TaskRecord>();
  readonly #retention = new Retention();

  async recover(): Promise<TaskRecord[]> {
    return [...this.#records.values()].filter((r) => !TERMINAL_STATUSES.has(r.status));
  }

  write(records: readonly TaskRecord[]): Promise<void> {
    for (const record of records) {
      this.#records.set(record.id, record);
      this.#retention.note(record.id, record.status);
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
      this.#retention.forget(id);
    }
  }

  async trim(limits: RetentionLimits): Promise<number> {
    const victims = this.#retention.excess(limits);
    await this.remove(victims);
    return victims.length;
  }

  async close(): Promise<void> {}
}
