import { CancelledError, SchedulerClosedError } from '../errors.js';
import {
  CountingEventTarget,
  type EventSink,
  SCHEDULER_EVENT_TYPES,
  type SchedulerEventMap,
  TaskEvent,
  WarningEvent,
  WorkerEvent,
} from '../events.js';
import type { MintedIds } from '../id-run.js';
import type { Metrics } from '../metrics.js';
import type { ScheduleInfo, ScheduleSpec } from '../schedule-types.js';
import type { EnqueueItem, LanesPeek, LeaderState, Scheduler, WorkerInfo } from '../scheduler-api.js';
import type { ListQuery } from '../store.js';
import { TaskHandle, type TaskHandleHost } from '../task-handle.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from '../task-types.js';
import type { EnqueueOptions, PriorityLevel, PriorityName, TaskInfo, TaskStatus } from '../types.js';
import { assertCloneable, checkNumber, checkObject, describe } from '../validate.js';
import { type ClientHost, errorFromWire, type PendingCall, TabClient } from './client.js';
import { applyCall, TabHost } from './host.js';
import { Leadership } from './leadership.js';
import { type Envelope, type HandleWire, type Method, Outbox, type Snapshot, type ToFollowers, type ToLeader } from './protocol.js';
import type { TabEngine } from './tab-engine.js';

export interface SharedOptions {
  name: string;
  /** How long a follower's call waits for the leader's acknowledgement. */
  leaderTimeoutMs: number;
  /**
   * Opens the engine in this tab when it takes the lead: store, recovery, workers. `paused`: it
   * starts nothing until resumed (this tab first takes over what its callers hold).
   */
  openEngine(front: { events: EventSink; handleHost: TaskHandleHost }, paused: boolean): Promise<TabEngine>;
}

const LEADER_MESSAGES: ReadonlySet<string> = new Set(['call', 'interest', 'hello', 'bye']);
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'skipped']);
const STATUS_OF: Readonly<Record<string, TaskStatus>> = {
  enqueued: 'queued',
  reprioritized: 'queued',
  started: 'running',
  retrying: 'retrying',
};
let tabCounter = 0;

/**
 * Opens the queue `name` shared by every tab of this origin: this tab leads it (runs the engine)
 * if no other does, else it is a full client of the tab that does, and takes over when that tab goes.
 */
export async function openShared<T extends TaskMap>(options: SharedOptions): Promise<Scheduler<T>> {
  const front = new SharedScheduler<T>(options);
  await front._start();
  return front;
}

/**
 * The `Scheduler` a tab gets for a queue shared across tabs. Leading, it forwards to the engine in
 * this tab and serves the others through a `TabHost`; following, each call goes to the leader
 * through a `TabClient`, handles follow their tasks from the leader's events, and the sync reads
 * (`metrics`, `workers`, `peekLanes`, `paused`) come from the leader's latest snapshot.
 */
class SharedScheduler<T extends TaskMap> extends CountingEventTarget<SchedulerEventMap> implements Scheduler<T>, TaskHandleHost {
  readonly name: string;
  readonly #options: SharedOptions;
  readonly #tabId: string;
  readonly #channel: BroadcastChannel;
  readonly #out: Outbox;
  readonly #leadership: Leadership;
  readonly #client: TabClient;
  #engine?: TabEngine;
  #host?: TabHost;
  #becoming?: Promise<void>;
  /** Following: the handles this tab's callers hold for live tasks. */
  readonly #handles = new Map<string, TaskHandle>();
  #snapshot?: Snapshot;
  #paused = false;
  #closed = false;
  #closePromise?: Promise<void>;
  #leader: LeaderState = { thisTab: false, shared: true };
  #idCounter = 0;
  readonly #idPrefix: string;
  #lanes = 0;
  #interestQueued = false;
  /** Warnings raised while opening, delivered a macrotask after `createScheduler` resolves. */
  #early: Event[] | undefined = [];
  #heardLeader?: () => void;

  constructor(options: SharedOptions) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#tabId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}${(tabCounter++).toString(36)}`;
    this.#idPrefix = `${this.#tabId}-`;
    this.#channel = new BroadcastChannel(`tasklane:${options.name}`);
    this.#out = new Outbox(this.#channel, this.#tabId);
    this.#leadership = new Leadership(options.name);
    const host: ClientHost = {
      onLeader: (since) => this.#onLeader(since),
      onMessage: (message) => this.#onPushed(message),
    };
    this.#client = new TabClient(this.#out, this.#tabId, options.leaderTimeoutMs, host);
    this.#channel.onmessage = (event: MessageEvent<Envelope>) => this.#onEnvelope(event.data);
  }

  /** @internal Leads if no tab does, else waits (bounded) to hear the leader, and queues for the lead. */
  async _start(): Promise<void> {
    try {
      if (await this.#leadership.tryNow()) await this.#becomeLeader(false);
      else {
        const heard = new Promise<void>((resolve) => {
          this.#heardLeader = resolve;
        });
        this.#client.hello();
        this.#leadership.whenGranted().then(
          () => {
            this.#becoming = this.#becomeLeader(true);
            this.#becoming.catch((error: unknown) => this.#warn(error as Error));
          },
          () => {},
        );
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([heard, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.leaderTimeoutMs)))]);
        clearTimeout(timer);
        if (this.#becoming) await this.#becoming;
        this.#sendInterest();
      }
    } catch (error) {
      this.#leadership.stop();
      this.#out.close();
      this.#channel.close();
      throw error;
    }
    const early = this.#early ?? [];
    this.#early = undefined;
    if (early.length > 0)
      setTimeout(() => {
        for (const event of early) this.dispatchEvent(event);
      }, 0);
  }

  // ── the lead ──────────────────────────────────────────────────────────────────────────────────

  get leader(): LeaderState {
    return this.#leader;
  }

  async #becomeLeader(takingOver: boolean): Promise<void> {
    const sink: EventSink = {
      listens: (type) => this.listens(type) || (this.#host?.listens(type) ?? false),
      dispatchEvent: (event) => {
        if (this.#early && event.type === 'warning') this.#early.push(event);
        else this.dispatchEvent(event);
        this.#host?.forward(event);
        return true;
      },
    };
    const wasPaused = this.#paused;
    const engine = await this.#options.openEngine({ events: sink, handleHost: this }, takingOver);
    const calls = this.#client.takePending();
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    this.#engine = engine;
    const since = Date.now();
    const host = (this.#host = new TabHost(engine, this.#out, since));
    if (typeof document !== 'undefined') {
      document.addEventListener('freeze', () => host.setFrozen(true));
      document.addEventListener('resume', () => host.setFrozen(false));
    }
    this.#host.announce();
    this.#leader = { thisTab: true, since, shared: true };
    this.dispatchEvent(new Event('leader'));
    if (!takingOver) return;
    await engine._adopt(handles);
    for (const call of calls) this.#replay(engine, call);
    if (!wasPaused) engine.resume();
  }

  /** A call this tab sent to the leader that went away, answered here now. */
  #replay(engine: TabEngine, call: PendingCall): void {
    applyCall(engine, call.m, call.a, true).then(
      (value) => call.resolve(value),
      (error: unknown) => {
        if (call.m === 'enqueue') engine._forget(call.a[0] as string);
        call.reject(error);
      },
    );
  }

  #onLeader(since: number): void {
    const first = this.#leader.since === undefined;
    this.#leader = { thisTab: false, since, shared: true };
    this.#heardLeader?.();
    this.#heardLeader = undefined;
    this.#sendInterest();
    // A new leader knows nothing of the handles held here, and some of their tasks may have ended meanwhile.
    if (!first && this.#handles.size > 0)
      this.#client.call('watch', [...this.#handles.keys()]).then(
        (wires) => {
          for (const wire of wires as (HandleWire | { id: string; gone: true })[]) {
            const handle = this.#handles.get(wire.id);
            if (!handle) continue;
            if ('gone' in wire) {
              this.#handles.delete(wire.id);
              handle._stage(handle.status, false, new CancelledError(`task ${wire.id} is no longer stored (trimmed by retention)`));
              handle._settle();
            } else if (wire.outcome) {
              this.#handles.delete(wire.id);
              handle._stage(wire.status, wire.outcome.ok, wire.outcome.ok ? wire.outcome.value : errorFromWire(wire.outcome.error));
              handle._settle();
            } else handle._setStatus(wire.status);
          }
        },
        (error: Error) => this.#warn(error),
      );
    this.dispatchEvent(new Event('leader'));
  }

  #onEnvelope(envelope: Envelope): void {
    const host = this.#host;
    if (host) {
      for (const message of envelope.list) if (LEADER_MESSAGES.has(message.t)) host.onMessage(envelope.from, message as ToLeader);
      return;
    }
    if (this.#closed) return;
    let events = false;
    let snapshot = false;
    for (const message of envelope.list) {
      if (LEADER_MESSAGES.has(message.t)) continue;
      this.#client.onMessage(message as ToFollowers);
      if (message.t === 'task' || message.t === 'worker') events = true;
      else if (message.t === 'snap') snapshot = true;
    }
    // A snapshot on its own (the last one after a burst) is news for a panel that re-renders on events.
    if (snapshot && !events && this.listens('state')) this.dispatchEvent(new Event('state'));
  }

  /** Following: an event or snapshot the leader pushed. */
  #onPushed(message: Exclude<ToFollowers, { t: 'ack' | 'reply' | 'leader' | 'leaving' }>): void {
    switch (message.t) {
      case 'snap':
        this.#snapshot = message;
        this.#paused = message.paused;
        return;
      case 'state':
        this.#paused = message.paused;
        if (this.listens('state')) this.dispatchEvent(new Event('state'));
        return;
      case 'task': {
        const handle = this.#handles.get(message.task.id);
        const error = message.error ? errorFromWire(message.error) : undefined;
        if (handle) {
          const type = message.type;
          if (type === 'progress') handle._progress(message.progress ?? 0);
          else if (TERMINAL.has(type)) {
            this.#handles.delete(handle.id);
            const task = message.task;
            handle._stage(task.status, type === 'completed', type === 'completed' ? task.result : (error ?? lastError(task)));
            handle._settle();
          } else {
            // An enqueued or moved task may be waiting for its dependencies: its own status says.
            const status = type === 'enqueued' || type === 'reprioritized' ? message.task.status : STATUS_OF[type];
            if (status) handle._setStatus(status);
          }
        }
        if (this.listens(message.type))
          this.dispatchEvent(
            new TaskEvent(message.type as never, message.task, { error, progress: message.progress, delayMs: message.delayMs }),
          );
        return;
      }
      case 'worker':
        if (this.listens('worker'))
          this.dispatchEvent(
            new WorkerEvent(message.workerId, message.state, {
              taskId: message.taskId,
              error: message.error ? errorFromWire(message.error) : undefined,
            }),
          );
        return;
      case 'warning':
        this.dispatchEvent(new WarningEvent(errorFromWire(message.error)));
        return;
      case 'schedules':
        this.dispatchEvent(new Event('schedules'));
        return;
    }
  }

  // ── what the leader pushes to this tab ────────────────────────────────────────────────────────

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
    this.#interestChanged();
  }

  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
    this.#interestChanged();
  }

  #interestChanged(): void {
    if (this.#host || this.#interestQueued) return;
    this.#interestQueued = true;
    queueMicrotask(() => {
      this.#interestQueued = false;
      this.#sendInterest();
    });
  }

  #sendInterest(): void {
    if (this.#host || this.#closed) return;
    const types = SCHEDULER_EVENT_TYPES.filter((type) => this.listens(type));
    this.#out.post({ t: 'interest', types, snap: true, lanes: this.#lanes });
  }

  #wantSnap(lanes: number): void {
    if (lanes <= this.#lanes) return;
    this.#lanes = lanes;
    this.#interestChanged();
  }

  #warn(error: Error): void {
    this.dispatchEvent(new WarningEvent(error));
  }

  // ── the Scheduler surface ─────────────────────────────────────────────────────────────────────

  #call(m: Method, a: unknown[], decode?: (value: unknown) => unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new SchedulerClosedError(`scheduler "${this.name}" is closed; ${m}() rejected`));
    // What cannot be cloned cannot cross to the leader: refused here by name (enqueues checked their input already).
    if (m !== 'enqueue' && m !== 'enqueueMany')
      try {
        assertCloneable(a, `${m}() arguments`);
      } catch (error) {
        return Promise.reject(error);
      }
    return this.#client.call(m, a, decode);
  }

  #handleFromWire = (value: unknown): TaskHandle => {
    const wire = value as HandleWire;
    const existing = this.#handles.get(wire.id);
    if (existing) return existing;
    const handle = new TaskHandle(this, wire.id, wire.name, wire.status);
    if (wire.outcome) {
      handle._stage(wire.status, wire.outcome.ok, wire.outcome.ok ? wire.outcome.value : errorFromWire(wire.outcome.error));
      handle._settle();
    } else this.#handles.set(wire.id, handle);
    return handle;
  };

  #maybeHandle = (value: unknown): TaskHandle | undefined => (value === undefined ? undefined : this.#handleFromWire(value));

  enqueue<N extends TaskName<T>>(name: N, input: TaskInput<T, N>, options?: EnqueueOptions): Promise<TaskHandle<TaskOutput<T, N>>> {
    if (this.#engine) return this.#engine.enqueue(name, input, options) as Promise<TaskHandle<TaskOutput<T, N>>>;
    let signal: AbortSignal | undefined;
    let sent: EnqueueOptions | undefined;
    try {
      if (this.#closed) throw new SchedulerClosedError(`scheduler "${this.name}" is closed; enqueue("${String(name)}") rejected`);
      assertCloneable(input);
      const o = checkObject('options', options) as EnqueueOptions | undefined;
      if (o) {
        ({ signal, ...sent } = o);
        if (signal !== undefined && !(signal instanceof AbortSignal))
          throw new TypeError(`Expected options.signal to be an AbortSignal, got ${describe(signal)}`);
        if (signal?.aborted) throw new CancelledError(`enqueue("${String(name)}") was given an already aborted signal`);
        checkCrossable(sent as object, 'options');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.#idPrefix + (this.#idCounter++).toString(36);
    const call = this.#call('enqueue', [id, name, input, sent], this.#handleFromWire) as Promise<TaskHandle>;
    if (!signal) return call as Promise<TaskHandle<TaskOutput<T, N>>>;
    const s = signal;
    return call.then((handle) => {
      const onAbort = () => void handle.cancel('the caller aborted the signal');
      if (s.aborted) onAbort();
      else {
        s.addEventListener('abort', onAbort, { once: true });
        handle.result.then(
          () => s.removeEventListener('abort', onAbort),
          () => s.removeEventListener('abort', onAbort),
        );
      }
      return handle;
    }) as Promise<TaskHandle<TaskOutput<T, N>>>;
  }

  enqueueMany(items: readonly EnqueueItem<T>[]): Promise<string[]> {
    if (this.#engine) return this.#engine.enqueueMany(items as readonly EnqueueItem<TaskMap>[]);
    try {
      if (!Array.isArray(items)) throw new TypeError(`Expected items to be an array, got ${describe(items)}`);
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as EnqueueItem<T> | undefined;
        if (typeof item !== 'object' || item === null) continue; // the leader names the bad item
        assertCloneable(item.input, `items[${i}].input`);
        if (item.options !== undefined) checkCrossable(item.options, `items[${i}].options`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const minted: MintedIds = { prefix: this.#idPrefix, first: this.#idCounter };
    this.#idCounter += items.length;
    return this.#call('enqueueMany', [minted, items]) as Promise<string[]>;
  }

  get(id: string): Promise<TaskHandle | undefined> {
    if (this.#engine) return this.#engine.get(id);
    if (typeof id !== 'string') return Promise.reject(new TypeError(`Expected id to be a string, got ${describe(id)}`));
    const held = this.#handles.get(id);
    if (held) return Promise.resolve(held);
    return this.#call('get', [id], this.#maybeHandle) as Promise<TaskHandle | undefined>;
  }

  inspect(id: string): Promise<TaskInfo | undefined> {
    if (this.#engine) return this.#engine.inspect(id);
    return this.#call('inspect', [id]) as Promise<TaskInfo | undefined>;
  }

  list(query?: ListQuery): Promise<TaskInfo[]> {
    if (this.#engine) return this.#engine.list(query);
    return this.#call('list', [query]) as Promise<TaskInfo[]>;
  }

  cancel(id: string, reason?: string): Promise<boolean> {
    if (this.#engine) return this.#engine.cancel(id, reason);
    return this.#call('cancel', [id, reason]) as Promise<boolean>;
  }

  retry(id: string): Promise<TaskHandle> {
    if (this.#engine) return this.#engine.retry(id);
    return this.#call('retry', [id], this.#handleFromWire) as Promise<TaskHandle>;
  }

  reprioritize(id: string, priority: PriorityName | PriorityLevel): Promise<boolean> {
    if (this.#engine) return this.#engine.reprioritize(id, priority);
    return this.#call('reprioritize', [id, priority]) as Promise<boolean>;
  }

  discard(id: string): Promise<boolean> {
    if (this.#engine) return this.#engine.discard(id);
    return this.#call('discard', [id]) as Promise<boolean>;
  }

  schedule<N extends TaskName<T>>(id: string, name: N, input: TaskInput<T, N>, spec: ScheduleSpec): Promise<ScheduleInfo> {
    if (this.#engine) return this.#engine.schedule(id, name, input, spec);
    if (this.#closed) return Promise.reject(new SchedulerClosedError(`scheduler "${this.name}" is closed; schedule("${id}") rejected`));
    // Applied again after a change of leader, it stores the same schedule: no resend check needed.
    return this.#call('schedule', [id, name, input, spec]) as Promise<ScheduleInfo>;
  }

  unschedule(id: string): Promise<boolean> {
    if (this.#engine) return this.#engine.unschedule(id);
    return this.#call('unschedule', [id]) as Promise<boolean>;
  }

  schedules(): Promise<ScheduleInfo[]> {
    if (this.#engine) return this.#engine.schedules();
    return this.#call('schedules', []) as Promise<ScheduleInfo[]>;
  }

  get paused(): boolean {
    return this.#engine ? this.#engine.paused : this.#paused;
  }

  get closed(): boolean {
    return this.#closed;
  }

  pause(): void {
    if (this.#engine) {
      this.#engine.pause();
      return;
    }
    if (this.#closed || this.#paused) return;
    this.#paused = true;
    this.dispatchEvent(new Event('state'));
    this.#call('pause', []).catch((error: Error) => this.#warn(error));
  }

  resume(): void {
    if (this.#engine) {
      this.#engine.resume();
      return;
    }
    if (this.#closed || !this.#paused) return;
    this.#paused = false;
    this.dispatchEvent(new Event('state'));
    this.#call('resume', []).catch((error: Error) => this.#warn(error));
  }

  drain(): Promise<void> {
    if (this.#engine) return this.#engine.drain();
    return this.#call('drain', []) as Promise<void>;
  }

  resize(options: { max?: number; min?: number }): void {
    if (this.#engine) {
      this.#engine.resize(options);
      return;
    }
    const o = (checkObject('options', options) ?? {}) as { max?: number; min?: number };
    if (o.max !== undefined) checkNumber('max', o.max, 1, true);
    if (o.min !== undefined) checkNumber('min', o.min, 0, true);
    this.#call('resize', [o]).catch((error: Error) => this.#warn(error));
  }

  metrics(): Metrics {
    if (this.#engine) return this.#engine.metrics();
    this.#wantSnap(this.#lanes);
    return this.#snapshot?.metrics ?? waitingMetrics();
  }

  workers(): WorkerInfo[] {
    if (this.#engine) return this.#engine.workers();
    this.#wantSnap(this.#lanes);
    return this.#snapshot?.workers ?? [];
  }

  peekLanes(limit = 3): LanesPeek {
    if (this.#engine) return this.#engine.peekLanes(limit);
    checkNumber('limit', limit, 0, true);
    this.#wantSnap(limit);
    const lanes = this.#snapshot?.lanes;
    if (!lanes) return { now: Date.now(), lanes: Array.from({ length: 5 }, () => ({ count: 0, top: [] })), waiting: [], waitingCount: 0 };
    return {
      now: lanes.now,
      lanes: lanes.lanes.map((lane) => ({ count: lane.count, top: lane.top.slice(0, limit) })),
      waiting: lanes.waiting.slice(0, limit),
      waitingCount: lanes.waitingCount,
    };
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    if (typeof options !== 'object' || options === null)
      return Promise.reject(new TypeError(`Expected options to be an object, got ${describe(options)}`));
    this.#closed = true;
    this.#closePromise = (async () => {
      if (this.#becoming) await this.#becoming.catch(() => {});
      const engine = this.#engine;
      const host = this.#host;
      if (engine && host) {
        // Others wait for the lead: they take over what is queued; nothing shared is cancelled.
        const handOver = await this.#leadership.othersWaiting().catch(() => false);
        host.leave();
        if (handOver) await engine._handOver();
        else await engine.close(options);
        host.stop();
      } else {
        this.#out.post({ t: 'bye' });
        const error = new SchedulerClosedError(
          `scheduler "${this.name}" closed in this tab; its tasks go on in the tab that leads the queue`,
        );
        this.#client.close(error);
        for (const handle of this.#handles.values()) {
          handle._stage(handle.status, false, error);
          handle._settle();
        }
        this.#handles.clear();
      }
      this.#leadership.stop();
      this.#out.close();
      this.#channel.close();
      this.dispatchEvent(new Event('state'));
    })();
    return this.#closePromise;
  }
}

/** A follower's call crosses to the leader by structured clone: a backoff function cannot. */
function checkCrossable(options: object, what: string): void {
  const retry = (options as EnqueueOptions).retry;
  if (typeof retry === 'object' && retry !== null && typeof retry.backoff === 'function')
    throw new TypeError(
      `Expected ${what}.retry.backoff to be a policy object in a tab that does not lead the queue, got a function (functions cannot cross to the leader tab)`,
    );
  assertCloneable(options, what);
}

function lastError(task: TaskInfo): Error {
  const last = task.errors[task.errors.length - 1];
  return last ? errorFromWire(last) : new CancelledError(`task ${task.id} ${task.status}`);
}

/** A follower's metrics before the leader's first snapshot arrives. */
function waitingMetrics(): Metrics {
  return {
    submitted: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    skipped: 0,
    retried: 0,
    queuedByPriority: [0, 0, 0, 0, 0],
    queued: 0,
    waiting: 0,
    running: 0,
    workers: { total: 0, idle: 0, busy: 0, starting: 0, spawned: 0, crashed: 0 },
    waitMs: { p50: 0, p95: 0 },
    runMs: { p50: 0, p95: 0 },
    successRate: 1,
    health: 'degraded',
    healthReason: 'waiting to hear from the tab that leads the queue',
  };
}
