import type { Clock } from '../clock.js';
import { CancelledError, deserializeError, StorageError, serializeError } from '../errors.js';
import type { Counters } from '../metrics.js';
import type { TaskStore } from '../store.js';
import type { TaskIndex } from '../task-index.js';
import { cancelRecord } from '../transition.js';
import { type SerializedError, type TaskRecord, TERMINAL_STATUSES } from '../types.js';
import { yieldToEventLoop } from '../yield.js';
import type { Dependencies } from './dependencies.js';
import type { Dispatcher } from './dispatcher.js';
import type { Emitter } from './emitter.js';
import type { LiveTasks } from './live-tasks.js';
import type { Watchdog } from './watchdog.js';
import type { WriteQueue } from './write-queue.js';

/** Queued tasks read from the store at a time when closing without draining. */
const CANCEL_CHUNK = 1024;
/**
 * Of those, cancelled (written and told) at a time between looks at the clock: a task's cancel
 * runs its `cancelled` listeners (the panel's: tens of µs each), so a whole chunk between two looks
 * was one task of 25–65 ms (bench 13a, 1M queued, memory store).
 */
const CANCEL_STEP = 64;
/** Main-thread work between yields to the event loop, well under a 50 ms long task. */
const SLICE_MS = 8;

export interface CancellationHost {
  readonly clock: Clock;
  readonly store: TaskStore;
  readonly index: TaskIndex;
  readonly live: LiveTasks;
  readonly counters: Counters;
  readonly writes: WriteQueue;
  readonly emitter: Emitter;
  readonly watchdog: Watchdog;
  readonly dispatcher: Dispatcher;
  /** Tasks waiting for their dependencies: taken out here to be cancelled. */
  readonly waiting: Pick<Dependencies, 'withdraw' | 'withdrawAll'>;
}

/**
 * Ending live tasks as `cancelled`. A queued task leaves the index at once; a running one has its
 * signal aborted and its worker goes through the watchdog's grace-then-terminate path.
 */
export class Cancellation {
  readonly #host: CancellationHost;

  constructor(host: CancellationHost) {
    this.#host = host;
  }

  /** See `Scheduler.cancel`. */
  async cancel(id: string, reason: string): Promise<boolean> {
    const host = this.#host;
    const error = serializeError(new CancelledError(`task ${id} was cancelled: ${reason}`));
    // A waiting task leaves the waiting set as a queued one leaves the index; its dependents then
    // learn it was cancelled (through `settle`), as of any dependency that ends.
    const waiting = host.waiting.withdraw(id);
    if (waiting || host.index.has(id)) {
      if (!waiting) host.index.remove(id);
      const [record] = await host.store.read([id]);
      if (!record) return false;
      this.cancelled(record, error);
      host.dispatcher.schedulePump();
      await host.writes.committed;
      return true;
    }
    const active = host.live.active.get(id);
    if (active) {
      if (!active.record) {
        return new Promise<boolean>((done) => {
          active.pendingCancel = { error, done };
        });
      }
      host.watchdog.abandon(active, error);
      host.live.active.delete(id);
      this.cancelled(active.record, error);
      host.dispatcher.recomputeLoad(active.worker);
      host.watchdog.noteHead(active.worker);
      host.dispatcher.schedulePump();
      await host.writes.committed;
      return true;
    }
    return false;
  }

  cancelled(record: TaskRecord, error: SerializedError): void {
    this.cancelAll([record], error);
  }

  /**
   * Cancels records in one write, then tells each. They share `error`: its data in every record, and
   * one Error made from it (or `shared`, when given) for all of their handles and `cancelled` events.
   * Returns that Error, if one was made.
   */
  cancelAll(records: TaskRecord[], error: SerializedError, shared?: Error): Error | undefined {
    const host = this.#host;
    const now = host.clock.now();
    for (const record of records) cancelRecord(record, error, now);
    host.counters.counts.cancelled += records.length;
    host.writes.persist(records);
    const listening = host.emitter.listens('cancelled');
    const handles = host.live.handles;
    for (const record of records) {
      // An Error only for someone who sees it: a live handle or a 'cancelled' listener.
      const err = listening || (handles.size > 0 && handles.has(record.id)) ? (shared ??= deserializeError(error)) : undefined;
      host.live.settle(record, false, err);
      if (err) host.emitter.task('cancelled', record, { error: err });
    }
    return shared;
  }

  /**
   * Cancels everything live, for `close({ drain: false })`: running tasks first (their workers stop
   * now, not after the queue is worked through), then the queue and the waiting tasks (read
   * CANCEL_CHUNK, cancelled CANCEL_STEP at a time), yielding to the event loop every SLICE_MS: a
   * million queued tasks are a million records to make, cancel and tell, seconds of work that must
   * not be one long task. Waiting tasks are taken out first, so nothing cancelled here skips its
   * dependents: they are cancelled too.
   */
  async cancelEverything(error: SerializedError): Promise<void> {
    const host = this.#host;
    const waiting = host.waiting.withdrawAll();
    const queued = host.index.clearLazily();
    const running: TaskRecord[] = [];
    const active = host.live.active;
    for (const a of [...active.values()]) {
      active.delete(a.entry.id);
      if (a.call) a.worker.abort(a.call, error);
      if (a.record) running.push(a.record);
    }
    this.cancelAll(running, error);
    await this.#cancelQueued(queued, error);
    await this.#cancelQueued(waiting.values(), error);
  }

  /**
   * Cancels the stored tasks of `ids`, read CANCEL_CHUNK at a time and cancelled CANCEL_STEP at a
   * time (one Error for all); `ids` is read only as far as each chunk. A record read and not
   * cancelled yet when the loop yields stays queued in the store until its step: nothing else
   * starts or changes it while the scheduler closes.
   */
  async #cancelQueued(ids: Iterator<string>, error: SerializedError): Promise<void> {
    let sliceStart = performance.now();
    let shared: Error | undefined;
    for (;;) {
      const chunk: string[] = [];
      for (let next = ids.next(); !next.done; next = ids.next()) if (chunk.push(next.value) === CANCEL_CHUNK) break;
      if (chunk.length === 0) return;
      let records: (TaskRecord | undefined)[];
      try {
        records = await this.#host.store.read(chunk);
      } catch (cause) {
        // The store is gone (deleted by another tab, say): the workers must still stop.
        this.#host.emitter.warn(
          new StorageError(`could not read ${chunk.length} or more queued task(s) to cancel them on close`, { cause }),
        );
        return;
      }
      let step: TaskRecord[] = [];
      for (let i = 0; i < records.length; i++) {
        const record = records[i];
        if (record && !TERMINAL_STATUSES.has(record.status)) step.push(record);
        if (step.length < CANCEL_STEP && i < records.length - 1) continue;
        if (step.length > 0) shared = this.cancelAll(step, error, shared);
        step = [];
        if (performance.now() - sliceStart > SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
    }
  }
}
