/** `tasklane/panel`: the `<tasklane-panel>` element. Importing this module defines the element (where `customElements` exists; in Node it defines nothing and does not throw). */

export type { TaskRow } from './panel/recent-tasks.js';
export type { PanelScheduler, PanelSnapshot, WaitingRow, WorkerCard } from './panel/scheduler-controller.js';
export { SchedulerController } from './panel/scheduler-controller.js';
export { TasklanePanel } from './panel/tasklane-panel.js';
