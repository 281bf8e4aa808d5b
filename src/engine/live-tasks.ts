import { deserializeError } from '../errors.js';
import type { IndexEntry } from '../index-entry.js';
import { SteadyMap } from '../steady-map.js';
import { TaskHandle, type TaskHandleHost } from '../task-handle.js';
import { type BackoffFunction, type SerializedError, type TaskRecord, type TaskStatus, TERMINAL_STATUSES } from '../types.js';
import type { InFlight, WorkerHandle } from '../worker-handle.js';
import type { Tells } from './tells.js';

/** A task taken out of the index and given (or about to be given) to a worker. */
export interface Active {
  entry: IndexEntry;
  record?: TaskRecord;
  prior: 'queued' | 'retrying';
  worker: WorkerHandle;
  call?: InFlight;
  notifiedStart?: boolean;
  /** A cancel that arrived while the record was still being read. */
  pendingCancel?: { error: SerializedError; done: (cancelled: boolean) => void };
}

export interface LiveTasksHost {
  /** What a handle's `cancel()` calls. */
  readonly handleHost: TaskHandleHost;
  readonly tells: Tells;
  /** `record` reached a terminal status (persisted) and its bookkeeping is gone. */
  onSettled(record: TaskRecord): void;
}

/**
 * The live tasks' state outside the index: what is running (`active`), the handles callers hold,
 * live idempotency keys, backoff functions (which cannot be stored) and caller signals.
 * The maps are public for the parts that read them on the hot path; entries come and go only here
 * and in the dispatcher, outcomes and cancellation.
 */
export class LiveTasks {
  readonly active = new SteadyMap<string, Active>();
  readonly handles = new SteadyMap<string, TaskHandle>();
  /** Live idempotency key → task id. */
  readonly keys = new Map<string, string>();
  readonly backoffFns = new Map<string, BackoffFunction>();
  readonly #signalCleanups = new Map<string, () => void>();
  readonly #host: LiveTasksHost;

  constructor(host: LiveTasksHost) {
    this.#host = host;
  }

  /** The task's handle: the live one, or a new one (settled at once for a finished record). */
  handleFor(record: TaskRecord): TaskHandle {
    let handle = this.handles.get(record.id);
    if (handle) return handle;
    handle = new TaskHandle(this.#host.handleHost, record.id, record.name, record.status);
    this.follow(handle, record);
    return handle;
  }

  /**
   * `handle` follows its task from now on: settled at once if `record` is finished, else kept
   * until the task ends (also when `record` is undefined: its enqueue is on the way).
   */
  follow(handle: TaskHandle, record: TaskRecord | undefined): void {
    if (record && TERMINAL_STATUSES.has(record.status)) {
      if (record.status === 'completed') handle._stage(record.status, true, record.result);
      else {
        const last = record.errors[record.errors.length - 1] ?? {
          name: 'CancelledError',
          code: 'E_CANCELLED',
          message: `task ${record.id} ${record.status}`,
        };
        handle._stage(record.status, false, deserializeError(last));
      }
      handle._settle();
    } else {
      if (record) handle._setStatus(record.status);
      this.handles.set(handle.id, handle);
    }
  }

  setStatus(id: string, status: TaskStatus): void {
    // Most tasks have no handle (an enqueueMany's): an empty map is not asked, which would hash a new id.
    if (this.handles.size > 0) this.handles.get(id)?._setStatus(status);
  }

  /** The caller's signal cancels the task (through `cancel`) until the task ends. */
  linkSignal(id: string, signal: AbortSignal, cancel: (id: string, reason: string) => unknown): void {
    const onAbort = () => void cancel(id, 'the caller aborted the signal');
    signal.addEventListener('abort', onAbort, { once: true });
    this.#signalCleanups.set(id, () => signal.removeEventListener('abort', onAbort));
  }

  /** A record reached a terminal status: its handle settles (with `value`, or `value` as the error), its bookkeeping goes. */
  settle(record: TaskRecord, ok: boolean, value: unknown): void {
    // Each lookup only in a map that holds something: the first lookup of an id hashes it.
    const handle = this.handles.size > 0 ? this.handles.get(record.id) : undefined;
    if (handle) {
      handle._stage(record.status, ok, value);
      this.#host.tells.tell(handle);
    }
    if (record.key !== undefined && this.keys.get(record.key) === record.id) this.keys.delete(record.key);
    if (this.backoffFns.size > 0) this.backoffFns.delete(record.id);
    const cleanup = this.#signalCleanups.size > 0 ? this.#signalCleanups.get(record.id) : undefined;
    if (cleanup) {
      cleanup();
      this.#signalCleanups.delete(record.id);
    }
    this.#host.onSettled(record);
  }
}
