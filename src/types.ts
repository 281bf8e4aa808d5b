/**
 * The persisted shape of a task and the option types of the public API.
 * Everything in `TaskRecord` is plain, structured-cloneable data: it is what the store keeps and
 * what survives a reload. Live objects (handles, timers, workers) never go in here.
 */

/** Task statuses. `as const` object, not an enum, so values are plain strings in storage. */
export const TaskStatus = {
  /** Waiting in the queue: ready now, or waiting for `runAt`. */
  queued: 'queued',
  /** Handed to a worker. */
  running: 'running',
  /** Waiting out a retry backoff; returns to `running` when due. */
  retrying: 'retrying',
  completed: 'completed',
  /** Out of attempts or failed with a non-retryable error: the dead-letter set. */
  failed: 'failed',
  cancelled: 'cancelled',
  /** A dependency ended the wrong way. */
  skipped: 'skipped',
  /** Waiting for its dependencies (`dependsOn`) to end: not in the queue until they have. */
  waiting: 'waiting',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set<TaskStatus>(['completed', 'failed', 'cancelled', 'skipped']);

/** Priority names and their levels; 0 is the most urgent. */
export const Priority = {
  critical: 0,
  high: 1,
  normal: 2,
  low: 3,
  background: 4,
} as const;
export type PriorityName = keyof typeof Priority;
export type PriorityLevel = (typeof Priority)[PriorityName];
export const PRIORITY_NAMES = Object.keys(Priority) as PriorityName[];

/** An error as it is stored and as it crosses the worker boundary: recognised by `name`/`code`. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** The attempt (1-based) that produced it, when it came from a run. */
  attempt?: number;
  /** Wall-clock epoch ms when it was recorded. */
  at?: number;
  /** A `RateLimitedError`'s wait, in ms: the one field beyond name, code and message that crosses. */
  retryAfterMs?: number;
}

export type BackoffKind = 'fixed' | 'linear' | 'exponential';

/** How long to wait before attempt `attempt + 1`, given the attempt (1-based) that just failed. */
export type BackoffFunction = (attempt: number, error: SerializedError) => number;

export interface BackoffPolicy {
  /** @default 'exponential' */
  kind?: BackoffKind;
  /** Base delay. @default 1000 */
  delayMs?: number;
  /** Upper bound on one delay. @default 60000 */
  maxMs?: number;
  /** Growth factor for `exponential` (delay = delayMs * factor^(attempt-1)). @default 2 */
  factor?: number;
  /** Full jitter: the delay is drawn uniformly from [delay/2, delay]. @default false */
  jitter?: boolean;
}

export interface RetryOptions {
  /** Total attempts, the first included (1 = no retry). @default 3 */
  attempts?: number;
  /** A policy, or a function of the failed attempt returning the delay in ms. */
  backoff?: BackoffPolicy | BackoffFunction;
}

/** The retry policy as persisted: functions cannot be stored, so a function backoff is kept live only. */
export interface StoredRetry {
  attempts: number;
  backoff: Required<BackoffPolicy> | 'function';
}

export interface TaskRecord {
  id: string;
  name: string;
  input: unknown;
  priority: PriorityLevel;
  /** Epoch ms (scheduler clock) before which the task may not start. */
  runAt: number;
  /** Enqueue sequence: FIFO tie-break within a priority. */
  seq: number;
  status: TaskStatus;
  /** Attempts started so far. */
  attempt: number;
  retry: StoredRetry;
  timeoutMs: number;
  key?: string;
  /** How long after it finished (completed or failed) its `key` still dedupes. */
  keyTtlMs?: number;
  /** `'online'`: it starts only while the browser is online. */
  requires?: 'online';
  /** Its limits group, when not its name. */
  group?: string;
  /** The Web Lock it runs holding. */
  exclusive?: string;
  /** The tasks it waits for, by id, each with the way it must end; in the order they were given. */
  dependsOn?: readonly Dependency[];
  /**
   * How each dependency that ended so far ended, by id (only those whose condition held: one that
   * did not skips the task). Complete, in `dependsOn` order, once the task leaves `waiting`: it is
   * what the handler gets as `ctx.dependencies`. Kept with the task, so a dependency trimmed by
   * retention or discarded later changes nothing.
   */
  dependencyOutcomes?: Readonly<Record<string, DependencyOutcome>>;
  result?: unknown;
  /** Every attempt's error, oldest first. */
  errors: readonly SerializedError[];
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** The scheduler instance that runs it and until when its claim holds. */
  lease?: { owner: string; until: number };
  progress?: number;
  /** Times the task was found running in a dead tab. */
  stalls: number;
}

/**
 * When a dependency lets its dependent run: it `'success'`: completed; `'failure'`: failed (out of
 * attempts or a non-retryable error); `'completion'`: ended in any way (completed, failed,
 * cancelled or skipped).
 */
export type DependencyCondition = 'success' | 'failure' | 'completion';

/** One task another waits for. */
export interface Dependency {
  id: string;
  on: DependencyCondition;
}

/** How a dependency ended, as its dependent keeps it: the result, or the last error. */
export type DependencyOutcome =
  | { status: 'completed'; result: unknown }
  | { status: 'failed' | 'cancelled' | 'skipped'; error: SerializedError };

/** A read-only snapshot of a task, as events and `list()` give it. */
export type TaskInfo = Readonly<Omit<TaskRecord, 'input' | 'lease'>> & { input?: unknown };

export interface EnqueueOptions {
  /** Name or level 0..4 (0 most urgent). @default 'normal' */
  priority?: PriorityName | PriorityLevel;
  /** Wait this long before the task may start. Exclusive with `runAt`. @default 0 */
  delayMs?: number;
  /** Earliest start, as a Date or epoch ms. Exclusive with `delayMs`. */
  runAt?: Date | number;
  /** Per-attempt timeout from the moment the task starts; 0 disables it. @default scheduler default */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Idempotency key: while a task with this key is live, enqueue returns it instead of adding another. */
  key?: string;
  /**
   * With `key`: once this task has completed or failed, its key still dedupes for this long: an
   * `enqueue` with the same key returns the finished task's handle (its result) instead of running
   * the work again. Stored with the task, so it holds after a reload; retention does not trim the
   * task meanwhile. A finite number >= 0. @default undefined (the key is free once the task ends)
   * @example { key: `sync:${docId}`, keyTtlMs: 60_000 }
   */
  keyTtlMs?: number;
  /**
   * With `key`, what an `enqueue` that finds a task with the same key does: `'return'` hands back
   * that task unchanged; `'replace'` first replaces its input with this call's, if it has not started
   * (queued, or retrying between attempts), and the replaced input is stored before `enqueue`
   * resolves. Its id, priority, time, options and place in line stay. A task that is running, waiting
   * for dependencies or finished is returned unchanged. @default 'return'
   */
  onDuplicate?: 'return' | 'replace';
  /**
   * Tasks this one waits for (status `waiting`), by id, or `{ id, on }`: `on: 'success'` (the
   * default) waits for the task to complete, `'failure'` for it to fail, `'completion'` for it to end
   * in any way. If a condition can no longer hold the task ends `skipped`, with a `DependencyError`
   * naming the dependency, and its own dependents follow. Its handler gets how each ended as
   * `ctx.dependencies`. In `enqueueMany`, an entry may be the `ref` of another item of the batch.
   * @example { dependsOn: [resize.id, { id: upload.id, on: 'completion' }] }
   */
  dependsOn?: readonly (string | { id: string; on?: DependencyCondition })[];
  /**
   * `'online'`: the task waits while the browser is offline (`navigator.onLine` false) and starts
   * on the `online` event; it holds no worker meanwhile. An attempt that fails while offline is not
   * counted. Persisted: it holds after a reload.
   */
  requires?: 'online';
  /**
   * The limits group it joins (the scheduler's `limits`): its rate and concurrency are shared with
   * every task of that group. Default: its task name. A group without limits limits nothing.
   */
  group?: string;
  /**
   * Runs holding the Web Lock of this name (`navigator.locks`, exclusive mode), taken before the
   * attempt starts and released when it ends: at most one such task runs at a time across every
   * tab of the origin, and other code can coordinate with it through `navigator.locks`. It holds
   * no worker while it waits for the lock.
   */
  exclusive?: string;
  /** Cancels the task when aborted. */
  signal?: AbortSignal;
}

export interface PoolOptions {
  /** @default max(1, navigator.hardwareConcurrency - 1) */
  max?: number;
  /** Workers kept alive when idle. @default 0 */
  min?: number;
  /** An idle worker above `min` is terminated after this long. @default 30000 */
  idleMs?: number;
  /** How long a new worker may take to load and answer the handshake. @default 10000 */
  spawnTimeoutMs?: number;
  /** After a timeout or cancel, how long a handler may take to honour its signal before the worker is terminated. @default 1000 */
  graceMs?: number;
  /** Consecutive workers failing to start before the breaker opens: no spawn while it is open. @default 3 */
  maxSpawnFailures?: number;
  /**
   * How long the breaker stays open before one trial spawn; each time that trial fails it opens
   * again for twice as long, up to `breakerMaxMs`. A worker that loads closes it for good. @default 10000
   */
  breakerMs?: number;
  /** The longest the breaker stays open at once. @default max(300000, breakerMs) */
  breakerMaxMs?: number;
  /**
   * What queued tasks do while the breaker is open: `'wait'` stays queued until a worker loads (a
   * module that cannot load now, offline or mid-deploy, does not burn the queue); `'fail'` fails every
   * ready task with `WorkerLoadError`. Either way `metrics().health` is `'degraded'` and a `warning`
   * event is emitted each time it opens. @default 'wait'
   */
  onBreakerOpen?: 'wait' | 'fail';
}

export interface RetentionOptions {
  /** Completed tasks kept (newest first). @default 1000 */
  completed?: number;
  /** Failed, cancelled and skipped tasks kept. @default 10000 */
  failed?: number;
}

export interface TaskDefaults {
  /** @default 30000 */
  timeoutMs?: number;
  /** @default { attempts: 3, backoff: { kind: 'exponential', delayMs: 1000, maxMs: 60000, factor: 2, jitter: false } } */
  retry?: RetryOptions;
  /** @default 'normal' */
  priority?: PriorityName | PriorityLevel;
}
