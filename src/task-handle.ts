import type { TaskStatus } from './types.js';

/** Fired on a task handle (and, as `TaskEvent`, on the scheduler) when the handler reports progress. */
export class ProgressEvent extends Event {
  readonly progress: number;
  constructor(progress: number) {
    super('progress');
    this.progress = progress;
  }
}

export interface TaskHandleHost {
  cancel(id: string, reason?: string): Promise<boolean>;
}

/**
 * A live view of one task. `status` follows the task; `result` settles when it ends: it resolves with
 * the handler's value, or rejects with the last error (`CancelledError`, `TimeoutError`, the
 * handler's own error rebuilt by name and code, …). Handles are cheap; the record is the truth.
 */
export class TaskHandle<Output = unknown> extends EventTarget {
  readonly id: string;
  readonly name: string;
  #status: TaskStatus;
  #progress = 0;
  readonly #host: TaskHandleHost;
  #promise?: Promise<Output>;
  #resolve?: (value: Output) => void;
  #reject?: (error: unknown) => void;
  /** How the task ended, once staged: its terminal status, and the value (ok) or the error. */
  #final?: TaskStatus;
  #ok = false;
  #outcome: unknown;
  #settled = false;

  constructor(host: TaskHandleHost, id: string, name: string, status: TaskStatus) {
    super();
    this.#host = host;
    this.id = id;
    this.name = name;
    this.#status = status;
  }

  get status(): TaskStatus {
    return this.#status;
  }

  /** Last reported progress, 0..1. */
  get progress(): number {
    return this.#progress;
  }

  /** Settles when the task reaches a terminal status. */
  get result(): Promise<Output> {
    if (!this.#promise) {
      if (this.#settled) this.#promise = this.#ok ? Promise.resolve(this.#outcome as Output) : Promise.reject(this.#outcome);
      else
        this.#promise = new Promise<Output>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
    }
    return this.#promise;
  }

  /**
   * Cancels the task. Resolves `true` if it was live and is now cancelled, `false` if it had
   * already finished (a no-op).
   */
  cancel(reason?: string): Promise<boolean> {
    return this.#host.cancel(this.id, reason);
  }

  /** @internal */
  _setStatus(status: TaskStatus): void {
    this.#status = status;
  }

  /** @internal */
  _progress(value: number): void {
    this.#progress = value;
    this.dispatchEvent(new ProgressEvent(value));
  }

  /**
   * @internal How the task ended: `value` is the result when `ok`, else the error. The first outcome
   * staged is the one `_settle` applies; the handle shows none of it until then.
   */
  _stage(status: TaskStatus, ok: boolean, value: unknown): void {
    if (this.#final !== undefined) return;
    this.#final = status;
    this.#ok = ok;
    this.#outcome = value;
  }

  /** @internal How it ended, once settled: for a tab that answers another tab's call with this handle. */
  _outcome(): { ok: boolean; value: unknown } | undefined {
    return this.#settled ? { ok: this.#ok, value: this.#outcome } : undefined;
  }

  /** @internal The staged outcome could not be stored: `result` rejects with `error` instead. */
  _unpersisted(error: Error): void {
    if (this.#settled || this.#final === undefined) return;
    this.#ok = false;
    this.#outcome = error;
  }

  /** @internal Applies the staged outcome: `status` becomes terminal and `result` settles. */
  _settle(): void {
    if (this.#settled || this.#final === undefined) return;
    this.#settled = true;
    this.#status = this.#final;
    if (this.#promise) {
      if (this.#ok) this.#resolve?.(this.#outcome as Output);
      else this.#reject?.(this.#outcome);
    }
  }
}
