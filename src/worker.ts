/** `tasklane/worker`: what a worker module imports. */
export { defineTasks } from './worker-runtime.js';
export type { TaskContext, TaskHandler, TaskMap, TaskName, TaskInput, TaskOutput } from './worker-runtime.js';
export {
  TasklaneError,
  NonRetryableError,
  TimeoutError,
  CancelledError,
} from './errors.js';
