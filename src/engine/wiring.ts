import type { Clock } from '../clock.js';
import { type EventSink, WarningEvent } from '../events.js';
import { Counters } from '../metrics.js';
import type { Pool } from '../pool.js';
import type { NormalizedOptions } from '../scheduler-options.js';
import { scheduleStoreOf, type TaskStore } from '../store.js';
import type { TaskHandleHost } from '../task-handle.js';
import { TaskIndex } from '../task-index.js';
import { Admission, type AdmissionHost } from './admission.js';
import { Cancellation } from './cancellation.js';
import { Dependencies } from './dependencies.js';
import { Dispatcher } from './dispatcher.js';
import { Emitter } from './emitter.js';
import { FinishedKeys } from './finished-keys.js';
import { GateSet } from './gate-set.js';
import type { DispatchGate } from './gates.js';
import type { Limits } from './limits.js';
import { LiveTasks } from './live-tasks.js';
import { LoadModel } from './load-model.js';
import { Outcomes } from './outcomes.js';
import { RecordEdits } from './record-edits.js';
import type { RepeatHost } from './repeat.js';
import { RetentionTrim } from './retention-trim.js';
import { Schedules } from './schedules.js';
import { Stats, type StatsHost } from './stats.js';
import { Tells } from './tells.js';
import { Watchdog } from './watchdog.js';
import { WriteQueue } from './write-queue.js';

/** What the parts need of the scheduler that owns them: its inputs, and its lifecycle as callbacks. */
export interface WiringHost {
  name: string;
  store: TaskStore;
  clock: Clock;
  random: () => number;
  normalized: NormalizedOptions;
  /** Made before the store opened (see `openEngine`); bound to the parts last. */
  pool: Pool;
  owner: string;
  /** Where events go: the scheduler, or the multi-tab front that owns it. */
  sink: EventSink;
  handleHost: TaskHandleHost;
  /** Gates of the caller's own, asked after the built-in ones. */
  gates: readonly DispatchGate[];
  paused(): boolean;
  closing(): boolean;
  closed(): boolean;
  checkDrained(): void;
  get: AdmissionHost['get'];
  cancel: AdmissionHost['cancel'];
  has: RepeatHost['has'];
  state: StatsHost['state'];
}

/** The engine's parts, wired to each other. */
export interface EngineParts {
  index: TaskIndex;
  counters: Counters;
  writes: WriteQueue;
  tells: Tells;
  emitter: Emitter;
  live: LiveTasks;
  dispatcher: Dispatcher;
  watchdog: Watchdog;
  cancellation: Cancellation;
  admission: Admission;
  dependencies: Dependencies;
  gates: GateSet;
  schedules: Schedules;
  stats: Stats;
  finishedKeys: FinishedKeys;
  edits: RecordEdits;
}

/**
 * Builds the parts of one engine and wires each to the narrow host it needs. Data flows one way:
 * admission → write queue → index → dispatcher → worker → outcomes → write queue → tells (settles
 * and events, after their commit). The pool is bound last: what it told while storage was read
 * reaches parts that now exist.
 */
export function wireEngine(host: WiringHost): EngineParts {
  const { store, clock, random, normalized, pool, owner, sink } = host;
  const { defaults, retention, maxQueued } = normalized;
  // With limits, index entries carry their task's group: the gate reads it there.
  const index = new TaskIndex(normalized.agingMs, normalized.limits !== undefined);
  const counters = new Counters();
  const warn = (error: Error) => sink.dispatchEvent(new WarningEvent(error));
  const { checkDrained, closed } = host;
  // Called only once every part exists (the dispatcher is built below).
  const schedulePump = () => dispatcher.schedulePump();
  const writes = new WriteQueue({ store, warn });
  const live: LiveTasks = new LiveTasks({
    handleHost: host.handleHost,
    get tells() {
      return tells;
    },
    onSettled: (record) => {
      finishedKeys.note(record);
      dependencies.finished(record);
      gateSet.finished(record.id);
      trim.noteFinished();
      checkDrained();
    },
  });
  const tells = new Tells({
    writes,
    handles: live.handles,
    dispatchEvent: (event) => sink.dispatchEvent(event),
    onDelivered: checkDrained,
  });
  const emitter = new Emitter(sink, tells);
  const finishedKeys = new FinishedKeys();
  const trim = new RetentionTrim({ store, limits: retention, clock, closed, warn });
  const load = new LoadModel();
  const gateSet = new GateSet(
    {
      clock,
      index,
      running: (id) => live.active.has(id),
      // `markStarted` sets `notifiedStart` before the gate is told of the start.
      unstarted: (id) => {
        const active = live.active.get(id);
        return active !== undefined && active.notifiedStart !== true;
      },
      schedulePump,
    },
    normalized.limits,
    host.gates,
  );
  const dispatcher = new Dispatcher({
    clock,
    store,
    index,
    live,
    load,
    writes,
    pool,
    gates: gateSet.list,
    owner,
    paused: host.paused,
    closed,
    hold: () => tells.hold(),
    release: () => tells.release(),
    warn,
    onBusy: (worker, taskId) => emitter.worker(worker.id, 'busy', taskId),
    onSent: (worker) => watchdog.noteHead(worker),
    onFailed: (record, failure, error) => outcomes_.afterFailure(record, failure, error),
    onCancelled: (record, error) => cancellation.cancelled(record, error),
    checkDrained,
  });
  const watchdog = new Watchdog({
    clock,
    active: live.active,
    pool,
    onStarted: (active, startedAt) => outcomes_.markStarted(active, startedAt),
    onTimeout: (worker, call) => outcomes_.onTimeout(worker, call),
    schedulePump,
  });
  const outcomes_ = new Outcomes({
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
  });
  // Tasks with dependencies wait here, outside the index, and join it once released: see the
  // note at the top of engine/dependencies.ts for why this is not a dispatch gate.
  const dependencies = new Dependencies({
    clock,
    store,
    index,
    live,
    counters,
    writes,
    emitter,
    queuedOrRunning: (id) => index.has(id) || live.active.has(id),
    schedulePump,
  });
  const cancellation = new Cancellation({
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
  });
  const edits = new RecordEdits();
  const admission = new Admission({
    name: host.name,
    clock,
    store,
    index,
    live,
    counters,
    writes,
    emitter,
    finishedKeys,
    edits,
    dependencies,
    tags: gateSet,
    pool,
    defaults,
    maxQueued,
    idPrefix: `${owner}-`,
    closing: host.closing,
    schedulePump,
    checkDrained,
    get: host.get,
    cancel: host.cancel,
  });
  const schedules = new Schedules({
    clock,
    store: scheduleStoreOf(store),
    defaults,
    checkName: (name) => admission.checkName(name),
    has: host.has,
    enqueue: (id, name, input, options) => admission.enqueue(name, input, options, id),
    warn,
    changed: () => sink.dispatchEvent(new Event('schedules')),
  });
  const stats = new Stats({
    clock,
    index,
    active: live.active,
    pool,
    counters,
    store,
    waiting: () => dependencies.size,
    groups: gateSet.limits ? (now) => (gateSet.limits as Limits).groups(now) : undefined,
    state: host.state,
  });
  // Last: what the pool told while storage was read reaches parts that now exist.
  pool.bind({
    onReady: schedulePump,
    onCapacity: schedulePump,
    onWorkerState: (h, state, error) => emitter.worker(h.id, state, undefined, error),
    onBreakerOpen: (error) => {
      sink.dispatchEvent(new WarningEvent(error));
      schedulePump();
    },
    onOutcomes: (h, outcomes, now) => outcomes_.onOutcomes(h, outcomes, now),
    onProgress: (_h, call, value) => outcomes_.onProgress(call, value),
    onExit: (h, error, calls) => outcomes_.onExit(h, error, calls),
  });
  return {
    index,
    counters,
    writes,
    tells,
    emitter,
    live,
    dispatcher,
    watchdog,
    cancellation,
    admission,
    dependencies,
    gates: gateSet,
    schedules,
    stats,
    finishedKeys,
    edits,
  };
}
