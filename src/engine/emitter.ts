import { type EventSink, TaskEvent, type TaskEventType, WarningEvent, WorkerEvent, type WorkerEventState } from '../events.js';
import type { TaskInfo, TaskRecord } from '../types.js';
import type { Tells } from './tells.js';

/** What a listener or a reader sees of a record: everything but the input and the lease, errors copied. */
export function taskInfo(record: TaskRecord): TaskInfo {
  const { input: _input, lease: _lease, ...rest } = record;
  rest.errors = rest.errors.slice();
  return rest;
}

export type EmitterHost = EventSink;

/** The scheduler's events: task events in commit order (through the tells), worker events within the step, warnings now. */
export class Emitter {
  readonly #host: EmitterHost;
  readonly #tells: Tells;

  constructor(host: EmitterHost, tells: Tells) {
    this.#host = host;
    this.#tells = tells;
  }

  listens(type: string): boolean {
    return this.#host.listens(type);
  }

  task(type: TaskEventType, record: TaskRecord, extra?: { error?: Error; progress?: number; delayMs?: number }): void {
    // No closure here: one capturing this function's arguments would cost every call, listened to or not, its context.
    if (this.#host.listens(type)) this.#tells.tell(new TaskEvent(type, taskInfo(record), extra));
  }

  /**
   * `task(type, recordAt(i))` for i in 0..size, events built as they are delivered, in slices (`Tells.tellRun`):
   * resolves once the last is delivered; undefined when none is listened to or all were delivered already.
   */
  taskRun(type: TaskEventType, size: number, recordAt: (i: number) => TaskRecord): Promise<void> | undefined {
    if (!this.#host.listens(type)) return undefined;
    return this.#tells.tellRun({ size, at: (i) => new TaskEvent(type, taskInfo(recordAt(i))) });
  }

  /**
   * `task(type, record)` for each of `records`, as each is now, its event built as it is delivered, in
   * slices (`Tells.tellRun`): for records that may change before a slice reaches them. Each is copied
   * now (a shallow copy and its `errors`, several times cheaper than its `TaskInfo`, which the slice
   * makes), the copy dropped as delivered. Resolves as `taskRun`.
   */
  taskRunOf(type: TaskEventType, records: readonly TaskRecord[]): Promise<void> | undefined {
    if (!this.#host.listens(type)) return undefined;
    const copies: (TaskRecord | undefined)[] = records.map((r) => ({ ...r, errors: r.errors.slice() }));
    return this.#tells.tellRun({
      size: copies.length,
      at: (i) => {
        const copy = copies[i] as TaskRecord;
        copies[i] = undefined;
        return new TaskEvent(type, taskInfo(copy));
      },
    });
  }

  worker(workerId: number, state: WorkerEventState, taskId?: string, error?: Error): void {
    if (this.#host.listens('worker')) this.#tells.runOrHold(new WorkerEvent(workerId, state, { taskId, error }));
  }

  warn(error: Error): void {
    this.#host.dispatchEvent(new WarningEvent(error));
  }
}
