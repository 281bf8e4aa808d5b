import { type TaskStatus, TERMINAL_STATUSES } from './types.js';

export interface RetentionLimits {
  /** Completed tasks kept. */
  completed: number;
  /** Failed, cancelled and skipped tasks kept, together. */
  failed: number;
  /** The time (scheduler clock) against which a held key (`keyTtlMs`) is judged. @default Date.now() */
  now?: number;
}

/**
 * Which terminal tasks retention drops, oldest first, without reading a record: two insertion-
 * ordered sets of ids (a re-noted id moves to the newest end). Stores call `note` with the status
 * of every terminal version they keep and of every live version of a task that may have been
 * terminal before (retried), and `forget` for every id they remove.
 */
export class Retention {
  readonly #completed = new Set<string>();
  readonly #failed = new Set<string>();
  /** Tasks whose idempotency key still dedupes (`keyTtlMs`), until when: not dropped before. */
  readonly #held = new Map<string, number>();

  /** `heldUntil`: until when the task's key still dedupes (`keyHeldUntil`), if it does. */
  note(id: string, status: TaskStatus, heldUntil?: number): void {
    this.#completed.delete(id);
    this.#failed.delete(id);
    if (status === 'completed') this.#completed.add(id);
    else if (TERMINAL_STATUSES.has(status)) this.#failed.add(id);
    if (heldUntil !== undefined) this.#held.set(id, heldUntil);
    else if (this.#held.size > 0) this.#held.delete(id);
  }

  /** Whether `id` is a terminal task retention knows of. */
  has(id: string): boolean {
    return this.#completed.has(id) || this.#failed.has(id);
  }

  forget(id: string): void {
    this.#completed.delete(id);
    this.#failed.delete(id);
    if (this.#held.size > 0) this.#held.delete(id);
  }

  /**
   * The ids beyond the limits, oldest first within each set; does not forget them. A task whose key
   * still dedupes at `limits.now` is passed over (the next oldest goes instead), so a set may stay
   * above its limit while its keys are held.
   */
  excess(limits: RetentionLimits): string[] {
    const now = limits.now ?? Date.now();
    return [
      ...this.#take(this.#completed, this.#completed.size - limits.completed, now),
      ...this.#take(this.#failed, this.#failed.size - limits.failed, now),
    ];
  }

  #take(set: ReadonlySet<string>, n: number, now: number): string[] {
    const out: string[] = [];
    if (n <= 0) return out;
    const held = this.#held;
    for (const id of set) {
      if (held.size > 0) {
        const until = held.get(id);
        if (until !== undefined && until > now) continue;
        if (until !== undefined) held.delete(id);
      }
      out.push(id);
      if (out.length >= n) break;
    }
    return out;
  }
}
