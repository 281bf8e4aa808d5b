import { DEFAULT_BACKOFF } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { Admission } from './engine/admission.js';
import { Cancellation } from './engine/cancellation.js';
import { Dispatcher } from './engine/dispatcher.js';
import { Emitter, taskInfo } from './engine/emitter.js';
import type { DispatchGate } from './engine/gates.js';
import { LiveTasks } from './engine/live-tasks.js';
import { LoadModel } from './engine/load-model.js';
import { Outcomes } from './engine/outcomes.js';
import { RetentionTrim } from './engine/retention-trim.js';
import { Stats } from './engine/stats.js';
import type { NormalizedDefaults } from './engine/task-settings.js';
import { Tells } from './engine/tells.js';
import { Watchdog } from './engine/watchdog.js';
import { WriteQueue } from './engine/write-queue.js';
import { assertSchedulerEnvironment } from './environment.js';
import { CancelledError, SchedulerClosedError, serializeError } from './errors.js';
import { CountingEventTarget, type SchedulerEventMap, WarningEvent } from './events.js';
import { Counters, type Metrics } from './metrics.js';
import { openStore } from './open-store.js';
import { acquireOwnerLock, liveOwners, type OwnerLock } from './owner-lock.js';
import { type NormalizedPoolOptions, normalizePoolOptions, Pool } from './pool.js';
import { planRecovery } from './recovery.js';
import type { EnqueueItem, LanesPeek, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';
import type { ListQuery, TaskStore } from './store.js';
import type { TaskHandle } from './task-handle.js';
import { entryOf, TaskIndex } from './task-index.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from './task-types.js';
import {
  type EnqueueOptions,
  type PriorityLevel,
  type PriorityName,
  type RetentionOptions,
  type TaskDefaults,
  type TaskInfo,
  TERMINAL_STATUSES,
} from './types.js';
import {
  checkKeys,
  checkNumber,
  checkObject,
  checkOptionalNumber,
  describe,
  normalizePriority,
  normalizeRetry,
  optionKeys,
} from './validate.js';

export type { EnqueueItem, LanesPeek, QueuePeek, Scheduler, SchedulerOptions, WorkerInfo } from './scheduler-api.js';

let schedulerCounter = 0;

const SCHEDULER_KEYS = optionKeys<SchedulerOptions>({
  name: true,
  worker: true,
  store: true,
  durability: true,
  pool: true,
  defaults: true,
  retention: true,
  maxQueued: true,
  maxStalls: true,
  clock: true,
  random: true,
});
/** Scheduler options of the public contract that are not built yet: refused, never ignored. */
const SCHEDULER_NOT_YET: Readonly<Record<string, string>> = {
  limits: 'limits groups are not supported yet',
  agingMs: 'aging is not supported yet',
};
const DEFAULTS_KEYS = optionKeys<TaskDefaults>({ timeoutMs: true, retry: true, priority: true });
const RETENTION_KEYS = optionKeys<RetentionOptions>({ completed: true, failed: true });
const LIST_KEYS = optionKeys<ListQuery>({ status: true, name: true, limit: true });
const CLOSE_KEYS = optionKeys<{ drain?: boolean }>({ drain: true });

/** `createScheduler`'s options, validated before anything is opened. */
interface NormalizedOptions {
  defaults: NormalizedDefaults;
  retention: { completed: number; failed: number };
  pool: NormalizedPoolOptions;
  maxQueued: number;
  maxStalls: number;
}

function normalizeOptions(options: SchedulerOptions): NormalizedOptions {
  checkKeys('', options, SCHEDULER_KEYS, SCHEDULER_NOT_YET);
  const d = (checkObject('defaults', options.defaults) ?? {}) as TaskDefaults;
  checkKeys('defaults', d, DEFAULTS_KEYS);
  const r = (checkObject('retention', options.retention) ?? {}) as RetentionOptions;
  checkKeys('retention', r, RETENTION_KEYS);
  return {
    defaults: {
      timeoutMs: checkOptionalNumber('defaults.timeoutMs', d.timeoutMs, 30_000),
      retry: normalizeRetry(d.retry, { stored: { attempts: 3, backoff: DEFAULT_BACKOFF } }, 'defaults.retry'),
      priority: d.priority === undefined ? 2 : normalizePriority(d.priority, 'defaults.priority'),
    },
    retention: {
      completed: checkOptionalNumber('retention.completed', r.completed, 1_000, 0, true),
      failed: checkOptionalNumber('retention.failed', r.failed, 10_000, 0, true),
    },
    pool: normalizePoolOptions(options.pool),
    maxQueued: options.maxQueued === undefined ? Number.POSITIVE_INFINITY : checkNumber('maxQueued', options.maxQueued, 1, true),
    maxStalls: checkOptionalNumber('maxStalls', options.maxStalls, 1, 0, true),
  };
}

/**
 * The engine of one tab: wires the parts in `engine/` and owns the lifecycle (recovery on open,
 * pause, resume, drain, close). Data flows one way: admission → write queue → index → dispatcher →
 * worker → outcomes → write queue → tells (settles and events, after their commit).
 */
class LocalScheduler<T extends TaskMap = TaskMap> extends CountingEventTarget<SchedulerEventMap> implements Scheduler<T> {
  readonly name: string;
  readonly #store: TaskStore;
  readonly #clock: Clock;
  readonly #pool: Pool;
  readonly #index = new TaskIndex();
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
  readonly #stats: Stats;
  #ownerLock?: OwnerLock;
  #paused = false;
  #closing = false;
  #closed = false;
  #closePromise?: Promise<void>;
  #drainWaiters: (() => void)[] = [];

  /** Use `createScheduler`. */
  constructor(options: SchedulerOptions, normalized: NormalizedOptions, store: TaskStore, gates: readonly DispatchGate[] = []) {
    super();
    this.name = options.name ?? 'tasklane';
    this.#store = store;
    const clock = (this.#clock = options.clock ?? systemClock);
    const random = options.random ?? Math.random;
    const { defaults, retention, maxQueued } = normalized;
    this.#maxStalls = normalized.maxStalls;
    const owner = (this.#owner = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${(schedulerCounter++).toString(36)}`);
    const pool = (this.#pool = new Pool(
      options.worker,
      normalized.pool,
      {
        onReady: () => dispatcher.schedulePump(),
        onCapacity: () => dispatcher.schedulePump(),
        onWorkerState: (h, state, error) => emitter.worker(h.id, state, undefined, error),
        onBreakerOpen: (error) => {
          this.dispatchEvent(new WarningEvent(error));
          dispatcher.schedulePump();
        },
        onOutcomes: (h, outcomes, now) => outcomes_.onOutcomes(h, outcomes, now),
        onProgress: (_h, call, value) => outcomes_.onProgress(call, value),
        onExit: (h, error, calls) => outcomes_.onExit(h, error, calls),
      },
      clock,
    ));
    const index = this.#index;
    const counters = this.#counters;
    const warn = (error: Error) => this.dispatchEvent(new WarningEvent(error));
    const checkDrained = () => this.#checkDrained();
    const closed = () => this.#closed;
    const writes = (this.#writes = new WriteQueue({ store, warn }));
    const live: LiveTasks = (this.#live = new LiveTasks({
      handleHost: this,
      get tells() {
        return tells;
      },
      onSettled: () => {
        trim.noteFinished();
        this.#checkDrained();
      },
    }));
    const tells = (this.#tells = new Tells({
      writes,
      handles: live.handles,
      dispatchEvent: (event) => this.dispatchEvent(event),
      onDelivered: checkDrained,
    }));
    const emitter = (this.#emitter = new Emitter(
      { listens: (type) => this.listens(type), dispatchEvent: (event) => this.dispatchEvent(event) },
      tells,
    ));
    const trim = new RetentionTrim({ store, limits: retention, closed, warn });
    const load = new LoadModel();
    const dispatcher = (this.#dispatcher = new Dispatcher({
      clock,
      store,
      index,
      live,
      load,
      writes,
      pool,
      gates,
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
    this.#stats = new Stats({
      clock,
      index,
      active: live.active,
      pool,
      counters,
      state: () => (this.#closed || this.#closing ? 'closed' : this.#paused ? 'paused' : 'open'),
    });
  }

  /** @internal Recovery: live records return to the index in their original order. */
  async _open(): Promise<void> {
    // Hold our owner lock for life before looking at others': a `running` record whose owner holds
    // no lock was left by a tab that is gone.
    this.#ownerLock = await acquireOwnerLock(this.name, this.#owner);
    const [records, alive] = await Promise.all([this.#store.recover(), liveOwners(this.name)]);
    const now = this.#clock.now();
    const ownerAlive = (owner: string) => owner === this.#owner || (alive?.has(owner) ?? false);
    const plan = planRecovery(records, now, { maxStalls: this.#maxStalls, ownerAlive });
    if (plan.changed.length) await this.#store.write(plan.changed);
    for (const record of records) this.#admission.noteSeq(record.seq);
    const keys = this.#live.keys;
    for (const record of plan.resume) {
      this.#index.add(entryOf(record), now);
      if (record.key !== undefined) keys.set(record.key, record.id);
    }
    this.#counters.counts.failed += plan.failed.length;
    // Start loading the module now, so its task names are known early (enqueue checks them once known, never waits for them).
    void this.#pool.taskNames();
    this.#dispatcher.schedulePump();
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

  // ── commands on one task ──────────────────────────────────────────────────────────────────────

  async cancel(id: string, reason = 'cancelled'): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    return this.#cancellation.cancel(id, reason);
  }

  async reprioritize(id: string, priority: PriorityName | PriorityLevel): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const level = normalizePriority(priority);
    const entry = this.#index.get(id);
    if (!entry) return false;
    if (entry.priority === level) return true;
    this.#index.remove(id);
    const { name, readyAt, seq } = entry;
    this.#index.add({ id, name, priority: level, readyAt, seq }, this.#clock.now());
    this.#dispatcher.schedulePump();
    const [record] = await this.#store.read([id]);
    if (record && (record.status === 'queued' || record.status === 'retrying')) {
      record.priority = level;
      this.#writes.persist([record]);
      this.#emitter.task('reprioritized', record);
    }
    return true;
  }

  async discard(id: string): Promise<boolean> {
    if (this.#closed) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; discard(${id}) rejected`);
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const live = () => this.#index.has(id) || this.#live.active.has(id);
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

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#dispatcher.armWake(this.#clock.now());
    this.dispatchEvent(new Event('state'));
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.dispatchEvent(new Event('state'));
    this.#dispatcher.schedulePump();
  }

  resize(options: { max?: number; min?: number }): void {
    this.#pool.resize((checkObject('options', options) ?? {}) as { max?: number; min?: number });
  }

  #isIdle(): boolean {
    return this.#index.size === 0 && this.#live.active.size === 0 && this.#admission.inFlight === 0 && this.#tells.pending === 0;
  }

  #checkDrained(): void {
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
    this.dispatchEvent(new Event('state'));
    this.#closePromise = (async () => {
      if (drain) {
        this.resume();
        await this.drain();
      } else {
        await this.#cancellation.cancelEverything(serializeError(new CancelledError(`scheduler "${this.name}" closed without draining`)));
      }
      this.#closed = true;
      this.#dispatcher.stop();
      this.#watchdog.stop();
      this.#pool.close();
      await this.#writes.committed;
      await this.#store.close();
      this.#ownerLock?.release();
      this.dispatchEvent(new Event('state'));
    })();
    return this.#closePromise;
  }
}

/**
 * Creates a scheduler and recovers its stored tasks.
 *
 * @example
 * import type { Tasks } from './tasks.worker';
 * const scheduler = await createScheduler<Tasks>({
 *   worker: () => new Worker(new URL('./tasks.worker.ts', import.meta.url), { type: 'module' }),
 * });
 * const task = await scheduler.enqueue('thumbnail', { blob, size: 128 }, { priority: 'high' });
 * const bitmap = await task.result;
 */
export async function createScheduler<T extends TaskMap = TaskMap>(options: SchedulerOptions): Promise<Scheduler<T>> {
  assertSchedulerEnvironment();
  const o = checkObject('options', options) as SchedulerOptions | undefined;
  if (!o) throw new TypeError('Expected options to be an object, got undefined');
  if (typeof o.worker !== 'function')
    throw new TypeError(`Expected options.worker to be a function returning a Worker, got ${describe(o.worker)}`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === ''))
    throw new TypeError(`Expected options.name to be a non-empty string, got ${describe(o.name)}`);
  // Warnings raised while opening (a memory fallback, corrupt records) wait one macrotask, so a
  // listener added right after `await createScheduler(…)` hears them.
  let scheduler: LocalScheduler<T> | undefined;
  let early: Error[] | undefined = [];
  const warn = (error: Error) => (early ? early.push(error) : scheduler?.dispatchEvent(new WarningEvent(error)));
  const normalized = normalizeOptions(o);
  const store = await openStore({ name: o.name ?? 'tasklane', store: o.store, durability: o.durability }, warn);
  scheduler = new LocalScheduler<T>(o, normalized, store);
  try {
    await scheduler._open();
  } catch (error) {
    await scheduler.close({ drain: false }).catch(() => {});
    throw error;
  }
  const opened = scheduler;
  const pending = early;
  early = undefined;
  if (pending.length > 0)
    setTimeout(() => {
      for (const e of pending) opened.dispatchEvent(new WarningEvent(e));
    }, 0);
  return scheduler;
}
