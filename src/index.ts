/** `tasklane`: the main-thread entry point. */

export { backoffDelay } from './backoff.js';
export type { Clock, TimerHandle } from './clock.js';
export { ManualClock, systemClock } from './clock.js';
export { createScheduler } from './create-scheduler.js';
// Every public error class: the list lives once, in error-classes.ts.
export * from './error-classes.js';
export { deserializeError, serializeError } from './errors.js';
export type { SchedulerEventMap, TaskEventType } from './events.js';
export { TaskEvent, WarningEvent, WorkerEvent } from './events.js';
export type { IdbStoreOptions, IdbStoreStats } from './idb-store.js';
export { IdbStore, openIdbStore, SCHEMA_VERSION } from './idb-store.js';
export { MemoryStore } from './memory-store.js';
export type { GroupState, Metrics } from './metrics.js';
export type { MisfirePolicy, ScheduleInfo, ScheduleRecord, ScheduleSpec, ScheduleTaskOptions } from './schedule-types.js';
export type { EnqueueItem, LanesPeek, QueuePeek, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';
export type { ListQuery, TaskStore } from './store.js';
export { ProgressEvent, TaskHandle } from './task-handle.js';
export type { TaskContext, TaskInput, TaskMap, TaskName, TaskOutput } from './task-types.js';
export type {
  BackoffFunction,
  BackoffKind,
  BackoffPolicy,
  Dependency,
  DependencyCondition,
  DependencyOutcome,
  EnqueueOptions,
  PoolOptions,
  PriorityLevel,
  PriorityName,
  RetentionOptions,
  RetryOptions,
  SerializedError,
  TaskDefaults,
  TaskInfo,
  TaskRecord,
} from './types.js';
export { Priority, TaskStatus } from './types.js';
