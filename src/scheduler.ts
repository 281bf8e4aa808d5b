import { type Clock, systemClock } from './clock.js';
import { Admission } from './engine/admission.js';
import { Cancellation } from './engine/cancellation.js';
import { Dependencies } from './engine/dependencies.js';
import { Dispatcher, PREFETCH_AHEAD } from './engine/dispatcher.js';
import { Emitter, taskInfo } from './engine/emitter.js';
import { FinishedKeys } from './engine/finished-keys.js';
import { GateSet } from './engine/gate-set.js';
import type { DispatchGate } from './engine/gates.js';
import type { Limits } from './engine/limits.js';
import { LiveTasks } from './engine/live-tasks.js';
import { LoadModel } from './engine/load-model.js';
import { Outcomes } from './engine/outcomes.js';
import { RecordEdits } from './engine/record-edits.js';
import { likelyFirst, resumeRuns } from './engine/resume-runs.js';
import { RetentionTrim } from './engine/retention-trim.js';
import { Schedules } from './engine/schedules.js';
import { Stats } from './engine/stats.js';
import { hasTags } from './engine/task-settings.js';
import { Tells } from './engine/tells.js';
import { Watchdog } from './engine/watchdog.js';
import { WriteQueue } from './engine/write-queue.js';
import { CancelledError, SchedulerClosedError, serializeError } from './errors.js';
import { CountingEventTarget, type EventSink, type SchedulerEventMap, WarningEvent } from './events.js';
import type { MintedIds } from './id-run.js';
import { Counters, type Metrics } from './metrics.js';
import { acquireOwnerLock, liveOwners, type OwnerLock } from './owner-lock.js';
import type { Pool } from './pool.js';
import { planRecovery } from './recovery.js';
import type { ScheduleInfo, ScheduleSpec } from './schedule-types.js';
import type { EnqueueItem, LanesPeek, LeaderState, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';
import { CLOSE_KEYS, LIST_KEYS, type NormalizedOptions } from './scheduler-options.js';
import { type ListQuery, scheduleStoreOf, type TaskStore } from './store.js';
import type { TaskHandle, TaskHandleHost } from './task-handle.js';
import { entryOf, TaskIndex } from './task-index.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from './task-types.js';
import { type EnqueueOptions, type PriorityLevel, type PriorityName, type TaskInfo, TERMINAL_STATUSES } from './types.js';
import { checkKeys, checkNumber, checkObject, describe, normalizePriority } from './validate.js';

export type { EnqueueItem, LanesPeek, QueuePeek, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';

let schedulerCounter = 0;

/**
 * The engine of one tab: wires the parts in `engine/` and owns the lifecycle (recovery on open,
 * pause, resume, drain, close). Data flows one way: admission → write queue → index → dispatcher →
 * worker → outcomes → write queue → tells (settles and events, after their commit).
 */
export class LocalScheduler<T extends TaskMap = TaskMap> extends CountingEventTarget<SchedulerEventMap> implements Scheduler<T> {
  readonly name: string;
  readonly #store: TaskStore;
  readonly #clock: Clock;
  readonly #pool: Pool;
  readonly #index: TaskIndex;
  readonly #counters = new Counters();
  readonly #maxStalls: number;
  readonly #owner: string;
  readonly #writes: WriteQueue;
  readonly #tells: Tells;
  readonly #emitter: Emitter;
  readonly #live: LiveTasks;
  readonly #dispatcher: Dispatcher;
  readonly #watchdog: Watchdog;
  readonly #outcomes: Outcomes;
  readonly #cancellation: Cancellation;
  readonly #admission: Admission;
  readonly #dependencies: Dependencies;
  readonly #gates: GateSet;
  readonly #schedules: Schedules;
  readonly #stats: Stats;
  readonly #finishedKeys = new FinishedKeys();
  readonly #edits = new RecordEdits();
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
    const clock = (this.#clock = options.clock ?? systemClock);
    const random = options.random ?? Math.random;
    const { defaults, retention, maxQueued } = normalized;
    this.#maxStalls = normalized.maxStalls;
    // With limits, index entries carry their task's group: the gate reads it there.
    this.#index = new TaskIndex(normalized.agingMs, normalized.limits !== undefined);
    const owner = (this.#owner = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${(schedulerCounter++).toString(36)}`);
    const pool = (this.#pool = early);
    const index = this.#index;
    const counters = this.#counters;
    const warn = (error: Error) => sink.dispatchEvent(new WarningEvent(error));
    const checkDrained = () => this.#checkDrained();
    const closed = () => this.#closed;
    const writes = (this.#writes = new WriteQueue({ store, warn }));
    const live: LiveTasks = (this.#live = new LiveTasks({
      handleHost: front?.handleHost ?? this,
      get tells() {
        return tells;
      },
      onSettled: (record) => {
        finishedKeys.note(record);
        dependencies.finished(record);
        gateSet.finished(record.id);
        trim.noteFinished();
        this.#checkDrained();
      },
    }));
    const tells = (this.#tells = new Tells({
      writes,
      handles: live.handles,
      dispatchEvent: (event) => sink.dispatchEvent(event),
      onDelivered: checkDrained,
    }));
    const emitter = (this.#emitter = new Emitter(sink, tells));
    const finishedKeys = this.#finishedKeys;
    const trim = new RetentionTrim({ store, limits: retention, clock, closed, warn });
    const load = new LoadModel();
    const gateSet = (this.#gates = new GateSet(
      {
        clock,
        index,
        running: (id) => live.active.has(id),
        // `markStarted` sets `notifiedStart` before the gate is told of the start.
        unstarted: (id) => {
          const active = live.active.get(id);
          return active !== undefined && active.notifiedStart !== true;
        },
        schedulePump: () => dispatcher.schedulePump(),
      },
      normalized.limits,
      gates,
    ));
    const dispatcher = (this.#dispatcher = new Dispatcher({
      clock,
      store,
      index,
      live,
      load,
      writes,
      pool,
      gates: gateSet.list,
      owner,
      paused: () => this.#paused,
      closed,
      hold: () => tells.hold(),
      release: () => tells.release(),
      warn,
      onBusy: (worker, taskId) => emitter.worker(worker.id, 'busy', taskId),
      onSent: (worker) => watchdog.noteHead(worker),
      onFailed: (record, failure, error) => outcomes_.afterFailure(record, failure, error),
      onCancelled: (record, error) => cancellation.cancelled(record, error),
      checkDrained,
    }));
    const watchdog = (this.#watchdog = new Watchdog({
      clock,
      active: live.active,
      pool,
      onStarted: (active, startedAt) => outcomes_.markStarted(active, startedAt),
      onTimeout: (worker, call) => outcomes_.onTimeout(worker, call),
      schedulePump: () => dispatcher.schedulePump(),
    }));
    const outcomes_ = (this.#outcomes = new Outcomes({
      clock,
      random,
      index,
      live,
      load,
      counters,
      writes,
      tells,
      emitter,
      pool,
      dispatcher,
      watchdog,
      started: gateSet.limits ? (active, at) => gateSet.started(active.entry.id, active.entry.group ?? active.entry.name, at) : undefined,
      rateLimited: (record, until) => gateSet.rateLimited(record, until),
      offline: (record) => gateSet.offline(record),
    }));
    // Tasks with dependencies wait here, outside the index, and join it once released: see the
    // note at the top of engine/dependencies.ts for why this is not a dispatch gate.
    const dependencies = (this.#dependencies = new Dependencies({
      clock,
      store,
      index,
      live,
      counters,
      writes,
      emitter,
      queuedOrRunning: (id) => index.has(id) || live.active.has(id),
      schedulePump: () => dispatcher.schedulePump(),
    }));
    const cancellation = (this.#cancellation = new Cancellation({
      clock,
      store,
      index,
      live,
      counters,
      writes,
      emitter,
      watchdog,
      dispatcher,
      waiting: dependencies,
    }));
    this.#admission = new Admission({
      name: this.name,
      clock,
      store,
      index,
      live,
      counters,
      writes,
      emitter,
      finishedKeys,
      edits: this.#edits,
      dependencies,
      tags: gateSet,
      pool,
      defaults,
      maxQueued,
      idPrefix: `${owner}-`,
      closing: () => this.#closing,
      schedulePump: () => dispatcher.schedulePump(),
      checkDrained,
      get: (id) => this.get(id),
      cancel: (id, reason) => this.cancel(id, reason),
    });
    const admission = this.#admission;
    this.#schedules = new Schedules({
      clock,
      store: scheduleStoreOf(store),
      defaults,
      checkName: (name) => admission.checkName(name),
      has: (id) => this._has(id),
      enqueue: (id, name, input, options) => admission.enqueue(name, input, options, id),
      warn,
      changed: () => sink.dispatchEvent(new Event('schedules')),
    });
    this.#stats = new Stats({
      clock,
      index,
      active: live.active,
      pool,
      counters,
      store,
      waiting: () => dependencies.size,
      groups: gateSet.limits ? (now) => (gateSet.limits as Limits).groups(now) : undefined,
      state: () => (this.#closed || this.#closing ? 'closed' : this.#paused ? 'paused' : 'open'),
    });
    // Last: what the pool told while storage was read reaches parts that now exist.
    pool.bind({
      onReady: () => dispatcher.schedulePump(),
      onCapacity: () => dispatcher.schedulePump(),
      onWorkerState: (h, state, error) => emitter.worker(h.id, state, undefined, error),
      onBreakerOpen: (error) => {
        sink.dispatchEvent(new WarningEvent(error));
        dispatcher.schedulePump();
      },
      onOutcomes: (h, outcomes, now) => outcomes_.onOutcomes(h, outcomes, now),
      onProgress: (_h, call, value) => outcomes_.onProgress(call, value),
      onExit: (h, error, calls) => outcomes_.onExit(h, error, calls),
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
    if (keyed) this.#finishedKeys.load(keyed, now);
    const ownerAlive = (owner: string) => owner === this.#owner || (alive?.has(owner) ?? false);
    const plan = planRecovery(records, now, { maxStalls: this.#maxStalls, ownerAlive });
    if (plan.changed.length) await this.#store.write(plan.changed);
    for (const record of records) this.#admission.noteSeq(record.seq);
    const keys = this.#live.keys;
    for (const record of plan.resume) {
      this.#index.add(entryOf(record), now);
      if (record.key !== undefined) keys.set(record.key, record.id);
      if (hasTags(record)) this.#gates.note(record.id, record);
    }
    for (const record of plan.waiting) {
      if (record.key !== undefined) keys.set(record.key, record.id);
      if (hasTags(record)) this.#gates.note(record.id, record);
    }
    // The likely first tasks' records are read while the runs go back into the index.
    if (store.prefetch && runs.length > 0) store.prefetch(likelyFirst(runs, PREFETCH_AHEAD, now));
    await resumeRuns(
      { index: this.#index, noteSeq: (seq) => this.#admission.noteSeq(seq), keys, noteTags: (id, tags) => this.#gates.note(id, tags) },
      runs,
      now,
    );
    // After the index: a dependency that is queued or running is live; only the others are read.
    await this.#dependencies.recover(plan.waiting);
    this.#counters.counts.failed += plan.failed.length;
    this.#dispatcher.schedulePump();
    // Runs that fell due while no tab ran the queue are caught up after recovery, not awaited by it.
    this.#schedules.open().catch((error) => this.#sink.dispatchEvent(new WarningEvent(error as Error)));
  }

  // ── work in ──────────────────────────────────────────────────────────────────────────────────

  enqueue<N extends TaskName<T>>(name: N, input: TaskInput<T, N>, options?: EnqueueOptions): Promise<TaskHandle<TaskOutput<T, N>>> {
    return this.#admission.enqueue(name, input, options) as Promise<TaskHandle<TaskOutput<T, N>>>;
  }

  enqueueMany(items: readonly EnqueueItem<T>[]): Promise<string[]> {
    return this.#admission.enqueueMany(items as readonly EnqueueItem<TaskMap>[]);
  }

  retry(id: string): Promise<TaskHandle> {
    return this.#admission.retry(id);
  }

  schedule<N extends TaskName<T>>(id: string, name: N, input: TaskInput<T, N>, spec: ScheduleSpec): Promise<ScheduleInfo> {
    if (this.#closing) return Promise.reject(new SchedulerClosedError(`scheduler "${this.name}" is closed; schedule("${id}") rejected`));
    return this.#schedules.schedule(id, name, input, spec);
  }

  unschedule(id: string): Promise<boolean> {
    return this.#schedules.unschedule(id);
  }

  schedules(): Promise<ScheduleInfo[]> {
    return this.#schedules.list();
  }

  // ── for the multi-tab front (src/tabs/): calls another tab made, handles it holds, hand-over ──

  /** @internal `enqueue` under an id a follower tab minted. */
  _enqueueAs(id: string, name: string, input: unknown, options: EnqueueOptions | undefined): Promise<TaskHandle> {
    return this.#admission.enqueue(name, input, options, id);
  }

  /** @internal `enqueueMany` under ids a follower tab minted. */
  _enqueueManyAs(minted: MintedIds, items: readonly EnqueueItem<TaskMap>[]): Promise<string[]> {
    return this.#admission.enqueueMany(items, minted);
  }

  /** @internal Whether a task with this id is live or stored: a call sent again after a change of leader is applied once. */
  async _has(id: string): Promise<boolean> {
    if (this.#index.has(id) || this.#live.active.has(id) || this.#dependencies.has(id)) return true;
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
      if (!this.#live.handles.has(handle.id)) this.#live.follow(handle, records[i]);
    });
  }

  /** @internal Forgets a handle adopted for an enqueue that was then refused. */
  _forget(id: string): void {
    this.#live.handles.delete(id);
  }

  /** Stops the parts, the workers and the store once what was committed is on disk; lets go of the owner lock. */
  async #shutDown(): Promise<void> {
    this.#closed = true;
    this.#dispatcher.stop();
    this.#watchdog.stop();
    this.#gates.stop();
    this.#pool.close();
    // A store that holds state changes (`persist`: commits failing on quota) is closed first: it
    // gives them a last try and settles them, so `committed` settles too.
    const storeClosed = this.#store.persist ? this.#store.close() : undefined;
    await this.#writes.committed;
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
    this.#schedules.stop();
    this.#paused = true;
    this.#sink.dispatchEvent(new Event('state'));
    this.#closePromise = (async () => {
      if (!this.#isQuiet()) await new Promise<void>((resolve) => this.#quietWaiters.push(resolve));
      await this.#shutDown();
      const error = new SchedulerClosedError(`scheduler "${this.name}" handed the queue to another tab, where this task goes on`);
      for (const handle of [...this.#live.handles.values()]) {
        handle._stage(handle.status, false, error);
        handle._settle();
      }
      this.#live.handles.clear();
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
    return this.#cancellation.cancel(id, reason);
  }

  async reprioritize(id: string, priority: PriorityName | PriorityLevel): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const level = normalizePriority(priority);
    const entry = this.#index.get(id);
    // A waiting task moves where it will join the queue; its record follows with its next write.
    if (!entry) return this.#dependencies.reprioritize(id, level);
    if (entry.priority === level) return true;
    this.#index.remove(id);
    const { name, readyAt, seq, group } = entry;
    this.#index.add({ id, name, priority: level, readyAt, seq, group }, this.#clock.now());
    this.#dispatcher.schedulePump();
    await this.#edits.edit(id, async () => {
      const [record] = await this.#store.read([id]);
      if (record && (record.status === 'queued' || record.status === 'retrying')) {
        record.priority = level;
        this.#writes.persist([record]);
        this.#emitter.task('reprioritized', record);
      }
    });
    return true;
  }

  async discard(id: string): Promise<boolean> {
    if (this.#closed) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; discard(${id}) rejected`);
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const live = () => this.#index.has(id) || this.#live.active.has(id) || this.#dependencies.has(id);
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
    const live = this.#live;
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
    return this.#stats.peekLanes(limit);
  }

  workers(): WorkerInfo[] {
    return this.#stats.workers();
  }

  metrics(): Metrics {
    return this.#stats.metrics();
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
    this.#dispatcher.armWake(this.#clock.now());
    this.#sink.dispatchEvent(new Event('state'));
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#sink.dispatchEvent(new Event('state'));
    this.#dispatcher.schedulePump();
  }

  resize(options: { max?: number; min?: number }): void {
    this.#pool.resize((checkObject('options', options) ?? {}) as { max?: number; min?: number });
  }

  /** Nothing running, being admitted or waiting to be told: what a hand-over waits for. */
  #isQuiet(): boolean {
    return this.#live.active.size === 0 && this.#admission.inFlight === 0 && this.#tells.pending === 0;
  }

  #isIdle(): boolean {
    return (
      this.#index.size === 0 &&
      this.#live.active.size === 0 &&
      this.#dependencies.size === 0 &&
      this.#admission.inFlight === 0 &&
      this.#tells.pending === 0
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
    this.#schedules.stop();
    this.#sink.dispatchEvent(new Event('state'));
    this.#closePromise = (async () => {
      if (drain) {
        this.resume();
        await this.drain();
      } else {
        await this.#cancellation.cancelEverything(serializeError(new CancelledError(`scheduler "${this.name}" closed without draining`)));
      }
      await this.#shutDown();
      this.#sink.dispatchEvent(new Event('state'));
    })();
    return this.#closePromise;
  }
}
