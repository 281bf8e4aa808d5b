import type { MintedIds } from './id-run.js';
import type { NewTasks } from './index-entry.js';
import type { LazyBatch } from './lazy-run.js';
import type { StorageInfo } from './metrics.js';
import type { ScheduleRecord } from './schedule-types.js';
import type { TaskRecord, TaskStatus } from './types.js';

/** Key and gate tags of a recovered ready task that has any. */
export interface ReadyExtras {
  key?: string;
  group?: string;
  exclusive?: string;
  requires?: 'online';
}

/** Queued or retrying tasks found on open, by position, without their records (see `TaskStore.recoverRuns`). */
export interface RecoveredRun {
  readonly tasks: NewTasks;
  /** Set when the i-th task's id is the i-th minted from it. */
  readonly minted: MintedIds | undefined;
  /** Key and gate tags of the tasks that have any, by position. */
  readonly extras: readonly (readonly [number, ReadyExtras])[] | undefined;
  /** The highest seq among them. */
  readonly topSeq: number;
}

export interface ListQuery {
  status?: TaskStatus | TaskStatus[];
  name?: string;
  /** @default 100 */
  limit?: number;
}

/**
 * Where records live. The scheduler talks to storage only through this interface, so the memory
 * store and the IndexedDB store are interchangeable.
 *
 * Invariants every store keeps:
 * - `write` resolves once the records are durable (committed), and writes requested in the same
 *   turn share one commit (group commit). A failed commit rejects every write in it with a
 *   `StorageError` and leaves none of them half-applied.
 * - A record read back is a copy as of its last write; mutating it changes nothing stored.
 * - Writing a record hands it over: the IndexedDB store copies its fields at `write` (a write of
 *   more than 512 records, as each segment is put) and structured-clones nested values (`input`,
 *   `result`) when the commit's segment is put, at the end of the turn. The caller does not mutate
 *   those until the write settles; the scheduler never mutates them at all.
 */
export interface TaskStore {
  readonly kind: 'memory' | 'indexeddb';
  /** Every non-terminal record (queued, retrying, running), for recovery on open. */
  recover(): Promise<TaskRecord[]>;
  /**
   * Optional, in place of `recover`: the same tasks, but those the store can describe by their
   * ordering fields alone (queued, retrying) come as `runs`, by position, and their records stay in
   * storage until dispatch reads them; `records` are the rest. Call once (it uses up `recover`).
   */
  recoverRuns?(): Promise<{ records: TaskRecord[]; runs: RecoveredRun[] }>;
  /**
   * Optional: the finished (completed or failed) records whose idempotency key may still dedupe
   * (`key` and `keyTtlMs` set, `keyHeldUntil` in the future), for recovery on open. Without it, a
   * finished task's key dedupes only in the scheduler that saw it finish.
   */
  recoverKeys?(): Promise<TaskRecord[]>;
  /**
   * `minted`, when given, says these records are new and `records[i].id` is the i-th id minted from
   * it: a store may then hold them by position instead of hashing every id, and keep `records`
   * itself (the caller hands the array over with them).
   */
  write(records: readonly TaskRecord[], minted?: MintedIds): Promise<void>;
  /**
   * Optional: stores a batch of new queued records that `batch.make(i)` builds on demand, as `write`
   * of all of them would (the scheduler uses it when nobody needs the records themselves now). A
   * store may make them lazily, but must then make each once and keep it: reads return that object,
   * and call `batch.release(i)` once record i is removed. A subclass of a store that overrides
   * `write` overrides this too (or `enqueueMany` bypasses its `write`).
   */
  writeBatch?(batch: LazyBatch<TaskRecord>): Promise<void>;
  /**
   * Optional, for a store whose writes are synchronous: `write` that has committed by the time it
   * returns (throws instead of rejecting). When no `write` is in flight, the scheduler writes state
   * changes through it and acts on them in the same turn. It must apply a write exactly as `write`
   * would (a subclass that overrides one overrides both).
   */
  writeNow?(records: readonly TaskRecord[]): void;
  /**
   * Optional: stores state changes of tasks already stored (`write` is used where it is missing).
   * Unlike `write`, whose caller must hear of a failure at once (an enqueue), this may hold a write
   * whose commit fails for a transient reason (out of quota) and commit it again later, resolving
   * only once it is durable, with `health` saying so meanwhile. A store that can no longer be durable
   * at all (its database lost for good) may resolve once the change is held in memory, and `health`
   * then says that. It rejects when the change cannot be kept at all. `close()` gives what it holds a
   * last try and settles every write (the scheduler calls it before waiting for its writes).
   */
  persist?(records: readonly TaskRecord[]): Promise<void>;
  /**
   * Optional: why the store is degraded, while it is (commits failing and retried, a lost database
   * being reopened, serving from memory), for `metrics().healthReason`; undefined when well.
   */
  health?(): string | undefined;
  /** Optional: what the store last measured of its storage, for `metrics().storage`. */
  storage?(): StorageInfo | undefined;
  /** Optional: where the store reports what goes wrong outside any call; the scheduler sets it to its `warning` event when unset. */
  onwarning?: ((error: Error) => void) | undefined;
  /** Records by id, in order; `undefined` for unknown ids. Synchronous where the store can be. */
  read(ids: readonly string[]): (TaskRecord | undefined)[] | Promise<(TaskRecord | undefined)[]>;
  /**
   * A hint: these ids are likely to be `read` soon (the next tasks in line), so a store with slow
   * reads can fetch them ahead and answer that `read` without a wait. Fire and forget.
   */
  prefetch?(ids: readonly string[]): void;
  /** Current records matching `query`, at most `limit`; the IndexedDB store gives the newest first. */
  list(query: ListQuery): Promise<TaskRecord[]>;
  remove(ids: readonly string[]): Promise<void>;
  /** Optional, with `writeSchedule` and `removeSchedule`: the stored repeat schedules (without them, `schedule` is refused). */
  readSchedules?(): Promise<ScheduleRecord[]>;
  /** Stores a schedule (replacing the one with its id); resolves once committed. */
  writeSchedule?(schedule: ScheduleRecord): Promise<void>;
  /** Removes a schedule; resolves once committed. */
  removeSchedule?(id: string): Promise<void>;
  /**
   * Applies retention: drops the oldest terminal records beyond the limits, passing over those whose
   * key is still held at `limits.now` (`keyHeldUntil`).
   */
  trim(limits: { completed: number; failed: number; now?: number }): Promise<number>;
  close(): Promise<void>;
}

export function matchesQuery(record: TaskRecord, query: ListQuery): boolean {
  if (query.name !== undefined && record.name !== query.name) return false;
  if (query.status === undefined) return true;
  return Array.isArray(query.status) ? query.status.includes(record.status) : record.status === query.status;
}

/** Where repeat schedules are kept: a store's schedule methods, all three present. */
export type ScheduleStore = Required<Pick<TaskStore, 'readSchedules' | 'writeSchedule' | 'removeSchedule'>>;

/** `store`'s schedule methods, or undefined when it lacks any. */
export function scheduleStoreOf(store: TaskStore): ScheduleStore | undefined {
  const { readSchedules, writeSchedule, removeSchedule } = store;
  if (!readSchedules || !writeSchedule || !removeSchedule) return undefined;
  return {
    readSchedules: () => readSchedules.call(store),
    writeSchedule: (s) => writeSchedule.call(store, s),
    removeSchedule: (id) => removeSchedule.call(store, id),
  };
}
