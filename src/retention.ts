import { type TaskStatus, TERMINAL_STATUSES } from './types.js';

export interface RetentionLimits {
  /** Completed tasks kept. */
  completed: number;
  /** Failed, cancelled and skipped tasks kept, together. */
  failed: number;
}

/**
 * Which terminal tasks retention drops, oldest first, without reading a record: two insertion-
 * ordered sets of ids (a re-noted id moves to the newest end). Stores call `note` with the status
 * of every version they keep and `forget` for every id they remove.
 */
export class Retention {
  readonly #completed = new Set<string>();
  readonly #failed = new Set<string>();

  note(id: string, status: TaskStatus): void {
    this.#completed.delete(id);
    this.#failed.delete(id);
    if (status === 'completed') this.#completed.add(id);
    else if (TERMINAL_STATUSES.has(status)) this.#failed.add(id);
  }

  /** Whether `id` is a terminal task retention knows of. */
  has(id: string): boolean {
    return this.#completed.has(id) || this.#failed.has(id);
  }

  forget(id: string): void {
    this.#completed.delete(id);
    this.#failed.delete(id);
  }

  /** The ids beyond the limits, oldest first within each set; does not forget them. */
  excess(limits: RetentionLimits): string[] {
    return [...take(this.#completed, this.#completed.size - limits.completed), ...take(this.#failed, this.#failed.size - limits.failed)];
  }
}

function take(set: ReadonlySet<string>, n: number): string[] {
  const out: string[] = [];
  if (n <= 0) return out;
  for (const id of set) {
    out.push(id);
    if (out.length >= n) break;
  }
  return out;
}
