import { type Clock, systemClock } from './clock.js';
import { PREFETCH_AHEAD } from './engine/dispatcher.js';
import { taskInfo } from './engine/emitter.js';
import type { DispatchGate } from './engine/gates.js';
import { likelyFirst, resumeRuns } from './engine/resume-runs.js';
import { hasTags } from './engine/task-settings.js';
import { type EngineParts, wireEngine } from './engine/wiring.js';
import { CancelledError, SchedulerClosedError, serializeError } from './errors.js';
import { CountingEventTarget, type EventSink, type SchedulerEventMap, WarningEvent } from './events.js';
import type { MintedIds } from './id-run.js';
import type { Metrics } from './metrics.js';
import { acquireOwnerLock, liveOwners, type OwnerLock } from './owner-lock.js';
import type { Pool } from './pool.js';
import { planRecovery } from './recovery.js';
import type { ScheduleInfo, ScheduleSpec } from './schedule-types.js';
import type { EnqueueItem, LanesPeek, LeaderState, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';
import { CLOSE_KEYS, LIST_KEYS, type NormalizedOptions } from './scheduler-options.js';
import type { ListQuery, TaskStore } from './store.js';
import type { TaskHandle, TaskHandleHost } from './task-handle.js';
import { entryOf } from './task-index.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from './task-types.js';
import { type EnqueueOptions, type PriorityLevel, type PriorityName, type TaskInfo, TERMINAL_STATUSES } from './types.js';
import { checkKeys, checkNumber, checkObject, describe, normalizePriority } from './validate.js';

export type { EnqueueItem, LanesPeek, QueuePeek, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';

let schedulerCounter = 0;

/**
 * The engine of one tab: the public calls, routed to the parts `engine/wiring.ts` builds, and the
 * lifecycle (recovery on open, pause, resume, drain, close, hand-over to another tab).
 */
export class LocalScheduler<T extends TaskMap = TaskMap> extends CountingEventTarget<SchedulerEventMap> implements Scheduler<T> {
  readonly name: string;
  readonly #store: TaskStore;
  readonly #clock: Clock;
  readonly #pool: Pool;
  readonly #maxStalls: number;
  readonly #owner: string;
  readonly #parts: EngineParts;
  #ownerLock?: OwnerLock;
  #paused = false;
  #closing = false;
  #closed = false;
  #closePromise?: Promise<void>;
  #drainWaiters: (() => void)[] = [];
  /** Where events go and listeners are counted: this scheduler, or the multi-tab front that owns it. */
  readonly #sink: EventSink;
  #quietWaiters: (() => void)[] = [];

  /** Use `createScheduler`. `front`: the multi-tab front this engine serves (events and handles are its). */
  constructor(
    options: SchedulerOptions,
    normalized: NormalizedOptions,
    store: TaskStore,
    /** From `openEngine`, made before the store opened: its events reach this scheduler once it is built. */
    early: Pool,
    front?: { events: EventSink; handleHost: TaskHandleHost },
    gates: readonly DispatchGate[] = [],
  ) {
    super();
    const sink = (this.#sink = front?.events ?? this);
    this.name = options.name ?? 'tasklane';
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#maxStalls = normalized.maxStalls;
    this.#owner = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${(schedulerCounter++).toString(36)}`;
    this.#pool = early;
    this.#parts = wireEngine({
      name: this.name,
      store,
      clock: this.#clock,
      random: options.random ?? Math.random,
      normalized,
      pool: early,
      owner: this.#owner,
      sink,
      handleHost: front?.handleHost ?? this,
      gates,
      paused: () => this.#paused,
      closing: () => this.#closing,
      closed: () => this.#closed,
      checkDrained: () => this.#checkDrained(),
      get: (id) => this.get(id),
      cancel: (id, reason) => this.cancel(id, reason),
      has: (id) => this._has(id),
      state: () => (this.#closed || this.#closing ? 'closed' : this.#paused ? 'paused' : 'open'),
    });
  }

  /** @internal Recovery: live records return to the index in their original order. */
  async _open(): Promise<void> {
    // Hold our owner lock for life before looking at others': a `running` record whose owner holds
    // no lock was left by a tab that is gone.
    this.#ownerLock = await acquireOwnerLock(this.name, this.#owner);
    const store = this.#store;
    const [{ records, runs }, alive, keyed] = await Promise.all([
      store.recoverRuns ? store.recoverRuns() : store.recover().then((records) => ({ records, runs: [] })),
      liveOwners(this.name),
      store.recoverKeys?.(),
    ]);
    const now = this.#clock.now();
    if (keyed) this.#parts.finishedKeys.load(keyed, now);
    const ownerAlive = (owner: string) => owner === this.#owner || (alive?.has(owner) ?? false);
    const plan = planRecovery(records, now, { maxStalls: this.#maxStalls, ownerAlive });
    if (plan.changed.length) await this.#store.write(plan.changed);
    for (const record of records) this.#parts.admission.noteSeq(record.seq);
    const keys = this.#parts.live.keys;
    for (const record of plan.resume) {
      this.#parts.index.add(entryOf(record), now);
      if (record.key !== undefined) keys.set(record.key, record.id);
      if (hasTags(record)) this.#parts.gates.note(record.id, record);
    }
    for (const record of plan.waiting) {
      if (record.key !== undefined) keys.set(record.key, record.id);
      if (hasTags(record)) this.#parts.gates.note(record.id, record);
    }
    // The likely first tasks' records are read while the runs go back into the index.
    if (store.prefetch && runs.length > 0) store.prefetch(likelyFirst(runs, PREFETCH_AHEAD, now));
    await resumeRuns(
      {
        index: this.#parts.index,
        noteSeq: (seq) => this.#parts.admission.noteSeq(seq),
        keys,
        noteTags: (id, tags) => this.#parts.gates.note(id, tags),
      },
      runs,
      now,
    );
    // After the index: a dependency that is queued or running is live; only the others are read.
    await this.#parts.dependencies.recover(plan.waiting);
    this.#parts.counters.counts.failed += plan.failed.length;
    this.#parts.dispatcher.schedulePump();
    // Runs that fell due while no tab ran the queue are caught up after recovery, not awaited by it.
    this.#parts.schedules.open().catch((error) => this.#sink.dispatchEvent(new WarningEvent(error as Error)));
  }

  // ── work in ──────────────────────────────────────────────────────────────────────────────────

  enqueue<N extends TaskName<T>>(name: N, input: TaskInput<T, N>, options?: EnqueueOptions): Promise<TaskHandle<TaskOutput<T, N>>> {
    return this.#parts.admission.enqueue(name, input, options) as Promise<TaskHandle<TaskOutput<T, N>>>;
  }

  enqueueMany(items: readonly EnqueueItem<T>[]): Promise<string[]> {
    return this.#parts.admission.enqueueMany(items as readonly EnqueueItem<TaskMap>[]);
  }

  retry(id: string): Promise<TaskHandle> {
    return this.#parts.admission.retry(id);
  }

  schedule<N extends TaskName<T>>(id: string, name: N, input: TaskInput<T, N>, spec: ScheduleSpec): Promise<ScheduleInfo> {
    if (this.#closing) return Promise.reject(new SchedulerClosedError(`scheduler "${this.name}" is closed; schedule("${id}") rejected`));
    return this.#parts.schedules.schedule(id, name, input, spec);
  }

  unschedule(id: string): Promise<boolean> {
    return this.#parts.schedules.unschedule(id);
  }

  schedules(): Promise<ScheduleInfo[]> {
    return this.#parts.schedules.list();
  }

  // ── for the multi-tab front (src/tabs/): calls another tab made, handles it holds, hand-over ──

  /** @internal `enqueue` under an id a follower tab minted. */
  _enqueueAs(id: string, name: string, input: unknown, options: EnqueueOptions | undefined): Promise<TaskHandle> {
    return this.#parts.admission.enqueue(name, input, options, id);
  }

  /** @internal `enqueueMany` under ids a follower tab minted. */
  _enqueueManyAs(minted: MintedIds, items: readonly EnqueueItem<TaskMap>[]): Promise<string[]> {
    return this.#parts.admission.enqueueMany(items, minted);
  }

  /** @internal Whether a task with this id is live or stored: a call sent again after a change of leader is applied once. */
  async _has(id: string): Promise<boolean> {
    if (this.#parts.index.has(id) || this.#parts.live.active.has(id) || this.#parts.dependencies.has(id)) return true;
    const [record] = await this.#store.read([id]);
    return record !== undefined;
  }

  /**
   * @internal Handles this tab's callers held while another tab led become this engine's: a live
   * task's handle follows it from here, a finished one settles now. An id not stored yet (its
   * enqueue is about to be sent again) is followed too.
   */
  async _adopt(handles: readonly TaskHandle[]): Promise<void> {
    if (handles.length === 0) return;
    const records = await this.#store.read(handles.map((h) => h.id));
    handles.forEach((handle, i) => {
      if (!this.#parts.live.handles.has(handle.id)) this.#parts.live.follow(handle, records[i]);
    });
  }

  /** @internal Forgets a handle adopted for an enqueue that was then refused. */
  _forget(id: string): void {
    this.#parts.live.handles.delete(id);
  }

  /** Stops the parts, the workers and the store once what was committed is on disk; lets go of the owner lock. */
  async #shutDown(): Promise<void> {
    this.#closed = true;
    this.#parts.dispatcher.stop();
    this.#parts.watchdog.stop();
    this.#parts.gates.stop();
    this.#pool.close();
    // A store that holds state changes (`persist`: commits failing on quota) is closed first: it
    // gives them a last try and settles them, so `committed` settles too.
    const storeClosed = this.#store.persist ? this.#store.close() : undefined;
    await this.#parts.writes.committed;
    await (storeClosed ?? this.#store.close());
    this.#ownerLock?.release();
  }

  /**
   * @internal Hands the queue to the next tab: accepts nothing more, starts nothing more, lets
   * what runs finish (each within its timeout), commits, and closes without cancelling anything:
   * queued tasks stay stored for the next leader. Handles still waiting reject with
   * `SchedulerClosedError`: their tasks go on in the other tab.
   */
  _handOver(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closing = true;
    this.#parts.schedules.stop();
    this.#paused = true;
    this.#sink.dispatchEvent(new Event('state'));
    this.#closePromise = (async () => {
      if (!this.#isQuiet()) await new Promise<void>((resolve) => this.#quietWaiters.push(resolve));
      await this.#shutDown();
      const error = new SchedulerClosedError(`scheduler "${this.name}" handed the queue to another tab, where this task goes on`);
      for (const handle of [...this.#parts.live.handles.values()]) {
        handle._stage(handle.status, false, error);
        handle._settle();
      }
      this.#parts.live.handles.clear();
      for (const w of this.#drainWaiters) w();
      this.#drainWaiters = [];
      this.#sink.dispatchEvent(new Event('state'));
    })();
    return this.#closePromise;
  }

  // ── commands on one task ──────────────────────────────────────────────────────────────────────

  async cancel(id: string, reason = 'cancelled'): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    if (typeof reason !== 'string') throw new TypeError(`Expected reason to be a string, got ${describe(reason)}`);
    return this.#parts.cancellation.cancel(id, reason);
  }

  async reprioritize(id: string, priority: PriorityName | PriorityLevel): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const level = normalizePriority(priority);
    const entry = this.#parts.index.get(id);
    // A waiting task moves where it will join the queue; its record follows with its next write.
    if (!entry) return this.#parts.dependencies.reprioritize(id, level);
    if (entry.priority === level) return true;
    this.#parts.index.remove(id);
    const { name, readyAt, seq, group } = entry;
    this.#parts.index.add({ id, name, priority: level, readyAt, seq, group }, this.#clock.now());
    this.#parts.dispatcher.schedulePump();
    await this.#parts.edits.edit(id, async () => {
      const [record] = await this.#store.read([id]);
      if (record && (record.status === 'queued' || record.status === 'retrying')) {
        record.priority = level;
        this.#parts.writes.persist([record]);
        this.#parts.emitter.task('reprioritized', record);
      }
    });
    return true;
  }

  async discard(id: string): Promise<boolean> {
    if (this.#closed) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; discard(${id}) rejected`);
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const live = () => this.#parts.index.has(id) || this.#parts.live.active.has(id) || this.#parts.dependencies.has(id);
    if (live()) throw new TypeError(`Expected task ${id} to be finished to discard it, got a live task (cancel it first)`);
    const [record] = await this.#store.read([id]);
    if (!record) return false;
    if (!TERMINAL_STATUSES.has(record.status) || live())
      throw new TypeError(`Expected task ${id} to be completed, failed, cancelled or skipped to discard it, got status "${record.status}"`);
    await this.#store.remove([id]);
    return true;
  }

  // ── reading ───────────────────────────────────────────────────────────────────────────────────

  async get(id: string): Promise<TaskHandle | undefined> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const live = this.#parts.live;
    const handle = live.handles.get(id);
    if (handle) return handle;
    const active = live.active.get(id);
    if (active?.record) return live.handleFor(active.record);
    const [record] = await this.#store.read([id]);
    return record ? live.handleFor(record) : undefined;
  }

  async inspect(id: string): Promise<TaskInfo | undefined> {
    const [record] = await this.#store.read([id]);
    return record ? { ...taskInfo(record), input: record.input } : undefined;
  }

  async list(query: ListQuery = {}): Promise<TaskInfo[]> {
    const q = (checkObject('query', query) ?? {}) as ListQuery;
    checkKeys('query', q, LIST_KEYS);
    if (q.limit !== undefined) checkNumber('limit', q.limit, 0, true);
    const records = await this.#store.list(q);
    return records.map(taskInfo);
  }

  peekLanes(limit = 3): LanesPeek {
    checkNumber('limit', limit, 0, true);
    return this.#parts.stats.peekLanes(limit);
  }

  workers(): WorkerInfo[] {
    return this.#parts.stats.workers();
  }

  metrics(): Metrics {
    return this.#parts.stats.metrics();
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────────

  get paused(): boolean {
    return this.#paused;
  }

  get closed(): boolean {
    return this.#closing;
  }

  readonly #leader: LeaderState = { thisTab: true, since: Date.now(), shared: false };

  get leader(): LeaderState {
    return this.#leader;
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#parts.dispatcher.armWake(this.#clock.now());
    this.#sink.dispatchEvent(new Event('state'));
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#sink.dispatchEvent(new Event('state'));
    this.#parts.dispatcher.schedulePump();
  }

  resize(options: { max?: number; min?: number }): void {
    this.#pool.resize((checkObject('options', options) ?? {}) as { max?: number; min?: number });
  }

  /** Nothing running, being admitted or waiting to be told: what a hand-over waits for. */
  #isQuiet(): boolean {
    return this.#parts.live.active.size === 0 && this.#parts.admission.inFlight === 0 && this.#parts.tells.pending === 0;
  }

  #isIdle(): boolean {
    return (
      this.#parts.index.size === 0 &&
      this.#parts.live.active.size === 0 &&
      this.#parts.dependencies.size === 0 &&
      this.#parts.admission.inFlight === 0 &&
      this.#parts.tells.pending === 0
    );
  }

  #checkDrained(): void {
    if (this.#quietWaiters.length > 0 && this.#isQuiet()) {
      const waiters = this.#quietWaiters;
      this.#quietWaiters = [];
      for (const w of waiters) w();
    }
    if (this.#drainWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    try {
      const o = checkObject('options', options) ?? {};
      checkKeys('', o, CLOSE_KEYS);
      if (o.drain !== undefined && typeof o.drain !== 'boolean')
        throw new TypeError(`Expected drain to be a boolean, got ${describe(o.drain)}`);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closePromise) return this.#closePromise;
    const drain = options.drain ?? true;
    this.#closing = true;
    this.#parts.schedules.stop();
    this.#sink.dispatchEvent(new Event('state'));
    this.#closePromise = (async () => {
      if (drain) {
        this.resume();
        await this.drain();
      } else {
        await this.#parts.cancellation.cancelEverything(
          serializeError(new CancelledError(`scheduler "${this.name}" closed without draining`)),
        );
      }
      await this.#shutDown();
      this.#sink.dispatchEvent(new Event('state'));
    })();
    return this.#closePromise;
  }
}
