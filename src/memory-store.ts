import { IdRun, type MintedIds } from './id-run.js';
import { keyHeldUntil } from './key-ttl.js';
import { type LazyBatch, LazyRun } from './lazy-run.js';
import { Retention, type RetentionLimits } from './retention.js';
import type { ScheduleRecord } from './schedule-types.js';
import { type ListQuery, matchesQuery, type TaskStore } from './store.js';
import { TaskTable } from './task-table.js';
import { type TaskRecord, TERMINAL_STATUSES } from './types.js';

/**
 * Records in memory, gone with the page. Reads return the stored object itself (no copy): the
 * scheduler owns records and mutates them only through transitions, so a copy would buy nothing
 * on the hot path. Inputs are kept by reference, as given to `enqueue`. A big batch of new tasks
 * is held by position (`TaskTable`), so storing it hashes no id.
 */
export class MemoryStore implements TaskStore {
  readonly kind = 'memory' as const;
  readonly #records = new TaskTable<TaskRecord>();
  readonly #retention = new Retention();
  readonly #schedules = new Map<string, ScheduleRecord>();

  async recover(): Promise<TaskRecord[]> {
    return [...this.#records.values()].filter((r) => !TERMINAL_STATUSES.has(r.status));
  }

  write(records: readonly TaskRecord[], minted?: MintedIds): Promise<void> {
    if (minted) {
      this.#records.addRun(new IdRun(minted.prefix, minted.first, records as TaskRecord[]));
      // New ids: retention has nothing to forget, only terminal ones to note (new tasks are queued:
      // the status is compared before the set is asked, a million times for a big batch).
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as TaskRecord;
        if (record.status !== 'queued' && TERMINAL_STATUSES.has(record.status))
          this.#retention.note(record.id, record.status, keyHeldUntil(record));
      }
      return Promise.resolve();
    }
    this.writeNow(records);
    return Promise.resolve();
  }

  /** A big batch is held as its columns until its records are looked at (`LazyRun`). */
  writeBatch(batch: LazyBatch<TaskRecord>): Promise<void> {
    this.#records.addRun(new LazyRun(batch));
    return Promise.resolve();
  }

  writeNow(records: readonly TaskRecord[]): void {
    // Indexed, not for-of: this runs for every state change, and an iterator is an allocation each time.
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as TaskRecord;
      this.#records.set(record);
      // Retention holds terminal ids only. A live record was one only if it was retried: failed,
      // cancelled or skipped before, each of which notes an error. The rest (almost every state
      // change) skip asking retention's sets, which for a new id means hashing it.
      if (record.errors.length > 0 || TERMINAL_STATUSES.has(record.status))
        this.#retention.note(record.id, record.status, record.keyTtlMs === undefined ? undefined : keyHeldUntil(record));
    }
  }

  /** Finished records whose key may still dedupe (`keyTtlMs`): found by a full scan of the made records, once at open. */
  async recoverKeys(): Promise<TaskRecord[]> {
    const out: TaskRecord[] = [];
    for (const record of this.#records.values({ madeOnly: true })) if (keyHeldUntil(record) !== undefined) out.push(record);
    return out;
  }

  read(ids: readonly string[]): (TaskRecord | undefined)[] {
    return ids.map((id) => this.#records.get(id));
  }

  async list(query: ListQuery): Promise<TaskRecord[]> {
    const limit = query.limit ?? 100;
    const out: TaskRecord[] = [];
    if (limit <= 0) return out;
    // A record a batch has not made yet is queued (any change to it made it), with the name the batch
    // holds: a query that cannot match 'queued' (the panel's failed list), or names another task,
    // need not make a big batch's records to look at them.
    const status = query.status;
    const madeOnly = status !== undefined && (Array.isArray(status) ? !status.includes('queued') : status !== 'queued');
    for (const record of this.#records.values({ madeOnly, name: query.name })) {
      if (!matchesQuery(record, query)) continue;
      out.push(record);
      // Stop before the next is asked for: a lazy batch would make it.
      if (out.length >= limit) break;
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

  async readSchedules(): Promise<ScheduleRecord[]> {
    return [...this.#schedules.values()].map((s) => ({ ...s }));
  }

  async writeSchedule(schedule: ScheduleRecord): Promise<void> {
    this.#schedules.set(schedule.id, { ...schedule });
  }

  async removeSchedule(id: string): Promise<void> {
    this.#schedules.delete(id);
  }

  async close(): Promise<void> {}
}
