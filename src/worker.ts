/** `tasklane/worker`: what a worker module imports. */
export { defineTasks } from './worker-runtime.js';
export type { TaskContext, TaskHandler, TaskMap, TaskName, TaskInput, TaskOutput } from './task-types.js';
export {
  TasklaneError,
  NonRetryableError,
  TimeoutError,
  CancelledError,
} from './errors.js';
