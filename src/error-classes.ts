/**
 * The public error classes and nothing else: `index.ts` re-exports this whole module and
 * `errors.ts` builds the deserializer's name table from it, so each name is written once, here.
 */

/**
 * Every error tasklane raises has a stable `name` and `code`. Code across the worker boundary and
 * across reloads recognises errors by those two strings, never by `instanceof`: an error that came
 * back from a worker or out of IndexedDB is a reconstruction, not the original object.
 */
export class TasklaneError extends Error {
  readonly code: string;
  constructor(message: string, code = 'E_TASKLANE', options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TasklaneError';
  }
}

function defineError(name: string, code: string) {
  const cls = class extends TasklaneError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(message, code, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** A task ran longer than its `timeoutMs`. The signal's reason while the handler still runs. */
export const TimeoutError = defineError('TimeoutError', 'E_TIMEOUT');
export type TimeoutError = InstanceType<typeof TimeoutError>;
/** The task was cancelled (by `cancel()`, the caller's signal, or `close({ drain: false })`). */
export const CancelledError = defineError('CancelledError', 'E_CANCELLED');
export type CancelledError = InstanceType<typeof CancelledError>;
/** The worker running the task died (crash, `self.close()`, terminated). */
export const WorkerCrashedError = defineError('WorkerCrashedError', 'E_WORKER_CRASHED');
export type WorkerCrashedError = InstanceType<typeof WorkerCrashedError>;
/** The worker module could not be loaded or did not answer the handshake. */
export const WorkerLoadError = defineError('WorkerLoadError', 'E_WORKER_LOAD');
export type WorkerLoadError = InstanceType<typeof WorkerLoadError>;
/** Thrown by a handler to fail its task at once, without retries. */
export const NonRetryableError = defineError('NonRetryableError', 'E_NON_RETRYABLE');
export type NonRetryableError = InstanceType<typeof NonRetryableError>;
/** No handler with that name in the worker module. */
export const UnknownTaskError = defineError('UnknownTaskError', 'E_UNKNOWN_TASK');
export type UnknownTaskError = InstanceType<typeof UnknownTaskError>;
/** The input cannot be structured-cloned (a function, a DOM node, …). */
export const DataCloneError = defineError('DataCloneError', 'E_DATA_CLONE');
export type DataCloneError = InstanceType<typeof DataCloneError>;
/** The scheduler is closing or closed. */
export const SchedulerClosedError = defineError('SchedulerClosedError', 'E_CLOSED');
export type SchedulerClosedError = InstanceType<typeof SchedulerClosedError>;
/** `maxQueued` tasks are already live. */
export const QueueFullError = defineError('QueueFullError', 'E_QUEUE_FULL');
export type QueueFullError = InstanceType<typeof QueueFullError>;
/** A store write failed (quota, a closed database, …); `cause` holds the original. */
export const StorageError = defineError('StorageError', 'E_STORAGE');
export type StorageError = InstanceType<typeof StorageError>;
/** A persisted record failed validation on load. */
export const CorruptRecordError = defineError('CorruptRecordError', 'E_CORRUPT_RECORD');
export type CorruptRecordError = InstanceType<typeof CorruptRecordError>;
/** The task was running in a tab that died; it was re-queued, or failed after too many stalls. */
export const StalledError = defineError('StalledError', 'E_STALLED');
export type StalledError = InstanceType<typeof StalledError>;
/**
 * A task graph is wrong (a dependency cycle, an id that is no stored task, a `ref` not in the
 * batch: the call is rejected, storing nothing), or a task's dependency ended the way its condition
 * did not allow (the task is `skipped` with this error, which names the dependency).
 */
export const DependencyError = defineError('DependencyError', 'E_DEPENDENCY');
export type DependencyError = InstanceType<typeof DependencyError>;
/** The handler rejected with something that is not an Error, or left an uncaught error behind. */
export const HandlerError = defineError('HandlerError', 'E_HANDLER');
export type HandlerError = InstanceType<typeof HandlerError>;
/**
 * A follower tab's call got no answer from the tab leading the queue within `leaderTimeoutMs`
 * (that tab is frozen, busy or gone, and no other took over in time). Nothing was applied.
 */
export const LeaderUnavailableError = defineError('LeaderUnavailableError', 'E_LEADER_UNAVAILABLE');
export type LeaderUnavailableError = InstanceType<typeof LeaderUnavailableError>;
/**
 * The tab leading a shared queue runs a tasklane whose tab protocol differs from this tab's (one of
 * them loaded an older build of the app): calls between them are refused, nothing applied. Reloading
 * the older tab ends it.
 */
export const TabVersionError = defineError('TabVersionError', 'E_TAB_VERSION');
export type TabVersionError = InstanceType<typeof TabVersionError>;
/**
 * `createScheduler` was called where tasklane cannot run: no `Worker` (Node, server-side rendering,
 * a prerender). It runs in a browser page or a browser worker that can start module workers.
 */
export const UnsupportedEnvironmentError = defineError('UnsupportedEnvironmentError', 'E_UNSUPPORTED_ENVIRONMENT');
export type UnsupportedEnvironmentError = InstanceType<typeof UnsupportedEnvironmentError>;
/**
 * Thrown by a handler that hit a server's rate limit: the task's whole group waits `retryAfterMs`
 * and the attempt is not counted (the task runs again with the same attempt number).
 * @example throw new RateLimitedError(Number(response.headers.get('Retry-After')) * 1000)
 */
export class RateLimitedError extends TasklaneError {
  /** How long the group waits, in ms. */
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, message?: string, options?: { cause?: unknown }) {
    // The deserializer calls `new (message)`: it sets `retryAfterMs` itself afterwards.
    const ms = typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : 0;
    super(message ?? (typeof retryAfterMs === 'string' ? retryAfterMs : `rate limited: retry after ${ms} ms`), 'E_RATE_LIMITED', options);
    this.name = 'RateLimitedError';
    this.retryAfterMs = ms;
  }
}
