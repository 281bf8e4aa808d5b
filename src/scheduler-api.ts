import type { Clock } from './clock.js';
import type { LimitsOptions } from './engine/limits.js';
import type { SchedulerEventMap, TypedEventTarget } from './events.js';
import type { Metrics } from './metrics.js';
import type { ScheduleInfo, ScheduleSpec } from './schedule-types.js';
import type { ListQuery, TaskStore } from './store.js';
import type { TaskHandle } from './task-handle.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from './task-types.js';
import type { EnqueueOptions, PoolOptions, PriorityLevel, PriorityName, RetentionOptions, TaskDefaults, TaskInfo } from './types.js';

export interface SchedulerOptions {
  /** Names the queue; with the IndexedDB store, the database name. @default 'tasklane' */
  name?: string;
  /** Creates one worker running a module that calls `defineTasks`. */
  worker: () => Worker;
  /**
   * Where tasks are kept: `'indexeddb'` (durable, the database is named `name`), `'memory'` (gone
   * with the page), or a custom `TaskStore`. Where IndexedDB is unavailable the scheduler falls back
   * to memory and emits a `warning` event. @default 'indexeddb'
   */
  store?: 'indexeddb' | 'memory' | TaskStore;
  /**
   * IndexedDB write durability: `'relaxed'` survives a tab crash, `'strict'` also a power cut
   * (much slower commits). @default 'relaxed'
   */
  durability?: 'relaxed' | 'strict';
  /**
   * Ask the browser for persistent storage (`navigator.storage.persist()`), so that it does not
   * evict the queue under storage pressure; `metrics().storage.persisted` says whether it agreed.
   * @default false
   */
  persist?: boolean;
  pool?: PoolOptions;
  defaults?: TaskDefaults;
  retention?: RetentionOptions;
  /** Live tasks (queued, retrying, running) beyond which `enqueue` rejects with `QueueFullError`. @default Infinity */
  maxQueued?: number;
  /** Stalls (found running in a dead tab) before a task fails instead of re-running. @default 1 */
  maxStalls?: number;
  /**
   * Share the queue with every tab of this origin that opens the same `name`: one tab (the leader)
   * runs it, the others forward to it and take over when it goes. Only with the IndexedDB store.
   * @default true with the IndexedDB store
   */
  shared?: boolean;
  /** How long a tab that does not lead waits for the leader to acknowledge a call before it rejects with `LeaderUnavailableError`. @default 5000 */
  leaderTimeoutMs?: number;
  /** Injected time, for tests. @default the system's monotonic clock */
  clock?: Clock;
  /**
   * Rate limits and concurrency by group (a task's group is its task name): a limited task waits in
   * the queue without holding a worker. `rate`: at most `max` starts in any `perMs` window;
   * `concurrency`: at most this many running at once. @default {} (no limits)
   * @example limits: { upload: { rate: { max: 5, perMs: 1_000 }, concurrency: 2 } }
   */
  limits?: LimitsOptions;
  /**
   * Aging: a ready task rises one priority level for every `agingMs` it has waited since it became
   * ready (never past `critical`), so `background` work cannot starve behind an endless stream of
   * `high`. Among equal effective priorities the order is as without aging (earliest `readyAt`, then
   * enqueue order). A finite number > 0. @default undefined (no aging)
   * @example agingMs: 10_000 // a background task waits at most about 40 s behind critical-free traffic
   */
  agingMs?: number;
  /** Injected randomness for backoff jitter, for tests. @default Math.random */
  random?: () => number;
}

/**
 * One task to enqueue with `enqueueMany`: a union over task names, so each item's input matches its
 * name. `ref` names the item within the batch, for the `dependsOn` of other items (the task's id is
 * made at enqueue, so a graph cannot name its own tasks by id).
 */
export type EnqueueItem<T extends TaskMap, N extends TaskName<T> = TaskName<T>> =
  N extends TaskName<T> ? { name: N; input: TaskInput<T, N>; options?: Omit<EnqueueOptions, 'signal' | 'key'>; ref?: string } : never;

/** A queued task as `peekLanes` shows it: what ordering knows, without reading the store. */
export interface QueuePeek {
  id: string;
  name: string;
  priority: number;
  /** Scheduler-clock ms at which it may start. */
  readyAt: number;
  seq: number;
}

/** What `peekLanes` returns: per priority level 0..4 the live count and the next tasks; the next delayed ones. */
export interface LanesPeek {
  /** The scheduler clock the `readyAt` values are on. */
  now: number;
  lanes: { count: number; top: QueuePeek[] }[];
  waiting: QueuePeek[];
  waitingCount: number;
}

/** One worker as `workers()` shows it. */
export interface WorkerInfo {
  id: number;
  state: string;
  taskId?: string;
  taskName?: string;
  startedAt?: number;
  timeoutMs?: number;
  progress?: number;
  completed: number;
}

/** Which tab runs the queue (`Scheduler.leader`); a `leader` event says it changed. */
export interface LeaderState {
  /** This tab runs the queue: its engine, its workers. */
  thisTab: boolean;
  /** Epoch ms at which the leading tab took the lead; undefined until a follower has heard from it. */
  since?: number;
  /** Whether the queue is shared with the other tabs of this origin (false: memory or custom store, `shared: false`, or no Web Locks). */
  shared: boolean;
}

/**
 * A queue of tasks run on a pool of workers: what `createScheduler` returns. Task names, inputs
 * and results are typed from the worker module's `defineTasks` (`T`).
 */
export interface Scheduler<T extends TaskMap = TaskMap> extends TypedEventTarget<SchedulerEventMap> {
  readonly name: string;
  /** Whether `pause()` is in effect. */
  readonly paused: boolean;
  /** Whether `close()` was called: no new work is accepted. */
  readonly closed: boolean;
  /** Which tab runs the queue. */
  readonly leader: LeaderState;
  /**
   * Adds a task. Resolves once its record is committed to the store, with a handle whose `result`
   * has the handler's return type. Rejects, storing nothing, on bad input: `UnknownTaskError`,
   * `DataCloneError`, `TypeError` for a bad option, `DependencyError` for a `dependsOn` id that is
   * no stored task, `QueueFullError`, `SchedulerClosedError`, `StorageError` when the write fails.
   * With `dependsOn` the task starts `waiting` (or `queued`, if its dependencies already ended
   * well, or `skipped`, if one already ended the wrong way).
   */
  enqueue<N extends TaskName<T>>(name: N, input: TaskInput<T, N>, options?: EnqueueOptions): Promise<TaskHandle<TaskOutput<T, N>>>;
  /**
   * Adds many tasks in one validation pass and one store commit: all are stored or none.
   * Resolves with their ids in order (use `get(id)` for a handle). A whole task graph goes in at
   * once: an item's `dependsOn` may name other items by their `ref`. A cycle, a self-dependency or
   * a name that is neither a ref of the batch nor a stored task rejects with `DependencyError`,
   * naming them, storing nothing.
   * @example
   * const [resize, upload] = await scheduler.enqueueMany([
   *   { ref: 'resize', name: 'resize', input: { blob } },
   *   { name: 'upload', input: { url }, options: { dependsOn: ['resize'] } },
   * ]);
   */
  enqueueMany(items: readonly EnqueueItem<T>[]): Promise<string[]>;
  /**
   * Stores a repeat schedule under `id` and resolves, once it is on disk, with its next run. Calling
   * it again with the same id updates the schedule, never duplicates it: with the same timing (cron
   * or every, tz, startAt, endAt, limit) it keeps its next run and count, so a page can call it on
   * every load; with another it starts afresh. Each run is enqueued as task `schedule:<id>:<due ms>`
   * with that idempotency key and `runAt` its due time, so no reload or second tab enqueues a run
   * twice. Rejects, storing nothing, on bad input: `TypeError` (a malformed cron, an unknown time
   * zone, neither or both of cron and every, a bad option), `UnknownTaskError`, `DataCloneError`.
   * @example
   * await scheduler.schedule('nightly-sync', 'sync', { full: true }, { cron: '0 3 * * *', tz: 'Europe/Berlin' });
   * await scheduler.schedule('heartbeat', 'ping', {}, { every: 60_000, misfire: 'skip' });
   */
  schedule<N extends TaskName<T>>(id: string, name: N, input: TaskInput<T, N>, spec: ScheduleSpec): Promise<ScheduleInfo>;
  /** Removes a schedule; runs already enqueued stay. Resolves `false` for an unknown id. */
  unschedule(id: string): Promise<boolean>;
  /** Every stored schedule with its next run, soonest first. An ended schedule (past `endAt`, or `limit` runs) is removed. */
  schedules(): Promise<ScheduleInfo[]>;
  /** A handle for a stored task (live or finished), or undefined if unknown or trimmed. */
  get(id: string): Promise<TaskHandle | undefined>;
  /** A snapshot of one task's record (input included), or undefined. */
  inspect(id: string): Promise<TaskInfo | undefined>;
  /** Snapshots of stored tasks, filtered by status and name. @default limit 100 */
  list(query?: ListQuery): Promise<TaskInfo[]>;
  /**
   * Cancels a task. Queued, retrying or waiting: removed at once. Running: its signal aborts with a
   * `CancelledError` and, if the handler does not return within the grace period, its worker is
   * terminated and replaced. Resolves `false` (a no-op) when the task had already finished or is unknown.
   * Its dependents are not cancelled: each is skipped (`DependencyError`) unless it waited for the
   * task's `'completion'`, and then it runs, its `ctx.dependencies` holding the `CancelledError`.
   */
  cancel(id: string, reason?: string): Promise<boolean>;
  /**
   * Re-runs a failed, cancelled or skipped task (from the dead-letter set) with a fresh set of
   * attempts. One that had not had all its dependencies end well (skipped, or cancelled while
   * waiting) waits for them again: retry the dependency that failed first.
   */
  retry(id: string): Promise<TaskHandle>;
  /**
   * Moves a task that has not started (queued, retrying, or waiting for its dependencies) to another
   * priority. It keeps its place among tasks of its new priority by `readyAt` and enqueue order.
   * Resolves `true` if it moved (or was already there), `false` if it has started or finished.
   */
  reprioritize(id: string, priority: PriorityName | PriorityLevel): Promise<boolean>;
  /**
   * Removes a finished task (completed, failed, cancelled or skipped) from the store, e.g. to clear
   * it from the dead-letter set. Resolves `true` once removed, `false` for an unknown id. Rejects
   * with `TypeError` for a live task (queued, retrying or running: cancel it first).
   */
  discard(id: string): Promise<boolean>;
  /** Stops starting tasks; running ones finish. Enqueue still works. */
  pause(): void;
  resume(): void;
  /** Resolves when nothing is queued (delayed and retrying included) or running. */
  drain(): Promise<void>;
  /**
   * Stops accepting work (`enqueue` rejects with `SchedulerClosedError`) and shuts down.
   * `drain: true` (the default) resumes if paused and waits for everything queued and running to
   * finish; `drain: false` cancels what is left, running tasks first. Workers are terminated and the store closed.
   */
  close(options?: { drain?: boolean }): Promise<void>;
  /** Changes the pool's bounds at run time. */
  resize(options: { max?: number; min?: number }): void;
  metrics(): Metrics;
  /** The workers and what each is running. */
  workers(): WorkerInfo[];
  /**
   * For panels: per priority level 0..4, the live count and the next `limit` tasks in dispatch
   * order; and the next `limit` tasks still waiting for their `runAt` (delayed or in a retry
   * backoff), soonest first. Reads no record. @default limit 3
   */
  peekLanes(limit?: number): LanesPeek;
}
