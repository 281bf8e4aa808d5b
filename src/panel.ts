/** `tasklane/panel`: the `<tasklane-panel>` element. Importing this module defines the element (where `customElements` exists; in Node it defines nothing and does not throw). */
export { TasklanePanel } from './panel/tasklane-panel.js';
export type { LeaderInfo } from './panel/tasklane-panel.js';
export { SchedulerController } from './panel/scheduler-controller.js';
export type { PanelScheduler, PanelSnapshot, WorkerCard, WaitingRow } from './panel/scheduler-controller.js';
export type { TaskRow } from './panel/recent-tasks.js';
