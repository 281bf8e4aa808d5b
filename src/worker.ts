/** `tasklane/worker`: what a worker module imports. */

export {
  CancelledError,
  NonRetryableError,
  RateLimitedError,
  TasklaneError,
  TimeoutError,
} from './errors.js';
export type { TaskContext, TaskHandler, TaskInput, TaskMap, TaskName, TaskOutput } from './task-types.js';
export { defineTasks } from './worker-runtime.js';
