import { DEFAULT_BACKOFF } from './backoff.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import { assertSchedulerEnvironment } from './environment.js';
import {
  CancelledError,
  deserializeError,
  QueueFullError,
  SchedulerClosedError,
  StorageError,
  serializeError,
  TimeoutError,
  UnknownTaskError,
  WorkerCrashedError,
} from './errors.js';
import { CountingEventTarget, type SchedulerEventMap, TaskEvent, type TaskEventType, WarningEvent, WorkerEvent } from './events.js';
import { IdMinter, type MintedIds, mintedId } from './id-run.js';
import { type Metrics, SampleRing } from './metrics.js';
import { openStore } from './open-store.js';
import { acquireOwnerLock, liveOwners, type OwnerLock } from './owner-lock.js';
import { normalizePoolOptions, Pool, type WorkerEventState } from './pool.js';
import type { RunOutcome } from './protocol.js';
import { planRecovery } from './recovery.js';
import { SteadyMap } from './steady-map.js';
import type { ListQuery, TaskStore } from './store.js';
import { TaskHandle } from './task-handle.js';
import { type IndexEntry, TaskIndex } from './task-index.js';
import {
  cancelRecord,
  completeAttempt,
  NO_ERRORS,
  type FailureOutcome,
  failAttempt,
  requeueFailed,
  startAttempt,
  unstartAttempt,
} from './transition.js';
import {
  type BackoffFunction,
  type EnqueueOptions,
  type PoolOptions,
  type PriorityLevel,
  type PriorityName,
  type RetentionOptions,
  type SerializedError,
  type TaskDefaults,
  type TaskInfo,
  type TaskRecord,
  TERMINAL_STATUSES,
} from './types.js';
import {
  assertCloneable,
  checkNumber,
  checkObject,
  checkOptionalNumber,
  describe,
  type NormalizedRetry,
  normalizePriority,
  normalizeRetry,
  normalizeRunAt,
} from './validate.js';
import type { InFlight, WorkerHandle } from './worker-handle.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from './worker-runtime.js';
import { yieldToEventLoop } from './yield.js';

export interface SchedulerOptions {
  /** Names the queue; with the IndexedDB store, the database name. @default 'tasklane' */
  name?: string;
  /** Creates one worker running a module that calls `defineTasks`. */
  worker: () => Worker;
  /**
   * Where tasks are kept: `'indexeddb'` (durable, the database is named `name`), `'memory'` (gone
   * with the page), or a custom `TaskStore`. Where IndexedDB is unavailable the scheduler falls back
   * to memory and emits a `warning` event. @default 'indexeddb'
   */
  store?: 'indexeddb' | 'memory' | TaskStore;
  /**
   * IndexedDB write durability: `'relaxed'` survives a tab crash, `'strict'` also a power cut
   * (much slower commits). @default 'relaxed'
   */
  durability?: 'relaxed' | 'strict';
  pool?: PoolOptions;
  defaults?: TaskDefaults;
  retention?: RetentionOptions;
  /** Live tasks (queued, retrying, running) beyond which `enqueue` rejects with `QueueFullError`. @default Infinity */
  maxQueued?: number;
  /** Stalls (found running in a dead tab) before a task fails instead of re-running. @default 1 */
  maxStalls?: number;
  /** Injected time, for tests. @default the system's monotonic clock */
  clock?: Clock;
  /** Injected randomness for backoff jitter, for tests. @default Math.random */
  random?: () => number;
}

/** One task to enqueue with `enqueueMany`: a union over task names, so each item's input matches its name. */
export type EnqueueItem<T extends TaskMap, N extends TaskName<T> = TaskName<T>> = N extends TaskName<T>
  ? { name: N; input: TaskInput<T, N>; options?: Omit<EnqueueOptions, 'signal' | 'key'> }
  : never;

/** A queued task as `peekLanes` shows it: what ordering knows, without reading the store. */
export interface QueuePeek {
  id: string;
  name: string;
  priority: number;
  /** Scheduler-clock ms at which it may start. */
  readyAt: number;
  seq: number;
}

/**
 * The timeout of the call a worker runs. One timer per worker, re-armed lazily: a timer set for an
 * earlier call's deadline is kept, and when it fires it waits out what is left of the current one's.
 */
interface TimeoutWatch {
  /** The call being timed, if any. */
  call?: InFlight;
  deadline: number;
  timer?: TimerHandle;
  /** The deadline `timer` was set for. */
  timerAt: number;
}

/** What a step holds until its end (`#tell`): a handle whose staged outcome settles, or an event to dispatch. */
type Tell = TaskHandle | Event;

/** A task taken out of the index and given (or about to be given) to a worker. */
interface Active {
  entry: IndexEntry;
  record?: TaskRecord;
  prior: 'queued' | 'retrying';
  worker: WorkerHandle;
  call?: InFlight;
  notifiedStart?: boolean;
  /** A cancel that arrived while the record was still being read. */
  pendingCancel?: { error: SerializedError; done: (cancelled: boolean) => void };
}

/** What a worker is expected to take, per task, before its result is known: unknown names run alone. */
const UNKNOWN_COST_MS = 1;
/** A worker is sent more calls only while the expected work queued in it stays under this. */
const PIPELINE_BUDGET_MS = 1;
const PIPELINE_MAX = 512;
const LEASE_MS = 30_000;
/** Next-in-line tasks whose records the store may read ahead (a full batch), so dispatch need not wait on a read. */
const PREFETCH_AHEAD = PIPELINE_MAX;

/** Distinct options objects one `enqueueMany` call remembers having validated. */
const OPTIONS_SEEN_MAX = 64;
/** Main-thread work `enqueueMany` does before it yields to the event loop, well under a 50 ms long task. */
const SLICE_MS = 8;
/** Queued tasks cancelled per store read when closing without draining. */
const CANCEL_CHUNK = 1024;

/** Finished tasks between retention trims. */
const TRIM_EVERY = 256;
/** The same for a store with synchronous writes, whose trim is cheap: small steps, so none holds the main thread long. */
const TRIM_EVERY_SYNC = 32;

let schedulerCounter = 0;
const RESOLVED = Promise.resolve();

/** An `enqueueMany` call's tasks, built before anything is stored: all in item order. */
interface Batch {
  /** Items to take: ids and seqs are reserved for this many. */
  size: number;
  firstSeq: number;
  /** Where the ids come from: the i-th task has the i-th id minted from it. */
  minted: MintedIds;
  /** The clock reading every task of the batch was created at. */
  now: number;
  /**
   * The records, made as the items are read (in slices) when something needs them now: a store
   * without `writeBatch`, or 'enqueued' listeners. Otherwise undefined, and the store makes them.
   */
  records: TaskRecord[] | undefined;
  /** The tasks as columns, by position: no record exists until one is needed. */
  ids: string[];
  names: string[];
  inputs: unknown[];
  settings: TaskSettings[];
}

/** An options object, validated: what every task given that object shares. */
interface TaskSettings {
  priority: PriorityLevel;
  timeoutMs: number;
  runAt: number;
  retry: NormalizedRetry;
}

function storageError(error: unknown, count: number): Error {
  if ((error as Error)?.name === 'StorageError') return error as Error;
  return new StorageError(`could not store ${count} task(s): ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Drops a deleted task's input from its batch's column, which must not keep it alive (nor hold `batch`). */
function releaserOf(inputs: unknown[]): (i: number) => void {
  return (i) => {
    inputs[i] = undefined;
  };
}

/** A batch's task names by position, for a store to filter by name without making records (nor holding `batch`). */
function namesOf(names: string[]): (i: number) => string {
  return (i) => names[i] as string;
}

/** An option's name in messages: `priority` for `enqueue`'s own options, `items[3].options.priority` in a batch. */
function fieldName(at: string, name: string): string {
  return at ? `${at}.${name}` : name;
}

function checkTaskName(name: unknown, what: string): void {
  if (typeof name !== 'string' || name === '')
    throw new TypeError(`Expected ${what ? `${what} to be ` : ''}a task name (non-empty string), got ${describe(name)}`);
}

/** What the index keeps of a record: ordering only. */
function entryOf(record: TaskRecord): IndexEntry {
  return { id: record.id, name: record.name, priority: record.priority, readyAt: record.runAt, seq: record.seq, delayed: false };
}

/**
 * The orchestration: ties store, index and pool together. Data flows one way:
 * enqueue → validate → store → index → dispatch → worker → transition → events.
 */
export class Scheduler<T extends TaskMap = TaskMap> extends CountingEventTarget<SchedulerEventMap> {
  readonly name: string;
  readonly #store: TaskStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #pool: Pool;
  readonly #index = new TaskIndex();
  readonly #active = new SteadyMap<string, Active>();
  readonly #handles = new SteadyMap<string, TaskHandle>();
  readonly #keys = new Map<string, string>();
  readonly #pendingKeys = new Map<string, Promise<TaskHandle>>();
  readonly #backoffFns = new Map<string, BackoffFunction>();
  readonly #signalCleanups = new Map<string, () => void>();
  readonly #avgCost = new Map<string, number>();
  readonly #workerCost = new Map<WorkerHandle, number>();
  readonly #timeouts = new Map<WorkerHandle, TimeoutWatch>();
  readonly #graceTimers = new Map<WorkerHandle, TimerHandle>();
  /** When a doomed worker's replacement may start: a spawn time before its grace period ends. */
  readonly #replaceTimers = new Map<WorkerHandle, TimerHandle>();
  readonly #defaults: { timeoutMs: number; retry: NormalizedRetry; priority: IndexEntry['priority'] };
  readonly #retention: { completed: number; failed: number };
  readonly #maxQueued: number;
  readonly #maxStalls: number;
  readonly #owner: string;
  readonly #idPrefix: string;
  #ownerLock?: OwnerLock;
  #seq = 0;
  #idCounter = 0;
  #paused = false;
  #closing = false;
  #closed = false;
  #closePromise?: Promise<void>;
  #pumpQueued = false;
  #wakeTimer?: TimerHandle;
  #wakeAt = Number.POSITIVE_INFINITY;
  #enqueuesInFlight = 0;
  /** Settles once every write requested so far has committed (or failed and been reported). */
  #committed: Promise<void> = Promise.resolve();
  #writesInFlight = 0;
  /** `#write`s (enqueue, enqueueMany, retry) not settled yet: `writeNow` must not overtake them. */
  #enqueueWrites = 0;
  #tellsPending = 0;
  /** Calls reserved for a worker whose records are being read or whose running state is being written. */
  readonly #pendingSend = new Map<WorkerHandle, Set<Active>>();
  #drainWaiters: (() => void)[] = [];
  /**
   * Tells (settles and events) held by the step under way (see `#hold`), in order:
   * `#held[#heldNext..#heldEnd)` are still to deliver. The array is kept between steps (most hold
   * one tell) and cleared slot by slot.
   */
  readonly #held: (Tell | undefined)[] = [];
  #heldNext = 0;
  #heldEnd = 0;
  #holding = false;
  #terminalSinceTrim = 0;
  #trimming = false;
  readonly #counts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, retried: 0 };
  readonly #waitMs = new SampleRing();
  readonly #runMs = new SampleRing();

  /** Use `createScheduler`. */
  constructor(options: SchedulerOptions, store: TaskStore) {
    super();
    this.name = options.name ?? 'tasklane';
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    const defaults = (checkObject('defaults', options.defaults) ?? {}) as TaskDefaults;
    this.#defaults = {
      timeoutMs: checkOptionalNumber('defaults.timeoutMs', defaults.timeoutMs, 30_000),
      retry: normalizeRetry(defaults.retry, { stored: { attempts: 3, backoff: DEFAULT_BACKOFF } }, 'defaults.retry'),
      priority: defaults.priority === undefined ? 2 : normalizePriority(defaults.priority, 'defaults.priority'),
    };
    const retention = (checkObject('retention', options.retention) ?? {}) as RetentionOptions;
    this.#retention = {
      completed: checkOptionalNumber('retention.completed', retention.completed, 1_000, 0, true),
      failed: checkOptionalNumber('retention.failed', retention.failed, 10_000, 0, true),
    };
    this.#maxQueued = options.maxQueued === undefined ? Number.POSITIVE_INFINITY : checkNumber('maxQueued', options.maxQueued, 1, true);
    this.#maxStalls = checkOptionalNumber('maxStalls', options.maxStalls, 1, 0, true);
    this.#owner = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${(schedulerCounter++).toString(36)}`;
    this.#idPrefix = `${this.#owner}-`;
    this.#pool = new Pool(options.worker, normalizePoolOptions(options.pool), {
      onReady: () => this.#schedulePump(),
      onCapacity: () => this.#schedulePump(),
      onWorkerState: (h, state, error) => this.#emitWorker(h, state, undefined, error),
      onBreakerOpen: (error) => {
        this.dispatchEvent(new WarningEvent(error));
        this.#schedulePump();
      },
      onOutcomes: (h, outcomes, now) => this.#onOutcomes(h, outcomes, now),
      onProgress: (_h, call, value) => this.#onProgress(call, value),
      onExit: (h, error, calls) => this.#onExit(h, error, calls),
    }, this.#clock);
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
    for (const record of records) this.#seq = Math.max(this.#seq, record.seq + 1);
    for (const record of plan.resume) {
      this.#index.add(entryOf(record), now);
      if (record.key !== undefined) this.#keys.set(record.key, record.id);
    }
    this.#counts.failed += plan.failed.length;
    // Start loading the module now: the first enqueue needs its task names, the first task a worker.
    void this.#pool.taskNames();
    this.#schedulePump();
  }

  // ── enqueue → validate → store → index ─────────────────────────────────────────────────────────

  /**
   * Adds a task. Resolves once its record is committed to the store, with a handle whose `result`
   * has the handler's return type. Rejects, storing nothing, on bad input: `UnknownTaskError`,
   * `DataCloneError`, `TypeError` for a bad option, `QueueFullError`, `SchedulerClosedError`,
   * `StorageError` when the write fails.
   */
  enqueue<N extends TaskName<T>>(name: N, input: TaskInput<T, N>, options?: EnqueueOptions): Promise<TaskHandle<TaskOutput<T, N>>> {
    // The common call, without options, needs no await before the commit: no async frame of its own.
    if (options === undefined && !this.#closing) {
      let record: TaskRecord;
      try {
        record = this.#prepare(name, input, undefined);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#commitOne(record, undefined) as Promise<TaskHandle<TaskOutput<T, N>>>;
    }
    return this.#enqueue(name, input, options);
  }

  async #enqueue<N extends TaskName<T>>(
    name: N,
    input: TaskInput<T, N>,
    options: EnqueueOptions | undefined,
  ): Promise<TaskHandle<TaskOutput<T, N>>> {
    if (this.#closing) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; enqueue("${name}") rejected`);
    const opts = checkObject('options', options) as EnqueueOptions | undefined;
    const signal = opts?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`Expected options.signal to be an AbortSignal, got ${describe(signal)}`);
    if (signal?.aborted) throw new CancelledError(`enqueue("${name}") was given an already aborted signal`);
    const key = opts?.key;
    if (key !== undefined) {
      if (typeof key !== 'string' || key === '') throw new TypeError(`Expected options.key to be a non-empty string, got ${describe(key)}`);
      const liveId = this.#keys.get(key);
      if (liveId) return (await this.get(liveId)) as TaskHandle<TaskOutput<T, N>>;
      const pending = this.#pendingKeys.get(key);
      if (pending) return (await pending) as TaskHandle<TaskOutput<T, N>>;
    }
    const record = this.#prepare(name, input, opts);
    const promise = this.#commitOne(record, signal);
    if (key !== undefined) {
      this.#pendingKeys.set(key, promise);
      promise.then(
        () => this.#pendingKeys.delete(key),
        () => this.#pendingKeys.delete(key),
      );
    }
    return promise as Promise<TaskHandle<TaskOutput<T, N>>>;
  }

  /**
   * Stores, indexes and hands back a prepared task. With the module's names known and a store that
   * commits synchronously (nothing in flight), all of it happens now: no async frame, one settled promise.
   */
  #commitOne(record: TaskRecord, signal: AbortSignal | undefined): Promise<TaskHandle> {
    const known = this.#pool.names;
    if (!known || !this.#store.writeNow || !this.#writesIdle()) return this.#commitOneLater(record, signal);
    // All of it inside the try, as in the async path: whatever throws rejects, never throws out of enqueue().
    try {
      this.#checkKnownName(known, record.name);
      this.#checkRoom(1);
      this.#writeOne(record);
      return Promise.resolve(this.#admit(record, signal));
    } catch (error) {
      this.#backoffFns.delete(record.id);
      return Promise.reject(error);
    }
  }

  /** A stored task joins the queue: its handle, its index entry, its signal. */
  #admit(record: TaskRecord, signal: AbortSignal | undefined): TaskHandle {
    const handle = this.#handleFor(record);
    this.#indexNew(record);
    if (signal) this.#linkSignal(record.id, signal);
    return handle;
  }

  async #commitOneLater(record: TaskRecord, signal: AbortSignal | undefined): Promise<TaskHandle> {
    this.#enqueuesInFlight++;
    try {
      const known = this.#pool.names;
      if (known) this.#checkKnownName(known, record.name);
      else await this.#checkNames([record.name]);
      this.#checkRoom(1);
      const writing = this.#writeOne(record);
      if (writing) await writing;
      return this.#admit(record, signal);
    } catch (error) {
      this.#backoffFns.delete(record.id);
      throw error;
    } finally {
      this.#enqueuesInFlight--;
      this.#checkDrained();
    }
  }

  /**
   * Adds many tasks in one validation pass and one store commit: all are stored or none.
   * Resolves with their ids in order (use `get(id)` for a handle).
   */
  async enqueueMany(items: readonly EnqueueItem<T>[]): Promise<string[]> {
    if (this.#closing) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; enqueueMany() rejected`);
    if (!Array.isArray(items)) throw new TypeError(`Expected items to be an array, got ${describe(items)}`);
    // Ids and seqs reserved now: a task enqueued while this batch is prepared orders after all of it.
    const size = items.length;
    const minted = { prefix: this.#idPrefix, first: this.#idCounter };
    const eager = !this.#store.writeBatch || this.listens('enqueued');
    const batch: Batch = { size, firstSeq: this.#seq, minted, now: 0, records: eager ? [] : undefined, ids: [], names: [], inputs: [], settings: [] };
    this.#seq += size;
    this.#idCounter += size;
    this.#enqueuesInFlight++;
    try {
      const names = await this.#prepareMany(items, batch);
      await this.#checkNames(names);
      this.#checkRoom(batch.ids.length);
      // Records only where something needs them now: a store without writeBatch, or 'enqueued' listeners.
      await this.#writeBatch(batch);
      this.#indexMany(batch);
      return batch.ids;
    } catch (error) {
      if (this.#backoffFns.size > 0) for (const id of batch.ids) this.#backoffFns.delete(id);
      throw error;
    } finally {
      this.#enqueuesInFlight--;
      this.#checkDrained();
    }
  }

  /**
   * Validates every item and builds its record and id into `batch`, all at one clock
   * reading; returns the distinct task names. An options object shared by many items is validated
   * once. Throws, naming the item (`items[i]…`), at the first bad one.
   *
   * A long batch is worked through in slices of about SLICE_MS, yielding to the event loop between
   * them; items beyond `batch.size` (added to the array meanwhile) are not looked at.
   */
  async #prepareMany(items: readonly EnqueueItem<T>[], batch: Batch): Promise<string[]> {
    const now = this.#clock.now();
    batch.now = now;
    const plain = this.#settings(undefined, now, '');
    const names = new Set<string>();
    let seen = new Map<object, TaskSettings>();
    let lastName: string | undefined;
    let sliceStart = performance.now();
    const ids = new IdMinter(batch.minted.prefix, batch.minted.first);
    for (let i = 0; i < batch.size; i++) {
      if ((i & 1023) === 1023 && performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
        // The caller's code may have run: options objects are looked at afresh.
        seen = new Map();
        lastName = undefined;
      }
      const item = items[i] as EnqueueItem<T>;
      let settings = plain;
      try {
        if (typeof item !== 'object' || item === null) throw new TypeError(`Expected items[${i}] to be an object, got ${describe(item)}`);
        const o: unknown = item.options;
        if (o !== undefined) {
          const known = typeof o === 'object' && o !== null ? seen.get(o) : undefined;
          if (known) settings = known;
          else {
            settings = this.#settings(o, now, '');
            const { signal, key } = o as EnqueueOptions;
            if (signal !== undefined || key !== undefined)
              throw new TypeError(`Expected items[${i}].options to have no signal or key (use enqueue for those)`);
            if (seen.size < OPTIONS_SEEN_MAX) seen.set(o as object, settings);
          }
        }
        if (lastName === undefined || item.name !== lastName) {
          checkTaskName(item.name, '');
          names.add(item.name);
          lastName = item.name;
        }
        assertCloneable(item.input);
      } catch (error) {
        this.#explainItem(item, i, now);
        throw error;
      }
      const id = ids.next();
      if (settings.retry.fn) this.#backoffFns.set(id, settings.retry.fn);
      batch.ids.push(id);
      batch.names.push(item.name);
      batch.inputs.push(item.input);
      batch.settings.push(settings);
      batch.records?.push(this.#record(id, batch.firstSeq + i, item.name, item.input, settings, now));
    }
    return [...names];
  }

  /** Re-validates a bad item with its position in every message, and throws the first error found. */
  #explainItem(item: unknown, i: number, now: number): void {
    if (typeof item !== 'object' || item === null) return;
    const { name, input, options } = item as EnqueueItem<T>;
    this.#settings(options, now, `items[${i}].options`);
    checkTaskName(name, `items[${i}].name`);
    assertCloneable(input, `items[${i}].input`);
  }

  /** Validates one task and builds its record. Throws, storing nothing. */
  #prepare(name: unknown, input: unknown, options: EnqueueOptions | undefined): TaskRecord {
    checkTaskName(name, '');
    const now = this.#clock.now();
    const settings = options === undefined ? undefined : this.#settings(options, now, '');
    assertCloneable(input);
    const record = this.#record(this.#idPrefix + (this.#idCounter++).toString(36), this.#seq++, name as string, input, settings, now);
    const fn = (settings ?? this.#defaults).retry.fn;
    if (fn) this.#backoffFns.set(record.id, fn);
    if (options?.key !== undefined) record.key = options.key;
    return record;
  }

  /**
   * Validates an options object (`at` names it in messages: `''` for `enqueue`'s own). Pure: the
   * result depends only on `options` and `now`, so one result serves every task given the same object.
   */
  #settings(options: unknown, now: number, at: string): TaskSettings {
    const o = checkObject(at || 'options', options) as EnqueueOptions | undefined;
    const d = this.#defaults;
    if (!o) return { priority: d.priority, timeoutMs: d.timeoutMs, runAt: now, retry: d.retry };
    const priority = o.priority === undefined ? d.priority : normalizePriority(o.priority, fieldName(at, 'priority'));
    const timeoutMs = checkOptionalNumber(fieldName(at, 'timeoutMs'), o.timeoutMs, d.timeoutMs);
    if (o.delayMs !== undefined && o.runAt !== undefined)
      throw new TypeError(`Expected either ${fieldName(at, 'delayMs')} or ${fieldName(at, 'runAt')}, got both`);
    const runAt =
      o.runAt !== undefined ? normalizeRunAt(o.runAt, fieldName(at, 'runAt')) : now + checkOptionalNumber(fieldName(at, 'delayMs'), o.delayMs, 0);
    const retry = o.retry === undefined ? d.retry : normalizeRetry(o.retry, d.retry, fieldName(at, 'retry'));
    const dependsOn = (o as { dependsOn?: unknown }).dependsOn;
    if (dependsOn !== undefined) throw new TypeError(`Expected no ${fieldName(at, 'dependsOn')}: task dependencies are not supported yet`);
    return { priority, timeoutMs, runAt, retry };
  }

  /** A new queued record, from validated parts (no `settings`: the defaults, ready now). */
  #record(id: string, seq: number, name: string, input: unknown, settings: TaskSettings | undefined, now: number): TaskRecord {
    const d = this.#defaults;
    const retry = settings ? settings.retry : d.retry;
    return {
      id,
      name,
      input,
      priority: settings ? settings.priority : d.priority,
      runAt: settings ? settings.runAt : now,
      seq,
      status: 'queued',
      attempt: 0,
      retry: retry.stored,
      timeoutMs: settings ? settings.timeoutMs : d.timeoutMs,
      errors: NO_ERRORS,
      createdAt: now,
      stalls: 0,
    };
  }

  /** Throws at once when the module's names are known; otherwise returns the wait for them. */
  #checkNames(names: string[]): Promise<void> | undefined {
    const known = this.#pool.names;
    if (known) {
      this.#checkKnownNames(known, names);
      return undefined;
    }
    return this.#pool.taskNames().then((found) => {
      // Unknown until a worker answers: then the task is accepted and fails at dispatch, never hangs.
      if (found) this.#checkKnownNames(found, names);
    });
  }

  #checkKnownNames(known: string[], names: string[]): void {
    for (const name of names) this.#checkKnownName(known, name);
  }

  #checkKnownName(known: string[], name: string): void {
    if (!known.includes(name))
      throw new UnknownTaskError(
        `no task named "${name}" in the worker module (it defines ${known.map((n) => `"${n}"`).join(', ') || 'none'})`,
      );
  }

  #checkRoom(n: number): void {
    const live = this.#index.size + this.#active.size;
    if (live + n > this.#maxQueued)
      throw new QueueFullError(`queue is full: ${live} live tasks, maxQueued is ${this.#maxQueued}, ${n} more rejected`);
    if (this.#closing) throw new SchedulerClosedError(`scheduler "${this.name}" is closed`);
  }

  /** `#write` of one record, committed at once (returning undefined) by a store with `writeNow` and nothing in flight. */
  #writeOne(record: TaskRecord): Promise<void> | undefined {
    if (!this.#store.writeNow || !this.#writesIdle()) return this.#write([record]);
    try {
      this.#store.writeNow([record]);
    } catch (error) {
      throw storageError(error, 1);
    }
    return undefined;
  }

  #write(records: TaskRecord[], minted?: MintedIds): Promise<void> {
    return this.#enqueueWrite(records.length, () => this.#store.write(records, minted));
  }

  /** An enqueue's store write: counted while in flight (`writeNow` waits for it), failures as `StorageError`. */
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

  /**
   * Makes the batch's records by position, as `#prepare` would have built them. It holds the columns
   * only, not `ids` (that array goes to the caller): an id is minted again when its record is made.
   */
  #recordMaker(batch: Batch): (i: number) => TaskRecord {
    const { minted, firstSeq, now, names, inputs, settings } = batch;
    return (i) => this.#record(mintedId(minted, i), firstSeq + i, names[i] as string, inputs[i], settings[i], now);
  }

  /** Stores a batch: its records if made, else the batch itself for the store to make them on demand. */
  #writeBatch(batch: Batch): Promise<void> {
    const writeBatch = this.#store.writeBatch?.bind(this.#store);
    if (batch.records || !writeBatch) return this.#write(batch.records ?? [], batch.minted);
    const lazy = { ...batch.minted, size: batch.size, make: this.#recordMaker(batch), release: releaserOf(batch.inputs), nameOf: namesOf(batch.names) };
    return this.#enqueueWrite(batch.size, () => writeBatch(lazy));
  }

  /** `#indexNew` for a batch of keyless tasks: one index insertion, one pump. */
  #indexMany(batch: Batch): void {
    this.#counts.submitted += batch.size;
    const settings = batch.settings;
    this.#index.addBatch(
      {
        size: batch.size,
        id: (i) => batch.ids[i] as string,
        name: (i) => batch.names[i] as string,
        priority: (i) => (settings[i] as TaskSettings).priority,
        runAt: (i) => (settings[i] as TaskSettings).runAt,
        seq: (i) => batch.firstSeq + i,
      },
      batch.minted,
      this.#clock.now(),
    );
    if (this.listens('enqueued')) {
      // Made at write time when someone listened then; a listener added since reads them from the (synchronous) store.
      const emit = (list: (TaskRecord | undefined)[]) => {
        for (const record of list) if (record) this.#emit('enqueued', record);
      };
      const list = batch.records ?? this.#store.read(batch.ids);
      if (Array.isArray(list)) emit(list);
      else list.then(emit, (error: unknown) => this.#warn(new StorageError('could not read a stored batch for its enqueued events', { cause: error })));
    }
    this.#schedulePump();
  }

  #indexNew(record: TaskRecord): void {
    this.#counts.submitted++;
    if (record.key !== undefined) this.#keys.set(record.key, record.id);
    // Its creation time will do for now: an entry found delayed that is in fact due is promoted by the next pump.
    this.#index.add(entryOf(record), record.createdAt);
    this.#emit('enqueued', record);
    this.#schedulePump();
  }

  #linkSignal(id: string, signal: AbortSignal): void {
    const onAbort = () => void this.cancel(id, 'the caller aborted the signal');
    signal.addEventListener('abort', onAbort, { once: true });
    this.#signalCleanups.set(id, () => signal.removeEventListener('abort', onAbort));
  }

  // ── dispatch ───────────────────────────────────────────────────────────────────────────────────
  // Methods on the path of every task make no closures: V8 allocates a function's context on entry
  // when a closure in it captures a local, whether or not that branch runs. Callbacks of the rarer
  // paths live in methods of their own (`#sendWhenRead`, `#transmitWhenCommitted`, `#persistLater`).

  #schedulePump(): void {
    if (this.#pumpQueued || this.#closed) return;
    this.#pumpQueued = true;
    RESOLVED.then(this.#queuedPump);
  }

  /** A promise reaction is a cheaper microtask than `queueMicrotask`, a call into the DOM. */
  readonly #queuedPump = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  /** Least loaded first, stable. An insertion sort: pools are small, and `Array.prototype.sort` allocates. */
  #sortByLoad(workers: WorkerHandle[]): void {
    for (let i = 1; i < workers.length; i++) {
      const worker = workers[i] as WorkerHandle;
      const load = this.#workerCost.get(worker) ?? 0;
      let j = i - 1;
      for (; j >= 0 && (this.#workerCost.get(workers[j] as WorkerHandle) ?? 0) > load; j--) workers[j + 1] = workers[j] as WorkerHandle;
      workers[j + 1] = worker;
    }
  }

  #costOf(name: string): number {
    return this.#avgCost.get(name) ?? UNKNOWN_COST_MS;
  }

  /** Hands ready tasks to workers: most urgent first, least-loaded worker first. */
  #pump(): void {
    if (this.#closed) return;
    const outer = this.#hold();
    try {
      this.#pumpStep();
    } finally {
      if (outer) this.#release();
    }
  }

  #pumpStep(): void {
    if (this.#index.size === 0) {
      if (this.#wakeTimer) this.#armWake(this.#clock.now());
      this.#checkDrained();
      return;
    }
    const now = this.#clock.now();
    if (!this.#paused) {
      const workers = this.#pool.available();
      /** What each worker gets, by its position in `workers`. */
      let batches: (IndexEntry[] | undefined)[] | undefined;
      if (workers.length > 0) {
        // Round-robin over workers, least loaded first. A worker already busy takes another call only
        // while the work expected to wait inside it stays under PIPELINE_BUDGET_MS, so a task enqueued
        // later at a higher priority never waits behind more than about that much queued work.
        this.#sortByLoad(workers);
        for (;;) {
          let gave = false;
          for (let w = 0; w < workers.length; w++) {
            const worker = workers[w] as WorkerHandle;
            const top = this.#index.peek(now);
            if (!top) break;
            const batch = batches?.[w];
            const queued = worker.calls.length + (this.#pendingSend.get(worker)?.size ?? 0) + (batch?.length ?? 0);
            const load = this.#workerCost.get(worker) ?? 0;
            const cost = this.#costOf(top.name);
            if (queued > 0 && (queued >= PIPELINE_MAX || load + cost > PIPELINE_BUDGET_MS)) continue;
            this.#index.next(now);
            this.#workerCost.set(worker, load + cost);
            if (batch) batch.push(top);
            else (batches ??= new Array(workers.length))[w] = [top];
            gave = true;
          }
          if (!gave) break;
        }
      } else if (this.#pool.breakerOpen && this.#pool.breakerError) {
        this.#failReady(this.#pool.breakerError, now);
      }
      if (batches)
        for (let w = 0; w < workers.length; w++) {
          const entries = batches[w];
          if (entries) this.#dispatch(workers[w] as WorkerHandle, entries, now);
        }
      if (this.#store.prefetch && this.#index.size > 0) this.#store.prefetch(this.#index.upcoming(PREFETCH_AHEAD, now).map((e) => e.id));
      const ready = this.#index.readyCount(now);
      if (ready > 0) this.#pool.ensure(ready, this.#reserved);
    }
    this.#armWake(now);
    this.#checkDrained();
  }

  #dispatch(worker: WorkerHandle, entries: IndexEntry[], now: number): void {
    const ids: string[] = new Array(entries.length);
    const actives: Active[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as IndexEntry;
      const active: Active = { entry, prior: 'queued', worker };
      this.#active.set(entry.id, active);
      ids[i] = entry.id;
      actives[i] = active;
    }
    const read = this.#store.read(ids);
    if (Array.isArray(read)) this.#send(worker, actives, read, now);
    else this.#sendWhenRead(worker, actives, read);
  }

  /** `#dispatch` with an asynchronous read. */
  #sendWhenRead(worker: WorkerHandle, actives: Active[], read: Promise<(TaskRecord | undefined)[]>): void {
    const reserved = this.#reserve(worker, actives);
    read.then(
      (records) => this.#send(worker, actives, records, this.#clock.now()),
      (error) => {
        this.#warn(new StorageError(`could not read ${actives.length} task(s) to run them`, { cause: error }));
        for (const a of actives) {
          reserved.delete(a);
          if (this.#active.get(a.entry.id) === a) this.#requeue(a);
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
      this.#schedulePump();
      return;
    }
    const running = starting ? starting.map((a) => a.record as TaskRecord) : (records as TaskRecord[]);
    const committed = this.#persist(running);
    if (committed) this.#transmitWhenCommitted(worker, calls, running, committed);
    else this.#transmit(worker, calls, running, now);
  }

  #transmitWhenCommitted(worker: WorkerHandle, calls: Active[], running: TaskRecord[], committed: Promise<void>): void {
    this.#reserve(worker, calls);
    committed.then(() => this.#transmit(worker, calls, running, this.#clock.now()));
  }

  /** Starts `active`'s attempt on `record`, or drops it (gone, finished, cancelled, or its worker gone). */
  #start(worker: WorkerHandle, active: Active, record: TaskRecord | undefined, reserved: Set<Active> | undefined, now: number): boolean {
    // While the read was pending, the worker may have exited (its reservations went back to the index) or close() let it go.
    if (this.#active.get(active.entry.id) !== active) {
      reserved?.delete(active);
      return false;
    }
    if (!record || TERMINAL_STATUSES.has(record.status)) {
      reserved?.delete(active);
      this.#active.delete(active.entry.id);
      active.pendingCancel?.done(false);
      return false;
    }
    active.record = record;
    active.prior = record.status === 'retrying' ? 'retrying' : 'queued';
    if (active.pendingCancel) {
      reserved?.delete(active);
      this.#active.delete(record.id);
      this.#cancelled(record, active.pendingCancel.error);
      active.pendingCancel.done(true);
      return false;
    }
    if (!worker.alive || worker.doomed) {
      reserved?.delete(active);
      this.#requeue(active);
      return false;
    }
    startAttempt(record, now, this.#owner, LEASE_MS);
    this.#handles.get(record.id)?._setStatus('running');
    return true;
  }

  /**
   * Phase two: the running state is committed; hand the calls that are still ours to the worker.
   * `records[i]` is `starting[i]`'s. The message goes first, bookkeeping after: that overlaps with
   * the worker's turn.
   */
  #transmit(worker: WorkerHandle, starting: Active[], records: TaskRecord[], now: number): void {
    const reserved = this.#pendingSend.get(worker);
    // As in #send: copied out only once a call drops out.
    let sending: Active[] | undefined;
    let requests: TaskRecord[] | undefined;
    for (let i = 0; i < starting.length; i++) {
      const active = starting[i] as Active;
      reserved?.delete(active);
      // Cancelled, or sent back to the index by the worker's exit, while the write was in flight.
      const ours = this.#active.get(active.entry.id) === active && active.record !== undefined;
      const usable = worker.alive && !worker.doomed;
      if (ours && !usable) this.#requeue(active);
      if (!ours || !usable) {
        sending ??= starting.slice(0, i);
        requests ??= records.slice(0, i);
      } else if (sending && requests) {
        sending.push(active);
        requests.push(records[i] as TaskRecord);
      }
    }
    const toSend = requests ?? records;
    if (toSend.length === 0) {
      this.#schedulePump();
      return;
    }
    const sent = sending ?? starting;
    const wasIdle = worker.calls.length === 0;
    const calls = worker.send(toSend, now);
    for (let i = 0; i < calls.length; i++) (sent[i] as Active).call = calls[i];
    this.#recomputeCost(worker);
    if (wasIdle) this.#emitWorker(worker, 'busy', toSend[0]?.id);
    this.#noteHead(worker);
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

  /** Expected work on `worker`: the sum of the average run time of each call it holds. */
  #recomputeCost(worker: WorkerHandle): void {
    let total = 0;
    const calls = worker.calls;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i] as InFlight;
      if (!call.abandoned) total += this.#costOf(call.name);
    }
    const reserved = this.#pendingSend.get(worker);
    if (reserved?.size) for (const a of reserved) total += this.#costOf(a.entry.name);
    this.#workerCost.set(worker, total);
  }

  /** Puts a task that never started back where it was in line. */
  #requeue(active: Active): void {
    this.#active.delete(active.entry.id);
    this.#pendingSend.get(active.worker)?.delete(active);
    if (active.record) {
      if (active.record.status === 'running') {
        unstartAttempt(active.record, active.prior);
        this.#persist([active.record]);
      }
      this.#handles.get(active.entry.id)?._setStatus(active.record.status);
    }
    const { id, name, priority, readyAt, seq } = active.entry;
    this.#index.add({ id, name, priority, readyAt, seq }, this.#clock.now());
    this.#schedulePump();
  }

  /** Breaker open and no worker alive: every ready task fails with the breaker's error. */
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
      this.#persist(changed);
      for (const record of changed) this.#afterFailure(record, { kind: 'fail' }, data);
    };
    const read = this.#store.read(entries.map((e) => e.id));
    if (Array.isArray(read)) apply(read);
    else read.then(apply, (e) => this.#warn(new StorageError('could not read tasks to fail them', { cause: e })));
  }

  #armWake(now: number): void {
    const at = this.#paused ? undefined : this.#index.nextWakeAt();
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

  readonly #onWake = (): void => {
    this.#wakeTimer = undefined;
    this.#wakeAt = Number.POSITIVE_INFINITY;
    this.#pump();
  };

  // ── worker → transition → events ───────────────────────────────────────────────────────────────

  /** Emits `started` for the call now running on `worker`, and arms its timeout. */
  #noteHead(worker: WorkerHandle): void {
    const head = worker.calls[0];
    const watch = this.#timeouts.get(worker);
    if (watch && watch.call !== head) watch.call = undefined;
    if (!head || head.startedAt === undefined || head.abandoned) return;
    const active = this.#active.get(head.id);
    if (!active?.record || active.call !== head) return;
    this.#markStarted(active, head.startedAt);
    const timeoutMs = active.record.timeoutMs;
    if (timeoutMs > 0 && watch?.call !== head) this.#watchTimeout(worker, watch, head, head.startedAt + timeoutMs);
  }

  #watchTimeout(worker: WorkerHandle, existing: TimeoutWatch | undefined, call: InFlight, deadline: number): void {
    let watch = existing;
    if (!watch) this.#timeouts.set(worker, (watch = { deadline, timerAt: Number.POSITIVE_INFINITY }));
    watch.call = call;
    watch.deadline = deadline;
    if (watch.timer) {
      if (watch.timerAt <= deadline) return;
      this.#clock.clearTimer(watch.timer);
    }
    this.#armTimeout(worker, watch);
  }

  #armTimeout(worker: WorkerHandle, watch: TimeoutWatch): void {
    const at = watch.deadline;
    watch.timerAt = at;
    watch.timer = this.#clock.setTimer(() => {
      watch.timer = undefined;
      const call = watch.call;
      if (!call) return;
      if (at < watch.deadline) this.#armTimeout(worker, watch);
      else {
        watch.call = undefined;
        this.#onTimeout(worker, call);
      }
    }, at - this.#clock.now());
  }

  #markStarted(active: Active, startedAt: number): void {
    if (active.notifiedStart || !active.record) return;
    active.notifiedStart = true;
    active.record.startedAt = startedAt;
    this.#waitMs.add(Math.max(0, startedAt - active.entry.readyAt));
    this.#emit('started', active.record);
  }

  #onOutcomes(worker: WorkerHandle, outcomes: RunOutcome<InFlight>[], now: number): void {
    const outer = this.#hold();
    try {
      this.#applyOutcomes(worker, outcomes, now);
    } finally {
      if (outer) this.#release();
    }
  }

  #applyOutcomes(worker: WorkerHandle, outcomes: RunOutcome<InFlight>[], now: number): void {
    const changed: TaskRecord[] = new Array(outcomes.length);
    let n = 0;
    let failures: Map<TaskRecord, FailureOutcome> | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i] as RunOutcome<InFlight>;
      const call = outcome.call;
      const name = call.name;
      const prev = this.#avgCost.get(name);
      this.#avgCost.set(name, prev === undefined ? outcome.runMs : prev * 0.8 + outcome.runMs * 0.2);
      const active = this.#active.get(call.id);
      if (!active || active.call !== call || call.abandoned || !active.record) continue;
      const record = active.record;
      this.#markStarted(active, call.startedAt ?? now - outcome.runMs);
      this.#active.delete(record.id);
      this.#runMs.add(outcome.runMs);
      if (outcome.ok) completeAttempt(record, outcome.value, now);
      else (failures ??= new Map()).set(record, failAttempt(record, outcome.error, now, this.#backoffFns.get(record.id), this.#random));
      changed[n++] = record;
    }
    if (n < changed.length) changed.length = n;
    // Persist, then tell: results and events follow the commit.
    this.#persist(changed);
    for (let i = 0; i < changed.length; i++) {
      const record = changed[i] as TaskRecord;
      const failure = failures?.get(record);
      if (failure) this.#afterFailure(record, failure, record.errors[record.errors.length - 1] as SerializedError);
      else {
        this.#counts.completed++;
        this.#settle(record, true, record.result);
        this.#emit('completed', record);
      }
    }
    if (worker.doomed && !worker.calls.some((c) => c.abandoned)) this.#undoom(worker);
    this.#recomputeCost(worker);
    this.#noteHead(worker);
    if (worker.calls.length === 0 && worker.alive) {
      if (this.#pool.retiring().has(worker)) this.#pool.terminate(worker, new Error('pool resized'));
      else this.#emitWorker(worker, 'idle');
    }
    this.#pump();
  }

  /** After `failAttempt`: re-index for a retry, or settle as failed. The record is already changed. */
  #afterFailure(record: TaskRecord, result: { kind: 'retry'; delayMs: number } | { kind: 'fail' }, error: SerializedError): void {
    if (result.kind === 'retry') {
      this.#counts.retried++;
      this.#index.add(entryOf(record), this.#clock.now());
      this.#handles.get(record.id)?._setStatus('retrying');
      this.#emit('retrying', record, { error: deserializeError(error), delayMs: result.delayMs });
      this.#schedulePump();
    } else {
      this.#counts.failed++;
      const err = deserializeError(error);
      this.#settle(record, false, err);
      this.#emit('failed', record, { error: err });
    }
  }

  #onProgress(call: InFlight, value: number): void {
    const active = this.#active.get(call.id);
    if (!active?.record || active.call !== call) return;
    active.record.progress = value;
    this.#handles.get(active.record.id)?._progress(value);
    this.#emit('progress', active.record, { progress: value });
  }

  #onTimeout(worker: WorkerHandle, call: InFlight): void {
    const active = this.#active.get(call.id);
    if (!active?.record || active.call !== call || call.abandoned) return;
    const record = active.record;
    const error = new TimeoutError(
      `task "${record.name}" (${record.id}) timed out after ${record.timeoutMs} ms on attempt ${record.attempt} of ${record.retry.attempts} (${this.#active.size} running, ${this.#index.size} queued)`,
    );
    const data = serializeError(error);
    this.#abandon(active, data);
    this.#active.delete(record.id);
    const result = failAttempt(record, data, this.#clock.now(), this.#backoffFns.get(record.id), this.#random);
    this.#persist([record]);
    this.#afterFailure(record, result, data);
    this.#noteHead(worker);
  }

  /**
   * Gives up on a running call: aborts its signal, stops feeding its worker, and terminates the
   * worker if the handler has not returned within the grace period. Its replacement starts about
   * 1.5 spawn times before that, so the pool is back at strength when the worker goes (for that
   * short while the pool may hold one thread beyond `max`).
   */
  #abandon(active: Active, reason: SerializedError): void {
    const { worker, call } = active;
    if (!call) return;
    worker.abort(call, reason);
    if (!worker.alive) return;
    worker.doomed = true;
    if (this.#graceTimers.has(worker)) return;
    const graceMs = this.#pool.options.graceMs;
    this.#graceTimers.set(
      worker,
      this.#clock.setTimer(() => {
        this.#graceTimers.delete(worker);
        if (worker.alive && worker.calls.some((c) => c.abandoned))
          this.#pool.terminate(
            worker,
            new WorkerCrashedError(`worker ${worker.id} terminated: task "${call.name}" (${call.id}) did not stop within ${graceMs} ms of its signal aborting`),
          );
      }, graceMs),
    );
    this.#replaceTimers.set(
      worker,
      this.#clock.setTimer(
        () => {
          this.#replaceTimers.delete(worker);
          if (!worker.alive || !worker.doomed) return;
          worker.replaced = true;
          this.#schedulePump();
        },
        Math.max(0, graceMs - 1.5 * this.#pool.spawnEstimateMs),
      ),
    );
  }

  #undoom(worker: WorkerHandle): void {
    worker.doomed = false;
    worker.replaced = false;
    for (const timers of [this.#graceTimers, this.#replaceTimers]) {
      const timer = timers.get(worker);
      if (timer) this.#clock.clearTimer(timer);
      timers.delete(worker);
    }
  }

  #onExit(worker: WorkerHandle, error: Error, calls: InFlight[]): void {
    const timeout = this.#timeouts.get(worker);
    if (timeout?.timer) this.#clock.clearTimer(timeout.timer);
    this.#timeouts.delete(worker);
    this.#undoom(worker);
    this.#workerCost.delete(worker);
    for (const call of calls) {
      const active = this.#active.get(call.id);
      if (!active || active.call !== call || call.abandoned || !active.record) continue;
      if (call.startedAt !== undefined) {
        // The call that was running: this attempt failed with the worker.
        const data = serializeError(
          error.name === 'WorkerCrashedError' || error.name === 'WorkerLoadError'
            ? error
            : new WorkerCrashedError(`worker ${worker.id} exited while running task "${call.name}" (${call.id}): ${error.message}`),
        );
        this.#active.delete(active.record.id);
        const result = failAttempt(active.record, data, this.#clock.now(), this.#backoffFns.get(active.record.id), this.#random);
        this.#persist([active.record]);
        this.#afterFailure(active.record, result, data);
      } else {
        this.#requeue(active);
      }
    }
    // Tasks reserved for this worker (records being read, running state being written) go back too.
    const reserved = this.#pendingSend.get(worker);
    if (reserved) for (const active of [...reserved]) if (this.#active.get(active.entry.id) === active) this.#requeue(active);
    this.#pendingSend.delete(worker);
    this.#schedulePump();
  }

  // ── terminal states ────────────────────────────────────────────────────────────────────────────

  /** A record reached a terminal status: its handle settles (with `value`, or `value` as the error), its bookkeeping goes. */
  #settle(record: TaskRecord, ok: boolean, value: unknown): void {
    // Each lookup only in a map that holds something: the first lookup of an id hashes it.
    const handle = this.#handles.size > 0 ? this.#handles.get(record.id) : undefined;
    if (handle) {
      handle._stage(record.status, ok, value);
      this.#tell(handle);
    }
    if (record.key !== undefined && this.#keys.get(record.key) === record.id) this.#keys.delete(record.key);
    if (this.#backoffFns.size > 0) this.#backoffFns.delete(record.id);
    const cleanup = this.#signalCleanups.size > 0 ? this.#signalCleanups.get(record.id) : undefined;
    if (cleanup) {
      cleanup();
      this.#signalCleanups.delete(record.id);
    }
    if (++this.#terminalSinceTrim >= (this.#store.writeNow ? TRIM_EVERY_SYNC : TRIM_EVERY)) this.#scheduleTrim();
    this.#checkDrained();
  }

  #cancelled(record: TaskRecord, error: SerializedError): void {
    this.#cancelAll([record], error);
  }

  /** Cancels records in one write, then tells each (the same `error` data for all). */
  #cancelAll(records: TaskRecord[], error: SerializedError): void {
    const now = this.#clock.now();
    for (const record of records) cancelRecord(record, error, now);
    this.#counts.cancelled += records.length;
    this.#persist(records);
    const listening = this.listens('cancelled');
    for (const record of records) {
      // An Error (and its stack) only for someone who sees it: a live handle or a 'cancelled' listener.
      const err = listening || (this.#handles.size > 0 && this.#handles.has(record.id)) ? deserializeError(error) : undefined;
      this.#settle(record, false, err);
      if (err) this.#emit('cancelled', record, { error: err });
    }
  }

  /**
   * Cancels a task. Queued or retrying: removed at once. Running: its signal aborts with a
   * `CancelledError` and, if the handler does not return within the grace period, its worker is
   * terminated and replaced. Resolves `false` (a no-op) when the task had already finished or is unknown.
   */
  async cancel(id: string, reason = 'cancelled'): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const error = serializeError(new CancelledError(`task ${id} was cancelled: ${reason}`));
    if (this.#index.has(id)) {
      this.#index.remove(id);
      const [record] = await this.#store.read([id]);
      if (!record) return false;
      this.#cancelled(record, error);
      this.#schedulePump();
      await this.#committed;
      return true;
    }
    const active = this.#active.get(id);
    if (active) {
      if (!active.record) {
        return new Promise<boolean>((done) => {
          active.pendingCancel = { error, done };
        });
      }
      this.#abandon(active, error);
      this.#active.delete(id);
      this.#cancelled(active.record, error);
      this.#recomputeCost(active.worker);
      this.#noteHead(active.worker);
      this.#schedulePump();
      await this.#committed;
      return true;
    }
    return false;
  }

  /**
   * Moves a waiting (queued or retrying) task to another priority. It keeps its place among tasks
   * of its new priority by `readyAt` and enqueue order. Resolves `true` if it moved (or was already
   * there), `false` if it is no longer waiting (running or finished).
   */
  async reprioritize(id: string, priority: PriorityName | PriorityLevel): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const level = normalizePriority(priority);
    const entry = this.#index.get(id);
    if (!entry) return false;
    if (entry.priority === level) return true;
    this.#index.remove(id);
    const { name, readyAt, seq } = entry;
    this.#index.add({ id, name, priority: level, readyAt, seq }, this.#clock.now());
    this.#schedulePump();
    const [record] = await this.#store.read([id]);
    if (record && (record.status === 'queued' || record.status === 'retrying')) {
      record.priority = level;
      this.#persist([record]);
      this.#emit('reprioritized', record);
    }
    return true;
  }

  /** Re-runs a failed or cancelled task (from the dead-letter set) with a fresh set of attempts. */
  async retry(id: string): Promise<TaskHandle> {
    if (this.#closing) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; retry(${id}) rejected`);
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const [record] = await this.#store.read([id]);
    if (!record) throw new TypeError(`Expected the id of a stored task, got ${describe(id)} (unknown or trimmed by retention)`);
    if (record.status !== 'failed' && record.status !== 'cancelled' && record.status !== 'skipped')
      throw new TypeError(`Expected task ${id} to be failed, cancelled or skipped to retry it, got status "${record.status}"`);
    requeueFailed(record, this.#clock.now(), this.#seq++);
    await this.#write([record]);
    const handle = this.#handleFor(record);
    this.#counts.submitted++;
    if (record.key !== undefined) this.#keys.set(record.key, record.id);
    this.#index.add(entryOf(record), this.#clock.now());
    this.#emit('enqueued', record);
    this.#schedulePump();
    return handle;
  }

  /**
   * Removes a finished task (completed, failed, cancelled or skipped) from the store, e.g. to clear
   * it from the dead-letter set. Resolves `true` once removed, `false` for an unknown id. Rejects
   * with `TypeError` for a live task (queued, retrying or running: cancel it first).
   */
  async discard(id: string): Promise<boolean> {
    if (this.#closed) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; discard(${id}) rejected`);
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const live = () => this.#index.has(id) || this.#active.has(id);
    if (live()) throw new TypeError(`Expected task ${id} to be finished to discard it, got a live task (cancel it first)`);
    const [record] = await this.#store.read([id]);
    if (!record) return false;
    if (!TERMINAL_STATUSES.has(record.status) || live())
      throw new TypeError(`Expected task ${id} to be completed, failed, cancelled or skipped to discard it, got status "${record.status}"`);
    await this.#store.remove([id]);
    return true;
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────────────

  #handleFor(record: TaskRecord): TaskHandle {
    let handle = this.#handles.get(record.id);
    if (handle) return handle;
    handle = new TaskHandle(this, record.id, record.name, record.status);
    if (TERMINAL_STATUSES.has(record.status)) {
      if (record.status === 'completed') handle._stage(record.status, true, record.result);
      else {
        const last = record.errors[record.errors.length - 1] ?? { name: 'CancelledError', code: 'E_CANCELLED', message: `task ${record.id} ${record.status}` };
        handle._stage(record.status, false, deserializeError(last));
      }
      handle._settle();
    } else {
      this.#handles.set(record.id, handle);
    }
    return handle;
  }

  /** A handle for a stored task (live or finished), or undefined if unknown or trimmed. */
  async get(id: string): Promise<TaskHandle | undefined> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describe(id)}`);
    const live = this.#handles.get(id);
    if (live) return live;
    const active = this.#active.get(id);
    if (active?.record) return this.#handleFor(active.record);
    const [record] = await this.#store.read([id]);
    return record ? this.#handleFor(record) : undefined;
  }

  /** A snapshot of one task's record (input included), or undefined. */
  async inspect(id: string): Promise<TaskInfo | undefined> {
    const [record] = await this.#store.read([id]);
    return record ? { ...this.#info(record), input: record.input } : undefined;
  }

  /** Snapshots of stored tasks, filtered by status and name. @default limit 100 */
  async list(query: ListQuery = {}): Promise<TaskInfo[]> {
    const q = (checkObject('query', query) ?? {}) as ListQuery;
    if (q.limit !== undefined) checkNumber('limit', q.limit, 0, true);
    const records = await this.#store.list(q);
    return records.map((r) => this.#info(r));
  }


  /**
   * For panels: per priority level 0..4, the live count and the next `limit` tasks in dispatch
   * order; and the next `limit` tasks still waiting for their `runAt` (delayed or in a retry
   * backoff), soonest first. `now` is the scheduler clock the `readyAt` values are on. One pass
   * over the index with a bounded selection per lane: O(n · limit), cheap at 10,000 queued; a big
   * `enqueueMany` batch counts as a few groups, not as its tasks (`TaskIndex.scan`).
   */
  peekLanes(limit = 3): { now: number; lanes: { count: number; top: QueuePeek[] }[]; waiting: QueuePeek[]; waitingCount: number } {
    checkNumber('limit', limit, 0, true);
    const now = this.#clock.now();
    const counts = this.#index.countsByPriority();
    const tops: QueuePeek[][] = counts.map(() => []);
    const waiting: QueuePeek[] = [];
    let waitingCount = 0;
    // Within one priority, dispatch order is (readyAt, seq): ready entries all precede delayed ones.
    const before = (a: QueuePeek, b: QueuePeek) => (a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq);
    const insert = (list: QueuePeek[], item: QueuePeek) => {
      if (list.length >= limit && !before(item, list[list.length - 1] as QueuePeek)) return;
      let i = list.length;
      while (i > 0 && before(item, list[i - 1] as QueuePeek)) i--;
      list.splice(i, 0, item);
      if (list.length > limit) list.pop();
    };
    this.#index.scan(
      limit,
      (e) => {
        if (limit > 0) {
          const item: QueuePeek = { id: e.id, name: e.name, priority: e.priority, readyAt: e.readyAt, seq: e.seq };
          insert(tops[e.priority] as QueuePeek[], item);
          if (e.readyAt > now) insert(waiting, item);
        }
        if (e.readyAt > now) waitingCount++;
      },
      (_priority, readyAt, count) => {
        if (readyAt > now) waitingCount += count;
      },
    );
    return { now, lanes: counts.map((count, p) => ({ count, top: tops[p] as QueuePeek[] })), waiting, waitingCount };
  }

  /** The workers and what each is running. */
  workers(): { id: number; state: string; taskId?: string; taskName?: string; startedAt?: number; timeoutMs?: number; progress?: number; completed: number }[] {
    return this.#pool.workers.map((w) => {
      const head = w.calls[0];
      const record = head ? this.#active.get(head.id)?.record : undefined;
      return {
        id: w.id,
        state: w.state,
        taskId: head?.id,
        taskName: head?.name,
        startedAt: head?.startedAt,
        timeoutMs: record?.timeoutMs,
        progress: record?.progress,
        completed: w.completed,
      };
    });
  }

  #info(record: TaskRecord): TaskInfo {
    const { input: _input, lease: _lease, ...rest } = record;
    rest.errors = rest.errors.slice();
    return rest;
  }

  metrics(): Metrics {
    const byPriority = [...this.#index.countsByPriority()];
    const workers = { total: 0, idle: 0, busy: 0, starting: 0, spawned: this.#pool.stats.spawned, crashed: this.#pool.stats.crashed };
    for (const w of this.#pool.workers) {
      workers.total++;
      if (w.state === 'starting') workers.starting++;
      else if (w.calls.length > 0) workers.busy++;
      else workers.idle++;
    }
    const finished = this.#counts.completed + this.#counts.failed;
    return {
      ...this.#counts,
      queuedByPriority: byPriority,
      queued: this.#index.size,
      running: this.#active.size,
      workers,
      waitMs: { p50: this.#waitMs.percentile(50), p95: this.#waitMs.percentile(95) },
      runMs: { p50: this.#runMs.percentile(50), p95: this.#runMs.percentile(95) },
      successRate: finished === 0 ? 1 : this.#counts.completed / finished,
      health: this.#closed || this.#closing ? 'closed' : this.#paused ? 'paused' : this.#pool.breakerOpen ? 'degraded' : 'ok',
    };
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────────

  get paused(): boolean {
    return this.#paused;
  }

  get closed(): boolean {
    return this.#closing;
  }

  /** Stops starting tasks; running ones finish. Enqueue still works. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#armWake(this.#clock.now());
    this.dispatchEvent(new Event('state'));
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.dispatchEvent(new Event('state'));
    this.#schedulePump();
  }

  /** Changes the pool's bounds at run time. */
  resize(options: { max?: number; min?: number }): void {
    this.#pool.resize((checkObject('options', options) ?? {}) as { max?: number; min?: number });
  }

  #isIdle(): boolean {
    return this.#index.size === 0 && this.#active.size === 0 && this.#enqueuesInFlight === 0 && this.#tellsPending === 0;
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is queued (delayed and retrying included) or running. */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Stops accepting work (`enqueue` rejects with `SchedulerClosedError`) and shuts down.
   * `drain: true` (the default) resumes if paused and waits for everything queued and running to
   * finish; `drain: false` cancels what is left. Workers are terminated and the store closed.
   */
  close(options: { drain?: boolean } = {}): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    const drain = options.drain ?? true;
    this.#closing = true;
    this.dispatchEvent(new Event('state'));
    this.#closePromise = (async () => {
      if (drain) {
        this.resume();
        await this.drain();
      } else {
        const error = serializeError(new CancelledError(`scheduler "${this.name}" closed without draining`));
        const queued = this.#index.clear();
        // Running tasks first: their workers stop now, not after the queue is worked through.
        const running: TaskRecord[] = [];
        for (const active of [...this.#active.values()]) {
          this.#active.delete(active.entry.id);
          if (active.call) active.worker.abort(active.call, error);
          if (active.record) running.push(active.record);
        }
        this.#cancelAll(running, error);
        await this.#cancelQueued(queued, error);
      }
      this.#closed = true;
      if (this.#wakeTimer) this.#clock.clearTimer(this.#wakeTimer);
      for (const t of this.#timeouts.values()) if (t.timer) this.#clock.clearTimer(t.timer);
      for (const t of this.#graceTimers.values()) this.#clock.clearTimer(t);
      for (const t of this.#replaceTimers.values()) this.#clock.clearTimer(t);
      this.#pool.close();
      await this.#committed;
      await this.#store.close();
      this.#ownerLock?.release();
      this.dispatchEvent(new Event('state'));
    })();
    return this.#closePromise;
  }

  /**
   * Cancels queued tasks (out of the index already) on close, CANCEL_CHUNK at a time, yielding to
   * the event loop every SLICE_MS: a million queued tasks are a million records to make, cancel and
   * tell, seconds of work that must not be one long task.
   */
  async #cancelQueued(ids: string[], error: SerializedError): Promise<void> {
    let sliceStart = performance.now();
    for (let from = 0; from < ids.length; from += CANCEL_CHUNK) {
      const chunk = ids.slice(from, from + CANCEL_CHUNK);
      let records: (TaskRecord | undefined)[];
      try {
        records = await this.#store.read(chunk);
      } catch (cause) {
        // The store is gone (deleted by another tab, say): the workers must still stop.
        this.#warn(new StorageError(`could not read ${ids.length - from} queued task(s) to cancel them on close`, { cause }));
        return;
      }
      const cancel: TaskRecord[] = [];
      for (const record of records) if (record && !TERMINAL_STATUSES.has(record.status)) cancel.push(record);
      this.#cancelAll(cancel, error);
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
  }

  // ── plumbing ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Writes state changes behind the action (group-committed by the store). Returns the commit of
   * everything requested so far, or undefined when all of it is committed already (a store with
   * `writeNow` and no write in flight); a failed write is reported as a warning, never thrown.
   */
  #persist(records: TaskRecord[]): Promise<void> | undefined {
    if (this.#writesIdle()) {
      if (records.length === 0) return undefined;
      if (this.#store.writeNow) {
        try {
          this.#store.writeNow(records);
        } catch (error) {
          this.#persistFailed(records, error);
        }
        return undefined;
      }
    } else if (records.length === 0) return this.#committed;
    return this.#persistLater(records);
  }

  /** No write (an enqueue's or a state change's) in flight: one committed now (`writeNow`) keeps its order. */
  #writesIdle(): boolean {
    return this.#writesInFlight === 0 && this.#enqueueWrites === 0;
  }

  /** `#persist` through the store's asynchronous write, chained after the writes before it. */
  #persistLater(records: TaskRecord[]): Promise<void> {
    this.#writesInFlight++;
    const write = this.#store.write(records).then(
      () => {
        this.#writesInFlight--;
      },
      (error: unknown) => {
        this.#writesInFlight--;
        this.#persistFailed(records, error);
      },
    );
    const before = this.#committed;
    this.#committed = before.then(() => write);
    return this.#committed;
  }

  #persistFailed(records: TaskRecord[], error: unknown): void {
    this.#warn(new StorageError(`could not persist ${records.length} task state change(s)`, { cause: error }));
  }

  /**
   * Delivers a tell (a handle with a staged outcome to settle, or an event to dispatch) once every
   * write requested before it has committed: nobody hears of a state the store does not hold yet,
   * and tells keep their order.
   */
  #tell(tell: Tell): void {
    if (this.#writesInFlight === 0 && this.#tellsPending === 0) {
      this.#runOrHold(tell);
      return;
    }
    this.#tellsPending++;
    this.#committed.then(() => {
      this.#tellsPending--;
      this.#deliver(tell);
      this.#checkDrained();
    });
  }

  /** A handle settles as it leaves the live handles: from then on `get(id)` answers from the record. */
  #deliver(tell: Tell): void {
    if (tell instanceof Event) this.dispatchEvent(tell);
    else {
      if (this.#handles.get(tell.id) === tell) this.#handles.delete(tell.id);
      tell._settle();
    }
  }

  /**
   * Starts a step (a pump, a batch of outcomes) unless one is under way; returns whether it did.
   * Until `#release`, tells and worker events are held, then run in order: no listener runs in the
   * middle of a step, and none sees its state half-changed.
   */
  #hold(): boolean {
    if (this.#holding) return false;
    this.#holding = true;
    return true;
  }

  /** Delivers `tell` now, or at `#release` when a step is under way. */
  #runOrHold(tell: Tell): void {
    if (this.#holding) this.#held[this.#heldEnd++] = tell;
    else this.#deliver(tell);
  }

  /**
   * Ends the step and delivers what it held, oldest first. A listener that starts a step of its own
   * holds its tells behind the ones still waiting here, and that step's release delivers all of them.
   */
  #release(): void {
    this.#holding = false;
    const held = this.#held;
    while (this.#heldNext < this.#heldEnd) {
      const i = this.#heldNext++;
      const tell = held[i] as Tell;
      held[i] = undefined;
      try {
        this.#deliver(tell);
      } catch (error) {
        // One failing tell must not cost the others theirs; the error still surfaces, as uncaught.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.#heldNext = this.#heldEnd = 0;
    // A step that held very many (the breaker failing every ready task, one report of hundreds of
    // outcomes) does not keep its array's length.
    if (held.length > 1024) held.length = 0;
  }

  #scheduleTrim(): void {
    if (this.#trimming) return;
    this.#trimming = true;
    this.#terminalSinceTrim = 0;
    setTimeout(() => {
      // A closed scheduler's store is closing: a trim now would only race that.
      if (this.#closed) {
        this.#trimming = false;
        return;
      }
      this.#store
        .trim(this.#retention)
        .catch((error: unknown) => this.#warn(new StorageError('retention trim failed', { cause: error })))
        .finally(() => {
          this.#trimming = false;
        });
    }, 0);
  }

  #warn(error: Error): void {
    this.dispatchEvent(new WarningEvent(error));
  }

  #emit(type: TaskEventType, record: TaskRecord, extra?: { error?: Error; progress?: number; delayMs?: number }): void {
    // No closure here: one capturing this function's arguments would cost every call, listened to or not, its context.
    if (this.listens(type)) this.#tell(new TaskEvent(type, this.#info(record), extra));
  }

  #emitWorker(worker: WorkerHandle, state: WorkerEventState, taskId?: string, error?: Error): void {
    if (this.listens('worker')) this.#runOrHold(new WorkerEvent(worker.id, state, { taskId, error }));
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
  if (typeof o.worker !== 'function') throw new TypeError(`Expected options.worker to be a function returning a Worker, got ${describe(o.worker)}`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) throw new TypeError(`Expected options.name to be a non-empty string, got ${describe(o.name)}`);
  // Warnings raised while opening (a memory fallback, corrupt records) wait one macrotask, so a
  // listener added right after `await createScheduler(…)` hears them.
  let scheduler: Scheduler<T> | undefined;
  let early: Error[] | undefined = [];
  const warn = (error: Error) => (early ? early.push(error) : scheduler?.dispatchEvent(new WarningEvent(error)));
  const store = await openStore({ name: o.name ?? 'tasklane', store: o.store, durability: o.durability }, warn);
  scheduler = new Scheduler<T>(o, store);
  try {
    await scheduler._open();
  } catch (error) {
    await scheduler.close({ drain: false }).catch(() => {});
    throw error;
  }
  const opened = scheduler;
  const pending = early;
  early = undefined;
  if (pending.length > 0) setTimeout(() => {
      for (const e of pending) opened.dispatchEvent(new WarningEvent(e));
    }, 0);
  return scheduler;
}
