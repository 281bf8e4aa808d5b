import type { Clock, TimerHandle } from '../clock.js';
import { StorageError, serializeError } from '../errors.js';
import type { IndexEntry } from '../index-entry.js';
import type { Pool } from '../pool.js';
import { lostToFailed } from '../record-validation.js';
import type { TaskStore } from '../store.js';
import type { TaskIndex } from '../task-index.js';
import { type FailureOutcome, failAttempt, startAttempt, unstartAttempt } from '../transition.js';
import { type SerializedError, type TaskRecord, TERMINAL_STATUSES } from '../types.js';
import type { WorkerHandle } from '../worker-handle.js';
import { type DispatchGate, notBefore, noteTaken, refreshGates } from './gates.js';
import type { Active, LiveTasks } from './live-tasks.js';
import type { LoadModel } from './load-model.js';
import type { WriteQueue } from './write-queue.js';

/** A worker is sent more calls only while the expected work queued in it stays under this. */
const PIPELINE_BUDGET_MS = 1;
const PIPELINE_MAX = 512;
const LEASE_MS = 30_000;
/** Next-in-line tasks whose records the store may read ahead (a full batch), so dispatch need not wait on a read. */
export const PREFETCH_AHEAD = PIPELINE_MAX;
/** After a failed read of records to run, dispatch pauses this long, doubling while reads keep failing, up to `READ_BACKOFF_MAX_MS`. */
const READ_BACKOFF_MS = 50;
const READ_BACKOFF_MAX_MS = 5_000;

const RESOLVED = Promise.resolve();

export interface DispatcherHost {
  readonly clock: Clock;
  readonly store: TaskStore;
  readonly index: TaskIndex;
  readonly live: LiveTasks;
  readonly load: LoadModel;
  readonly writes: WriteQueue;
  readonly pool: Pick<Pool, 'available' | 'breakerOpen' | 'breakerError' | 'ensure' | 'options'>;
  /** Policies asked before a task starts (dependencies, limits, …); none by default. */
  readonly gates: readonly DispatchGate[];
  /** Written into a started record's lease: who runs it. */
  readonly owner: string;
  paused(): boolean;
  closed(): boolean;
  /** Brackets a step: see `Tells.hold`. */
  hold(): boolean;
  release(): void;
  warn(error: Error): void;
  /** The worker went from no calls to some: `busy` for its first task. */
  onBusy(worker: WorkerHandle, taskId: string | undefined): void;
  /** Calls were handed to `worker`: its head call may have started. */
  onSent(worker: WorkerHandle): void;
  /** A task whose attempt failed (here: the breaker is open, `onBreakerOpen: 'fail'`) was changed and persisted: retry or settle it. */
  onFailed(record: TaskRecord, failure: FailureOutcome, error: SerializedError): void;
  /** A cancel that arrived while the task's record was being read applies now. */
  onCancelled(record: TaskRecord, error: SerializedError): void;
  /** Nothing might be left to do: drain waiters may resolve. */
  checkDrained(): void;
}

/**
 * The pump: hands ready tasks to workers, most urgent first and least-loaded worker first, in
 * batches kept under a budget of expected work; reads their records, writes their running state,
 * and only then sends them (so a task found `running` after a crash was really handed to a worker).
 * Owns the reservations of calls being read or written, and the wake timer for delayed tasks.
 *
 * Methods on the path of every task make no closures: V8 allocates a function's context on entry
 * when a closure in it captures a local, whether or not that branch runs. Callbacks of the rarer
 * paths live in methods of their own (`#sendWhenRead`, `#transmitWhenCommitted`).
 */
export class Dispatcher {
  readonly #host: DispatcherHost;
  readonly #clock: Clock;
  readonly #index: TaskIndex;
  readonly #live: LiveTasks;
  readonly #load: LoadModel;
  /** Calls reserved for a worker whose records are being read or whose running state is being written. */
  readonly #pendingSend = new Map<WorkerHandle, Set<Active>>();
  #pumpQueued = false;
  #wakeTimer?: TimerHandle;
  #wakeAt = Number.POSITIVE_INFINITY;
  /**
   * Reads of records to run that failed in a row, and until when dispatch waits because of them: a
   * store that fails reads at once (a lost database) must not turn the pump into a microtask loop
   * that never lets the page run again.
   */
  #readFailures = 0;
  #readBackoffUntil = 0;
  #readBackoffTimer?: TimerHandle;

  constructor(host: DispatcherHost) {
    this.#host = host;
    this.#clock = host.clock;
    this.#index = host.index;
    this.#live = host.live;
    this.#load = host.load;
  }

  schedulePump(): void {
    if (this.#pumpQueued || this.#host.closed()) return;
    this.#pumpQueued = true;
    RESOLVED.then(this.#queuedPump);
  }

  /** A promise reaction is a cheaper microtask than `queueMicrotask`, a call into the DOM. */
  readonly #queuedPump = (): void => {
    this.#pumpQueued = false;
    this.pump();
  };

  /** Hands ready tasks to workers now. */
  pump(): void {
    if (this.#host.closed()) return;
    const outer = this.#host.hold();
    try {
      this.#pumpStep();
    } finally {
      if (outer) this.#host.release();
    }
  }

  #pumpStep(): void {
    const host = this.#host;
    const index = this.#index;
    if (index.size === 0) {
      if (this.#wakeTimer) this.armWake(this.#clock.now());
      host.checkDrained();
      return;
    }
    const now = this.#clock.now();
    if (now < this.#readBackoffUntil) {
      this.#readBackoffTimer ??= this.#clock.setTimer(this.#onReadBackoff, this.#readBackoffUntil - now);
    } else if (!host.paused()) {
      const pool = host.pool;
      const workers = pool.available();
      const gated = host.gates.length > 0;
      if (gated) refreshGates(host.gates, now);
      /** What each worker gets, by its position in `workers`. */
      let batches: (IndexEntry[] | undefined)[] | undefined;
      if (workers.length > 0) {
        // Round-robin over workers, least loaded first. A worker already busy takes another call only
        // while the work expected to wait inside it stays under PIPELINE_BUDGET_MS, so a task enqueued
        // later at a higher priority never waits behind more than about that much queued work.
        this.#load.sortByLoad(workers);
        for (;;) {
          let gave = false;
          for (let w = 0; w < workers.length; w++) {
            const worker = workers[w] as WorkerHandle;
            const top = gated ? this.#admitted(now) : index.peek(now);
            if (!top) break;
            const batch = batches?.[w];
            const queued = worker.calls.length + (this.#pendingSend.get(worker)?.size ?? 0) + (batch?.length ?? 0);
            const load = this.#load.loadOf(worker);
            const cost = this.#load.costOf(top.name);
            if (queued > 0 && (queued >= PIPELINE_MAX || load + cost > PIPELINE_BUDGET_MS)) continue;
            index.next(now);
            if (gated) noteTaken(host.gates, top, now);
            this.#load.setLoad(worker, load + cost);
            if (batch) batch.push(top);
            else (batches ??= new Array(workers.length))[w] = [top];
            gave = true;
          }
          if (!gave) break;
        }
      } else if (pool.breakerOpen && pool.breakerError && pool.options.onBreakerOpen === 'fail') {
        this.#failReady(pool.breakerError, now);
      }
      if (batches)
        for (let w = 0; w < workers.length; w++) {
          const entries = batches[w];
          if (entries) this.#dispatch(workers[w] as WorkerHandle, entries, now);
        }
      const store = host.store;
      if (store.prefetch && index.size > 0) store.prefetch(index.upcoming(PREFETCH_AHEAD, now).map((e) => e.id));
      const ready = index.readyCount(now);
      if (ready > 0) pool.ensure(ready, this.#reserved);
    }
    this.armWake(now);
    host.checkDrained();
  }

  /**
   * The head of the queue that every gate lets start now. A task a gate holds back goes back to the
   * queue as a delayed task until the time the gate named (its place among equals is then by that time).
   */
  #admitted(now: number): IndexEntry | undefined {
    const index = this.#index;
    for (let top = index.peek(now); top; top = index.peek(now)) {
      const at = notBefore(this.#host.gates, top, now);
      if (at <= now) return top;
      index.next(now);
      index.add({ id: top.id, name: top.name, priority: top.priority, readyAt: at, seq: top.seq, group: top.group }, now);
    }
    return undefined;
  }

  #dispatch(worker: WorkerHandle, entries: IndexEntry[], now: number): void {
    const ids: string[] = new Array(entries.length);
    const actives: Active[] = new Array(entries.length);
    const active = this.#live.active;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as IndexEntry;
      const a: Active = { entry, prior: 'queued', worker };
      active.set(entry.id, a);
      ids[i] = entry.id;
      actives[i] = a;
    }
    const read = this.#host.store.read(ids);
    if (Array.isArray(read)) this.#send(worker, actives, read, now);
    else this.#sendWhenRead(worker, actives, read);
  }

  /** `#dispatch` with an asynchronous read. */
  #sendWhenRead(worker: WorkerHandle, actives: Active[], read: Promise<(TaskRecord | undefined)[]>): void {
    const reserved = this.#reserve(worker, actives);
    read.then(
      (records) => {
        this.#readFailures = 0;
        this.#send(worker, actives, records, this.#clock.now());
      },
      (error) => {
        this.#readFailures++;
        const backoff = Math.min(READ_BACKOFF_MAX_MS, READ_BACKOFF_MS * 2 ** (this.#readFailures - 1));
        this.#readBackoffUntil = this.#clock.now() + backoff;
        this.#host.warn(
          new StorageError(`could not read ${actives.length} task(s) to run them; dispatch waits ${backoff} ms`, { cause: error }),
        );
        for (const a of actives) {
          reserved.delete(a);
          if (this.#live.active.get(a.entry.id) === a) this.requeue(a);
        }
      },
    );
  }

  /**
   * Phase one of a dispatch, once the records are read: each task's attempt starts and its running
   * state is written. The worker gets the calls only after that write commits (`#transmit`), so a
   * task found `running` after a crash was really handed to a worker: stalls are counted, never missed.
   */
  #send(worker: WorkerHandle, actives: Active[], records: (TaskRecord | undefined)[], now: number): void {
    const reserved = this.#pendingSend.get(worker);
    // The calls that start, copied out only once one does not (most often all do).
    let starting: Active[] | undefined;
    for (let i = 0; i < actives.length; i++) {
      const active = actives[i] as Active;
      if (this.#start(worker, active, records[i], reserved, now)) starting?.push(active);
      else starting ??= actives.slice(0, i);
    }
    const calls = starting ?? actives;
    if (calls.length === 0) {
      this.schedulePump();
      return;
    }
    const running = starting ? starting.map((a) => a.record as TaskRecord) : (records as TaskRecord[]);
    const committed = this.#host.writes.persist(running);
    if (committed) this.#transmitWhenCommitted(worker, calls, running, committed);
    else this.#transmit(worker, calls, running, now);
  }

  #transmitWhenCommitted(worker: WorkerHandle, calls: Active[], running: TaskRecord[], committed: Promise<void>): void {
    this.#reserve(worker, calls);
    committed.then(() => this.#transmit(worker, calls, running, this.#clock.now()));
  }

  /** Starts `active`'s attempt on `record`, or drops it (gone, finished, cancelled, or its worker gone). */
  #start(worker: WorkerHandle, active: Active, record: TaskRecord | undefined, reserved: Set<Active> | undefined, now: number): boolean {
    const live = this.#live;
    // While the read was pending, the worker may have exited (its reservations went back to the index) or close() let it go.
    if (live.active.get(active.entry.id) !== active) {
      reserved?.delete(active);
      return false;
    }
    if (!record || TERMINAL_STATUSES.has(record.status)) {
      reserved?.delete(active);
      live.active.delete(active.entry.id);
      active.pendingCancel?.done(false);
      // Queued here but gone from the store (its database deleted or cleared, with the input): it
      // cannot run, and its handle must not wait for ever.
      if (!record) this.#fail(lostToFailed(active.entry, now));
      return false;
    }
    active.record = record;
    active.prior = record.status === 'retrying' ? 'retrying' : 'queued';
    if (active.pendingCancel) {
      reserved?.delete(active);
      live.active.delete(record.id);
      this.#host.onCancelled(record, active.pendingCancel.error);
      active.pendingCancel.done(true);
      return false;
    }
    if (!worker.alive || worker.doomed) {
      reserved?.delete(active);
      this.requeue(active);
      return false;
    }
    startAttempt(record, now, this.#host.owner, LEASE_MS);
    live.setStatus(record.id, 'running');
    return true;
  }

  /**
   * Phase two: the running state is committed; hand the calls that are still ours to the worker.
   * `records[i]` is `starting[i]`'s. The message goes first, bookkeeping after: that overlaps with
   * the worker's turn.
   */
  #transmit(worker: WorkerHandle, starting: Active[], records: TaskRecord[], now: number): void {
    const reserved = this.#pendingSend.get(worker);
    const active = this.#live.active;
    // As in #send: copied out only once a call drops out.
    let sending: Active[] | undefined;
    let requests: TaskRecord[] | undefined;
    for (let i = 0; i < starting.length; i++) {
      const a = starting[i] as Active;
      reserved?.delete(a);
      // Cancelled, or sent back to the index by the worker's exit, while the write was in flight.
      const ours = active.get(a.entry.id) === a && a.record !== undefined;
      const usable = worker.alive && !worker.doomed;
      if (ours && !usable) this.requeue(a);
      if (!ours || !usable) {
        sending ??= starting.slice(0, i);
        requests ??= records.slice(0, i);
      } else if (sending && requests) {
        sending.push(a);
        requests.push(records[i] as TaskRecord);
      }
    }
    const toSend = requests ?? records;
    if (toSend.length === 0) {
      this.schedulePump();
      return;
    }
    const sent = sending ?? starting;
    const wasIdle = worker.calls.length === 0;
    const calls = worker.send(toSend, now);
    for (let i = 0; i < calls.length; i++) (sent[i] as Active).call = calls[i];
    this.recomputeLoad(worker);
    if (wasIdle) this.#host.onBusy(worker, toSend[0]?.id);
    this.#host.onSent(worker);
  }

  /**
   * Counts calls against `worker` while their records are read or their running state written,
   * asynchronously. (A synchronous read and write need no reservation: nothing runs in between.)
   */
  #reserve(worker: WorkerHandle, actives: Active[]): Set<Active> {
    let reserved = this.#pendingSend.get(worker);
    if (!reserved) this.#pendingSend.set(worker, (reserved = new Set()));
    for (const active of actives) reserved.add(active);
    return reserved;
  }

  /** Whether calls are reserved for `worker` (being read or their running state written). */
  readonly #reserved = (worker: WorkerHandle): boolean => (this.#pendingSend.get(worker)?.size ?? 0) > 0;

  /** Expected work on `worker`, its reserved calls included. */
  recomputeLoad(worker: WorkerHandle): void {
    this.#load.recompute(worker, this.#pendingSend.get(worker));
  }

  /** Puts a task that never started back where it was in line. */
  requeue(active: Active): void {
    this.#live.active.delete(active.entry.id);
    this.#pendingSend.get(active.worker)?.delete(active);
    if (active.record) {
      if (active.record.status === 'running') {
        unstartAttempt(active.record, active.prior);
        this.#host.writes.persist([active.record]);
      }
      this.#live.setStatus(active.entry.id, active.record.status);
    }
    const { id, name, priority, readyAt, seq, group } = active.entry;
    this.#index.add({ id, name, priority, readyAt, seq, group }, this.#clock.now());
    this.schedulePump();
  }

  /** `worker` exited: the calls reserved for it (records being read, running state being written) go back to the queue. */
  requeueReserved(worker: WorkerHandle): void {
    const reserved = this.#pendingSend.get(worker);
    if (reserved) for (const active of [...reserved]) if (this.#live.active.get(active.entry.id) === active) this.requeue(active);
    this.#pendingSend.delete(worker);
    this.#load.forget(worker);
  }

  /** Breaker open, `onBreakerOpen: 'fail'` and no worker alive: every ready task fails with the breaker's error. */
  #failReady(error: Error, now: number): void {
    const entries: IndexEntry[] = [];
    for (let e = this.#index.next(now); e; e = this.#index.next(now)) entries.push(e);
    if (entries.length === 0) return;
    const data = serializeError(error);
    const apply = (records: (TaskRecord | undefined)[]) => {
      const changed: TaskRecord[] = [];
      for (const record of records) {
        if (!record || TERMINAL_STATUSES.has(record.status)) continue;
        failAttempt(record, data, this.#clock.now());
        changed.push(record);
      }
      this.#host.writes.persist(changed);
      for (const record of changed) this.#host.onFailed(record, { kind: 'fail' }, data);
    };
    const read = this.#host.store.read(entries.map((e) => e.id));
    if (Array.isArray(read)) apply(read);
    else read.then(apply, (e) => this.#host.warn(new StorageError('could not read tasks to fail them', { cause: e })));
  }

  /** `record` failed (already changed): persisted, then settled and told. */
  #fail(record: TaskRecord): void {
    this.#host.writes.persist([record]);
    this.#host.onFailed(record, { kind: 'fail' }, record.errors[record.errors.length - 1] as SerializedError);
  }

  /** Sets the wake timer for the next delayed task (none while paused). */
  armWake(now: number): void {
    const at = this.#host.paused() ? undefined : this.#index.nextWakeAt();
    if (at === undefined) {
      if (this.#wakeTimer) this.#clock.clearTimer(this.#wakeTimer);
      this.#wakeTimer = undefined;
      this.#wakeAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.#wakeTimer && this.#wakeAt <= at) return;
    if (this.#wakeTimer) this.#clock.clearTimer(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = this.#clock.setTimer(this.#onWake, at - now);
  }

  readonly #onReadBackoff = (): void => {
    this.#readBackoffTimer = undefined;
    this.pump();
  };

  readonly #onWake = (): void => {
    this.#wakeTimer = undefined;
    this.#wakeAt = Number.POSITIVE_INFINITY;
    this.pump();
  };

  /** On close: no more wake-ups. */
  stop(): void {
    if (this.#wakeTimer) this.#clock.clearTimer(this.#wakeTimer);
    this.#wakeTimer = undefined;
    if (this.#readBackoffTimer) this.#clock.clearTimer(this.#readBackoffTimer);
    this.#readBackoffTimer = undefined;
  }
}
