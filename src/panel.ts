/** `tasklane/panel`: the `<tasklane-panel>` element. Importing this module defines the element. */
export { TasklanePanel } from './panel/tasklane-panel.js';
export type { LeaderInfo } from './panel/tasklane-panel.js';
export { SchedulerController } from './panel/scheduler-controller.js';
export type { PanelScheduler, PanelSnapshot, WorkerCard, WaitingRow } from './panel/scheduler-controller.js';
export type { TaskRow } from './panel/recent-tasks.js';
