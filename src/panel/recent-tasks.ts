import type { SerializedError, TaskInfo, TaskStatus } from '../types.js';

/** One row of the panel's activity list or dead-letter set: a task as last seen. */
export interface TaskRow {
  id: string;
  name: string;
  status: TaskStatus;
  priority: number;
  /** Attempts started so far, and allowed in all. */
  attempt: number;
  attempts: number;
  /** Run time of the last attempt, once it ended. */
  durationMs?: number;
  /** `Name (CODE): message` of the error that failed it (failed, retrying, skipped). */
  error?: string;
  /** Why it was cancelled, as the canceller said. */
  reason?: string;
  /** Scheduler-clock ms of the last change. */
  at: number;
}

export function describeError(error: Pick<SerializedError, 'name' | 'message' | 'code'> | undefined): string | undefined {
  if (!error) return undefined;
  return `${error.name}${error.code ? ` (${error.code})` : ''}: ${error.message}`;
}

export function toRow(task: TaskInfo, at: number, error?: Error & { code?: string }): TaskRow {
  const last = error ?? task.errors[task.errors.length - 1];
  const row: TaskRow = {
    id: task.id,
    name: task.name,
    status: task.status,
    priority: task.priority,
    attempt: task.attempt,
    attempts: task.retry.attempts,
    at,
  };
  if (task.finishedAt !== undefined && task.startedAt !== undefined) row.durationMs = Math.max(0, task.finishedAt - task.startedAt);
  // Errors of earlier attempts are history once a task runs again or completes: show only the one that counts now.
  if (task.status === 'failed' || task.status === 'retrying' || task.status === 'skipped') {
    const text = describeError(last);
    if (text) row.error = text;
  } else if (task.status === 'cancelled' && last) {
    row.reason = last.message.replace(/^task \S+ was cancelled: /, '');
  }
  return row;
}

/**
 * The last `size` tasks noted, newest last. Noting a task again moves it to the newest end, so the
 * list reads as "what happened lately" and stays bounded whatever the traffic.
 */
export class RecentTasks {
  readonly size: number;
  readonly #rows = new Map<string, TaskRow>();

  constructor(size: number) {
    this.size = size;
  }

  get count(): number {
    return this.#rows.size;
  }

  has(id: string): boolean {
    return this.#rows.has(id);
  }

  note(row: TaskRow): void {
    this.#rows.delete(row.id);
    this.#rows.set(row.id, row);
    if (this.#rows.size > this.size) {
      const oldest = this.#rows.keys().next().value;
      if (oldest !== undefined) this.#rows.delete(oldest);
    }
  }

  remove(id: string): boolean {
    return this.#rows.delete(id);
  }

  clear(): void {
    this.#rows.clear();
  }

  /** Up to `limit` rows, newest first. */
  newest(limit = this.size): TaskRow[] {
    const all = [...this.#rows.values()];
    const out: TaskRow[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) out.push(all[i] as TaskRow);
    return out;
  }
}
