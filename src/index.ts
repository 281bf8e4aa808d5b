/** `tasklane`: the main-thread entry point. */
export { createScheduler } from './scheduler.js';
export type { Scheduler, SchedulerOptions, EnqueueItem, QueuePeek, LanesPeek, WorkerInfo } from './scheduler-api.js';
export { TaskHandle, ProgressEvent } from './task-handle.js';
export { TaskEvent, WorkerEvent, WarningEvent } from './events.js';
export type { SchedulerEventMap, TaskEventType } from './events.js';
export type { Metrics } from './metrics.js';
export type { TaskStore, ListQuery } from './store.js';
export { MemoryStore } from './memory-store.js';
export { IdbStore, openIdbStore, SCHEMA_VERSION } from './idb-store.js';
export type { IdbStoreOptions, IdbStoreStats } from './idb-store.js';
export { systemClock, ManualClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { backoffDelay } from './backoff.js';
// Every public error class: the list lives once, in error-classes.ts.
export * from './error-classes.js';
export { serializeError, deserializeError } from './errors.js';
export { TaskStatus, Priority } from './types.js';
export type {
  TaskRecord,
  TaskInfo,
  PriorityName,
  PriorityLevel,
  SerializedError,
  EnqueueOptions,
  RetryOptions,
  BackoffPolicy,
  BackoffKind,
  BackoffFunction,
  PoolOptions,
  RetentionOptions,
  TaskDefaults,
} from './types.js';
export type { TaskMap, TaskName, TaskInput, TaskOutput, TaskContext } from './task-types.js';
