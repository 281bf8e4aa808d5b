/** How work gets in: a call's tasks checked, given room, stored, then indexed and told as `enqueued`. */
import type { Clock } from '../clock.js';
import { CancelledError, QueueFullError, SchedulerClosedError, UnknownTaskError } from '../errors.js';
import type { MintedIds } from '../id-run.js';
import { entryOf } from '../index-entry.js';
import type { Counters } from '../metrics.js';
import type { Pool } from '../pool.js';
import type { EnqueueItem } from '../scheduler-api.js';
import type { TaskStore } from '../store.js';
import type { TaskHandle } from '../task-handle.js';
import type { TaskIndex } from '../task-index.js';
import type { TaskMap } from '../task-types.js';
import { requeueFailed } from '../transition.js';
import type { EnqueueOptions, TaskRecord } from '../types.js';
import { assertCloneable, checkObject, describe } from '../validate.js';
import { yieldToEventLoop } from '../yield.js';
import type { AdmitTicket, Dependencies } from './dependencies.js';
import { resolveGraph } from './dependency-graph.js';
import type { Emitter } from './emitter.js';
import { type Batch, indexColumns, lazyBatch, newBatch, prepareBatch, recordMaker, SLICE_MS } from './enqueue-batch.js';
import type { FinishedKeys } from './finished-keys.js';
import type { LiveTasks } from './live-tasks.js';
import type { RecordEdits } from './record-edits.js';
import {
  checkTaskName,
  type GateTags,
  hasTags,
  type NormalizedDefaults,
  newRecord,
  settingsOf,
  type TaskSettings,
} from './task-settings.js';
import type { WriteQueue } from './write-queue.js';

export interface AdmissionHost {
  /** The scheduler's name, for messages. */
  readonly name: string;
  readonly clock: Clock;
  readonly store: TaskStore;
  readonly index: TaskIndex;
  readonly live: LiveTasks;
  readonly counters: Counters;
  readonly writes: WriteQueue;
  readonly emitter: Emitter;
  /** Keys of finished tasks that still dedupe (`keyTtlMs`). */
  readonly finishedKeys: Pick<FinishedKeys, 'find' | 'forget'>;
  /** Read-modify-write of a record, one at a time per task (`onDuplicate: 'replace'`, `reprioritize`). */
  readonly edits: Pick<RecordEdits, 'edit'>;
  /** Tasks with dependencies: where they wait, and what they start as. */
  readonly dependencies: Pick<Dependencies, 'admit' | 'admitted' | 'abandoned' | 'size'>;
  /** Tasks with gate tags (`requires`, `group`, `exclusive`) are noted by id as they are admitted. */
  readonly tags: { note(id: string, tags: GateTags): void };
  /** The module's task names once a worker has loaded it; until then unknown names are accepted (they fail at dispatch). */
  readonly pool: Pick<Pool, 'names'>;
  readonly defaults: NormalizedDefaults;
  readonly maxQueued: number;
  /** Prefix of every id this scheduler mints: unique across tabs and reloads. */
  readonly idPrefix: string;
  closing(): boolean;
  schedulePump(): void;
  checkDrained(): void;
  /** A handle for a stored task, for an idempotency key that names a live one. */
  get(id: string): Promise<TaskHandle | undefined>;
  /** What an aborted caller signal calls. */
  cancel(id: string, reason: string): unknown;
}

/**
 * How work gets in: validation (a bad call is rejected, storing nothing), records and ids,
 * idempotency keys, room (`maxQueued`), the store write, then the index and the `enqueued` event.
 */
export class Admission {
  readonly #host: AdmissionHost;
  readonly #pendingKeys = new Map<string, Promise<TaskHandle>>();
  #seq = 0;
  #idCounter = 0;
  #inFlight = 0;
  /** Tasks let in by `#checkRoom` whose write is in flight: not indexed yet, but they take room. */
  #admitting = 0;

  constructor(host: AdmissionHost) {
    this.#host = host;
  }

  /** Enqueues not settled yet: the queue is not idle while one is. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Recovered records have used seqs up to `seq`: new tasks order after them. */
  noteSeq(seq: number): void {
    if (seq + 1 > this.#seq) this.#seq = seq + 1;
  }

  /**
   * See `Scheduler.enqueue`. `id`: the task's id when another tab minted it (a follower's call,
   * which may be sent again after a change of leader); by default one is minted here.
   */
  enqueue(name: string, input: unknown, options: EnqueueOptions | undefined, id?: string): Promise<TaskHandle> {
    // The common call, without options, needs no await before the commit: no async frame of its own.
    if (options === undefined && !this.#host.closing()) {
      let record: TaskRecord;
      try {
        record = this.#prepare(name, input, undefined, undefined, id);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#commitOne(record, undefined);
    }
    return this.#enqueue(name, input, options, id);
  }

  async #enqueue(name: string, input: unknown, options: EnqueueOptions | undefined, id: string | undefined): Promise<TaskHandle> {
    const host = this.#host;
    if (host.closing()) throw new SchedulerClosedError(`scheduler "${host.name}" is closed; enqueue("${name}") rejected`);
    const opts = checkObject('options', options) as EnqueueOptions | undefined;
    const signal = opts?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new TypeError(`Expected options.signal to be an AbortSignal, got ${describe(signal)}`);
    if (signal?.aborted) throw new CancelledError(`enqueue("${name}") was given an already aborted signal`);
    const key = opts?.key;
    let settings: TaskSettings | undefined;
    if (key !== undefined) {
      if (typeof key !== 'string' || key === '') throw new TypeError(`Expected options.key to be a non-empty string, got ${describe(key)}`);
      // Validated before a live task with the key is returned: a bad call is refused either way.
      checkTaskName(name, '');
      settings = settingsOf(host.defaults, opts, host.clock.now(), '');
      assertCloneable(input);
      if (host.pool.names) this.#checkKnownName(host.pool.names, name);
      // Synchronous up to here when no task holds the key: nothing can take it between this look and `#pendingKeys`.
      const duplicate = this.#duplicateOf(key, name, input, settings, () => this.#enqueue(name, input, options, id));
      if (duplicate) return await duplicate;
    }
    const record = this.#prepare(name, input, opts, settings, id);
    const promise = record.dependsOn ? this.#commitDependent(record, signal, true) : this.#commitOne(record, signal);
    if (key !== undefined) {
      this.#pendingKeys.set(key, promise);
      promise.then(
        () => this.#pendingKeys.delete(key),
        () => this.#pendingKeys.delete(key),
      );
    }
    return promise;
  }

  /**
   * The task an enqueue with `key` gets instead of a new one, when one holds the key: a live one (or
   * one whose enqueue is in flight), else a finished one whose `keyTtlMs` has not run out. Undefined
   * when none does. `again`: the call itself, for a finished task found gone meanwhile.
   */
  #duplicateOf(
    key: string,
    name: string,
    input: unknown,
    settings: TaskSettings,
    again: () => Promise<TaskHandle>,
  ): Promise<TaskHandle> | undefined {
    const host = this.#host;
    const liveId = host.live.keys.get(key);
    const pending = liveId === undefined ? this.#pendingKeys.get(key) : undefined;
    if (liveId !== undefined || pending) return this.#liveDuplicate(liveId, pending, name, input, settings.onDuplicate);
    const done = host.finishedKeys.find(key, host.clock.now());
    if (done === undefined) return undefined;
    return host.get(done).then((handle) => {
      if (handle) return handle;
      // Discarded since: the key is free, and the call goes ahead as if no task had held it.
      host.finishedKeys.forget(key, done);
      return again();
    });
  }

  /** A live task holds the key: its handle, its input first replaced with `onDuplicate: 'replace'`. */
  async #liveDuplicate(
    liveId: string | undefined,
    pending: Promise<TaskHandle> | undefined,
    name: string,
    input: unknown,
    onDuplicate: 'return' | 'replace' | undefined,
  ): Promise<TaskHandle> {
    const host = this.#host;
    const id = liveId ?? (await (pending as Promise<TaskHandle>)).id;
    const handle = (await host.get(id)) as TaskHandle;
    if (onDuplicate === 'replace') {
      if (handle.name !== name)
        throw new TypeError(
          `Expected enqueue("${name}") with onDuplicate 'replace' to name the task that holds its key, got task ${id} of "${handle.name}"`,
        );
      await this.#replaceInput(id, input);
    }
    return handle;
  }

  /**
   * `onDuplicate: 'replace'`: a task that has not started (in the index: queued, or retrying between
   * attempts) gets `input`, stored before this resolves. A task handed to a worker, or that left the
   * index meanwhile, is left as it is. The dispatcher reads a task's record only once it has taken it
   * (`live.active`), so a record written here before that is the one that runs.
   */
  #replaceInput(id: string, input: unknown): Promise<void> {
    const host = this.#host;
    const idle = () => host.index.has(id) && !host.live.active.has(id);
    return host.edits.edit(id, async () => {
      if (!idle()) return;
      const [record] = await host.store.read([id]);
      if (!record || !idle() || (record.status !== 'queued' && record.status !== 'retrying')) return;
      await host.writes.write([{ ...record, input }]);
    });
  }

  /**
   * Stores, indexes and hands back a prepared task. With a store that commits synchronously (nothing
   * in flight), all of it happens now: no async frame, one settled promise.
   */
  #commitOne(record: TaskRecord, signal: AbortSignal | undefined): Promise<TaskHandle> {
    const host = this.#host;
    if (!host.store.writeNow || !host.writes.idle()) return this.#commitOneLater(record, signal);
    // All of it inside the try, as in the async path: whatever throws rejects, never throws out of enqueue().
    try {
      const known = host.pool.names;
      if (known) this.#checkKnownName(known, record.name);
      this.#checkRoom(1);
      host.writes.writeOne(record);
      return Promise.resolve(this.#admit(record, signal));
    } catch (error) {
      host.live.backoffFns.delete(record.id);
      return Promise.reject(error);
    }
  }

  /** A stored task joins the queue: its handle, its index entry, its signal. */
  #admit(record: TaskRecord, signal: AbortSignal | undefined): TaskHandle {
    const live = this.#host.live;
    const handle = live.handleFor(record);
    this.#indexNew(record, record.createdAt);
    if (signal) live.linkSignal(record.id, signal, this.#host.cancel);
    return handle;
  }

  async #commitOneLater(record: TaskRecord, signal: AbortSignal | undefined): Promise<TaskHandle> {
    const host = this.#host;
    this.#inFlight++;
    let room = 0;
    try {
      const known = host.pool.names;
      if (known) this.#checkKnownName(known, record.name);
      this.#checkRoom(1);
      this.#admitting += room = 1;
      const writing = host.writes.writeOne(record);
      if (writing) await writing;
      return this.#admit(record, signal);
    } catch (error) {
      host.live.backoffFns.delete(record.id);
      throw error;
    } finally {
      this.#admitting -= room;
      this.#inFlight--;
      host.checkDrained();
    }
  }

  /** See `Scheduler.enqueueMany`. `minted`: where the ids come from when another tab minted them. */
  async enqueueMany(items: readonly EnqueueItem<TaskMap>[], minted?: MintedIds): Promise<string[]> {
    const host = this.#host;
    if (host.closing()) throw new SchedulerClosedError(`scheduler "${host.name}" is closed; enqueueMany() rejected`);
    if (!Array.isArray(items)) throw new TypeError(`Expected items to be an array, got ${describe(items)}`);
    // Ids and seqs reserved now: a task enqueued while this batch is prepared orders after all of it.
    const size = items.length;
    const own = minted === undefined;
    minted ??= { prefix: host.idPrefix, first: this.#idCounter };
    const batch = newBatch(size, this.#seq, minted, !host.store.writeBatch);
    this.#seq += size;
    if (own) this.#idCounter += size;
    this.#inFlight++;
    let room = 0;
    let ticket: AdmitTicket | undefined;
    try {
      const names = await prepareBatch(host, items, batch);
      this.#checkNames(names);
      let sliceStart = 0;
      if (batch.graph) ({ ticket, sliceStart } = await this.#admitGraph(batch));
      this.#checkRoom(batch.ids.length);
      this.#admitting += room = batch.ids.length;
      await this.#writeBatch(batch);
      // A big graph is indexed in a task of its own when its admission and write took one already.
      // Its waiters wait as they do for an IndexedDB write (what ends meanwhile `admitted` applies).
      if (ticket && performance.now() - sliceStart > SLICE_MS) await yieldToEventLoop();
      const told = ticket ? this.#indexGraph(batch, ticket) : this.#indexMany(batch);
      if (told) await told;
      return batch.ids;
    } catch (error) {
      if (ticket) host.dependencies.abandoned(ticket);
      const backoffFns = host.live.backoffFns;
      if (backoffFns.size > 0) for (const id of batch.ids) backoffFns.delete(id);
      throw error;
    } finally {
      this.#admitting -= room;
      this.#inFlight--;
      host.checkDrained();
    }
  }

  /**
   * A graph batch's dependencies: refs resolved, cycles refused, dependencies outside the batch read
   * (an unknown one refused), each task's first status set; waiting ones registered (see
   * `Dependencies.admit`). Throws `DependencyError`, storing nothing. Returns the ticket and when
   * the task it ends in began (`sliceStart`), for the caller's next look at the clock.
   */
  async #admitGraph(batch: Batch): Promise<{ ticket: AdmitTicket; sliceStart: number }> {
    const records = batch.records as TaskRecord[];
    const where = (i: number) => `items[${i}].options.dependsOn`;
    let sliceStart = performance.now();
    const order = resolveGraph(
      records,
      batch.settings.map((s) => s.dependsOn),
      batch.refs,
      where,
    );
    // A big graph resolved is admitted in the next task: nothing of the batch is seen by anyone yet.
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
    return {
      ticket: await this.#host.dependencies.admit(records, order, where, { minted: batch.minted, firstSeq: batch.firstSeq }),
      sliceStart,
    };
  }

  /**
   * `#indexMany` for a graph batch: its queued tasks go into the index, its waiting ones start waiting.
   * Returns the delivery of its `enqueued` events, as `#indexMany` does.
   */
  #indexGraph(batch: Batch, ticket: AdmitTicket): Promise<void> | undefined {
    const host = this.#host;
    const records = batch.records as TaskRecord[];
    const now = host.clock.now();
    host.counters.counts.submitted += batch.size;
    for (const record of records) {
      if (hasTags(record)) host.tags.note(record.id, record);
      if (record.status === 'queued') host.index.add(entryOf(record), now);
    }
    // Each as it is now, told in slices: a record here may start (and change) before a slice reaches
    // it. Its skipped tasks, told by `admitted`, are heard after all of them.
    const told = host.emitter.taskRunOf('enqueued', records);
    host.dependencies.admitted(ticket);
    host.schedulePump();
    return told;
  }

  /**
   * Stores one task with dependencies (`dependsOn` set, as ids): its first status is worked out
   * against its dependencies, which must be stored tasks, then it is written and joins the queue, or
   * waits, or is told as skipped. `fresh`: a new task (its seq and id are new), else a retried one.
   */
  async #commitDependent(record: TaskRecord, signal: AbortSignal | undefined, fresh: boolean): Promise<TaskHandle> {
    const host = this.#host;
    this.#inFlight++;
    let room = 0;
    let ticket: AdmitTicket | undefined;
    try {
      const known = host.pool.names;
      if (fresh && known) this.#checkKnownName(known, record.name);
      const where = () => 'dependsOn';
      if (fresh) resolveGraph([record], [record.dependsOn], undefined, where);
      ticket = await host.dependencies.admit([record], undefined, where);
      if (fresh) {
        this.#checkRoom(1);
        this.#admitting += room = 1;
      }
      await host.writes.write([record]);
    } catch (error) {
      if (ticket) host.dependencies.abandoned(ticket);
      if (fresh) host.live.backoffFns.delete(record.id);
      throw error;
    } finally {
      this.#admitting -= room;
      this.#inFlight--;
      host.checkDrained();
    }
    const live = host.live;
    const handle = live.handleFor(record);
    const ended = record.status === 'skipped';
    host.counters.counts.submitted++;
    if (record.key !== undefined && !ended) live.keys.set(record.key, record.id);
    if (!ended && hasTags(record)) host.tags.note(record.id, record);
    if (record.status === 'queued') host.index.add(entryOf(record), host.clock.now());
    host.emitter.task('enqueued', record);
    host.dependencies.admitted(ticket);
    if (signal && !ended) live.linkSignal(record.id, signal, host.cancel);
    host.schedulePump();
    return handle;
  }

  /** Validates one task and builds its record (`known`: its options, the task validated already). Throws, storing nothing. */
  #prepare(name: unknown, input: unknown, options: EnqueueOptions | undefined, known?: TaskSettings, id?: string): TaskRecord {
    if (!known) checkTaskName(name, '');
    const now = this.#host.clock.now();
    const settings = known ?? (options === undefined ? undefined : settingsOf(this.#host.defaults, options, now, ''));
    if (!known) assertCloneable(input);
    const record = newRecord(
      this.#host.defaults,
      id ?? this.#host.idPrefix + (this.#idCounter++).toString(36),
      this.#seq++,
      name as string,
      input,
      settings,
      now,
    );
    const fn = (settings ?? this.#host.defaults).retry.fn;
    if (fn) this.#host.live.backoffFns.set(record.id, fn);
    if (options?.key !== undefined) record.key = options.key;
    if (settings?.dependsOn) record.dependsOn = settings.dependsOn;
    return record;
  }

  /**
   * Throws when the module's names are known and one of `names` is not among them. Never waits for
   * a worker to load them: until one has, every name is accepted, and a task whose name the module
   * turns out not to define fails at dispatch with `UnknownTaskError` (the worker's answer).
   */
  #checkNames(names: string[]): void {
    const known = this.#host.pool.names;
    if (known) this.#checkKnownNames(known, names);
  }

  #checkKnownNames(known: string[], names: string[]): void {
    for (const name of names) this.#checkKnownName(known, name);
  }

  /** Refuses, with `UnknownTaskError`, a task name the loaded module does not define; accepts any until it has loaded. */
  checkName(name: string): void {
    const known = this.#host.pool.names;
    if (known) this.#checkKnownName(known, name);
  }

  #checkKnownName(known: string[], name: string): void {
    if (!known.includes(name))
      throw new UnknownTaskError(
        `no task named "${name}" in the worker module (it defines ${known.map((n) => `"${n}"`).join(', ') || 'none'})`,
      );
  }

  #checkRoom(n: number): void {
    const host = this.#host;
    // Tasks whose enqueue write is in flight count too: concurrent enqueues cannot overfill the queue.
    const live = host.index.size + host.live.active.size + host.dependencies.size + this.#admitting;
    if (live + n > host.maxQueued)
      throw new QueueFullError(`queue is full: ${live} live tasks, maxQueued is ${host.maxQueued}, ${n} more rejected`);
    if (host.closing()) throw new SchedulerClosedError(`scheduler "${host.name}" is closed`);
  }

  /** Stores a batch: its records if made, else the batch itself for the store to make them on demand. */
  #writeBatch(batch: Batch): Promise<void> {
    const writes = this.#host.writes;
    if (batch.records || !this.#host.store.writeBatch) return writes.write(batch.records ?? [], batch.minted);
    return writes.writeBatch(lazyBatch(this.#host.defaults, batch));
  }

  /**
   * `#indexNew` for a batch of keyless tasks: one index insertion, one pump. Returns the delivery of
   * its `enqueued` events (in slices, `Tells.tellRun`), or undefined when nobody listens or all were
   * delivered already. Each event's record is made again as it was stored, never read: by the time a
   * slice reaches it, the task may have started.
   */
  #indexMany(batch: Batch): Promise<void> | undefined {
    const host = this.#host;
    host.counters.counts.submitted += batch.size;
    const settings = batch.settings;
    if (batch.tagged)
      for (let i = 0; i < batch.size; i++) {
        const tags = settings[i] as TaskSettings;
        if (hasTags(tags)) host.tags.note(batch.ids[i] as string, tags);
      }
    host.index.addBatch(indexColumns(batch), batch.minted, host.clock.now());
    const told = host.emitter.taskRun('enqueued', batch.size, recordMaker(host.defaults, batch));
    host.schedulePump();
    return told;
  }

  /**
   * A stored live record joins the queue: counted, its key live, indexed, announced. `now` is the
   * time it is indexed at; an entry found delayed that is in fact due is promoted by the next pump.
   */
  #indexNew(record: TaskRecord, now: number): void {
    const host = this.#host;
    host.counters.counts.submitted++;
    if (record.key !== undefined) host.live.keys.set(record.key, record.id);
    if (hasTags(record)) host.tags.note(record.id, record);
    host.index.add(entryOf(record), now);
    host.emitter.task('enqueued', record);
    host.schedulePump();
  }

  /** See `Scheduler.retry`. */
  async retry(id: string): Promise<TaskHandle> {
    const host = this.#host;
    if (host.closing()) throw new SchedulerClosedError(`scheduler "${host.name}" is closed; retry(${id}) rejected`);
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const [record] = await host.store.read([id]);
    if (!record) throw new TypeError(`Expected the id of a stored task, got ${describe(id)} (unknown or trimmed by retention)`);
    if (record.status !== 'failed' && record.status !== 'cancelled' && record.status !== 'skipped')
      throw new TypeError(`Expected task ${id} to be failed, cancelled or skipped to retry it, got status "${record.status}"`);
    requeueFailed(record, host.clock.now(), this.#seq++);
    if (record.key !== undefined) host.finishedKeys.forget(record.key, record.id);
    // Skipped or cancelled while it waited: it waits again for the dependencies that had not ended well.
    const met = record.dependencyOutcomes;
    if (record.dependsOn?.some((d) => !met || !Object.hasOwn(met, d.id))) return this.#commitDependent(record, undefined, false);
    await host.writes.write([record]);
    const handle = host.live.handleFor(record);
    this.#indexNew(record, host.clock.now());
    return handle;
  }
}
