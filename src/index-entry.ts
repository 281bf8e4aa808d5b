/** What the queue's index holds of a task (`IndexEntry`) and reads of new tasks (`NewTasks`). */
import type { PriorityLevel } from './types.js';

/** What ordering needs of a task, and nothing more: inputs stay in the store. */
export interface IndexEntry {
  id: string;
  /** Task name: lets dispatch estimate a task's cost without reading the store. */
  name: string;
  priority: PriorityLevel;
  /** The later of enqueue time and `runAt`, in scheduler-clock ms. */
  readyAt: number;
  seq: number;
  /**
   * Its limits group when not its name (what the limits gate asks about, so it keeps no map of
   * task → group). Laned tasks have it only in an index made with `groups`.
   */
  group?: string | undefined;
  /** Lazy deletion: a removed entry stays in its heap and is skipped when it surfaces. */
  dead?: boolean;
  /** Set while the entry sits in the delayed heap. */
  delayed?: boolean;
}

/** A task's index entry, from its record (or anything with its ordering fields). */
export function entryOf(task: NewTask): IndexEntry {
  return { id: task.id, name: task.name, priority: task.priority, readyAt: task.runAt, seq: task.seq, group: task.group, delayed: false };
}

/** What `addBatch` needs of each new task (a `TaskRecord` has it all). */
export interface NewTask {
  readonly id: string;
  readonly name: string;
  readonly priority: PriorityLevel;
  /** Becomes the entry's `readyAt`. */
  readonly runAt: number;
  readonly seq: number;
  readonly group?: string;
}

/**
 * New tasks by position, for `addBatch` without an object per task: the i-th has `id(i)`, and so on.
 * A columnar batch implements it over its columns; `newTasksOf` over an array of tasks.
 */
export interface NewTasks {
  readonly size: number;
  id(i: number): string;
  name(i: number): string;
  priority(i: number): PriorityLevel;
  runAt(i: number): number;
  seq(i: number): number;
  /**
   * Optional: the tasks as consecutive stretches sharing name, priority and runAt (each ends before
   * `to`; the last at `size`), with seqs consecutive over the whole batch. Lets a big batch be put
   * into lanes without a call per task.
   */
  stretches?(): Iterable<Stretch>;
  group?(i: number): string | undefined;
}

export interface Stretch {
  readonly to: number;
  readonly name: string;
  readonly priority: PriorityLevel;
  readonly runAt: number;
}

/** `NewTasks` over an array of task-like objects (records, test fixtures). */
export function newTasksOf(tasks: readonly NewTask[]): NewTasks {
  const at = (i: number) => tasks[i] as NewTask;
  return {
    size: tasks.length,
    id: (i) => at(i).id,
    name: (i) => at(i).name,
    priority: (i) => at(i).priority,
    runAt: (i) => at(i).runAt,
    seq: (i) => at(i).seq,
    group: (i) => at(i).group,
  };
}
