import { StorageError } from '../errors.js';
import type { MintedIds } from '../id-run.js';
import type { LazyBatch } from '../lazy-run.js';
import type { TaskStore } from '../store.js';
import type { TaskRecord } from '../types.js';

const RESOLVED = Promise.resolve();

/** A failed enqueue write as the caller sees it: a `StorageError` naming how many tasks were lost. */
export function storageError(error: unknown, count: number): Error {
  if ((error as Error)?.name === 'StorageError') return error as Error;
  return new StorageError(`could not store ${count} task(s): ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

export interface WriteQueueHost {
  readonly store: TaskStore;
  /** A state change that could not be written: reported, never thrown. */
  warn(error: Error): void;
}

/**
 * Every store write, in order. Enqueue writes (`write`, `writeOne`, `writeBatch`) reject their caller
 * with a `StorageError`; state changes (`persist`) are written behind the action, through the store's
 * `persist` where it has one (which holds a commit that fails for a transient reason and commits it
 * again later: `committed` waits for it), and a failure is a warning: the tasks it carried are
 * `unpersisted` until a later state change of theirs commits, and the tells announce no state of
 * theirs meanwhile. `committed` settles once everything requested so far is committed.
 *
 * Invariant: a write through the store's synchronous `writeNow` happens only while no asynchronous
 * write is in flight (`idle()`), so writes commit in the order they were requested.
 */
export class WriteQueue {
  readonly #store: TaskStore;
  readonly #host: WriteQueueHost;
  #committed: Promise<void> = RESOLVED;
  #inFlight = 0;
  /** Enqueue writes not settled yet: `writeNow` must not overtake them. */
  #enqueueWrites = 0;
  /** Tasks whose last state change failed to be stored, with the error: what tells must not announce as done. */
  readonly #unpersisted = new Map<string, Error>();

  constructor(host: WriteQueueHost) {
    this.#host = host;
    this.#store = host.store;
  }

  /** Settles once every write requested so far has committed (or failed and been reported). */
  get committed(): Promise<void> {
    return this.#committed;
  }

  /** State-change writes in flight: a tell waits for them. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Why the latest state change of task `id` could not be stored, if it could not. */
  unpersisted(id: string): Error | undefined {
    return this.#unpersisted.size === 0 ? undefined : this.#unpersisted.get(id);
  }

  /** No write (an enqueue's or a state change's) in flight: one committed now (`writeNow`) keeps its order. */
  idle(): boolean {
    return this.#inFlight === 0 && this.#enqueueWrites === 0;
  }

  /**
   * Writes state changes behind the action (group-committed by the store). Returns the commit of
   * everything requested so far, or undefined when all of it is committed already (a store with
   * `writeNow` and no write in flight); a failed write is reported as a warning, never thrown.
   */
  persist(records: TaskRecord[]): Promise<void> | undefined {
    if (this.idle()) {
      if (records.length === 0) return undefined;
      if (this.#store.writeNow) {
        try {
          this.#store.writeNow(records);
          if (this.#unpersisted.size > 0) this.#persisted(records);
        } catch (error) {
          this.#persistFailed(records, error);
        }
        return undefined;
      }
    } else if (records.length === 0) return this.#committed;
    return this.#persistLater(records);
  }

  /** `persist` through the store's asynchronous write, chained after the writes before it. */
  #persistLater(records: TaskRecord[]): Promise<void> {
    this.#inFlight++;
    const store = this.#store;
    const write = (store.persist ? store.persist(records) : store.write(records)).then(
      () => {
        this.#inFlight--;
        if (this.#unpersisted.size > 0) this.#persisted(records);
      },
      (error: unknown) => {
        this.#inFlight--;
        this.#persistFailed(records, error);
      },
    );
    const before = this.#committed;
    this.#committed = before.then(() => write);
    return this.#committed;
  }

  #persistFailed(records: TaskRecord[], error: unknown): void {
    const failure = new StorageError(`could not persist ${records.length} task state change(s)`, { cause: error });
    for (const r of records) this.#unpersisted.set(r.id, failure);
    this.#host.warn(failure);
  }

  /** A state change of these tasks is stored: they are no longer unpersisted. */
  #persisted(records: readonly TaskRecord[]): void {
    for (const r of records) this.#unpersisted.delete(r.id);
  }

  /** `write` of one record, committed at once (returning undefined) by a store with `writeNow` and nothing in flight. */
  writeOne(record: TaskRecord): Promise<void> | undefined {
    if (!this.#store.writeNow || !this.idle()) return this.write([record]);
    try {
      this.#store.writeNow([record]);
    } catch (error) {
      throw storageError(error, 1);
    }
    return undefined;
  }

  /** An enqueue's write of new or re-queued records; rejects with `StorageError`. */
  write(records: TaskRecord[], minted?: MintedIds): Promise<void> {
    return this.#enqueueWrite(records.length, () => this.#store.write(records, minted));
  }

  /** An enqueue's write of a lazily made batch (the store has `writeBatch`); rejects with `StorageError`. */
  writeBatch(batch: LazyBatch<TaskRecord>): Promise<void> {
    return this.#enqueueWrite(batch.size, () => (this.#store.writeBatch as NonNullable<TaskStore['writeBatch']>).call(this.#store, batch));
  }

  /** Counted while in flight (`writeNow` waits for it), failures as `StorageError`. */
  async #enqueueWrite(count: number, write: () => Promise<void>): Promise<void> {
    this.#enqueueWrites++;
    try {
      await write();
    } catch (error) {
      throw storageError(error, count);
    } finally {
      this.#enqueueWrites--;
    }
  }
}
