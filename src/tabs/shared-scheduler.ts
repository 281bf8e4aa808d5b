import { CancelledError, LeaderUnavailableError, SchedulerClosedError, TabVersionError } from '../errors.js';
import { CountingEventTarget, type EventSink, type SchedulerEventMap, WarningEvent } from '../events.js';
import { IdMinter, type MintedIds } from '../id-run.js';
import type { Metrics } from '../metrics.js';
import type { ScheduleInfo, ScheduleSpec } from '../schedule-types.js';
import type { EnqueueItem, LanesPeek, LeaderState, Scheduler, WorkerInfo } from '../scheduler-api.js';
import type { ListQuery } from '../store.js';
import type { TaskHandle, TaskHandleHost } from '../task-handle.js';
import type { TaskInput, TaskMap, TaskName, TaskOutput } from '../task-types.js';
import type { EnqueueOptions, PriorityLevel, PriorityName, TaskInfo } from '../types.js';
import { assertCloneable, checkNumber, checkObject, describe } from '../validate.js';
import { type ClientHost, type PendingCall, TabClient } from './client.js';
import { FollowerMirror } from './follower-mirror.js';
import { applyCall, TabHost } from './host.js';
import { toColumns } from './item-wire.js';
import { Leadership } from './leadership.js';
import { type Envelope, type Method, Outbox, PROTOCOL_VERSION, type ToFollowers, type ToLeader, versionOf } from './protocol.js';
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
 * through a `TabClient`, and handles and the sync reads (`metrics`, `workers`, `peekLanes`,
 * `paused`) come from the `FollowerMirror` of what the leader pushes.
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
  readonly #mirror: FollowerMirror;
  #closed = false;
  #closePromise?: Promise<void>;
  #leader: LeaderState = { thisTab: false, shared: true };
  #idCounter = 0;
  readonly #idPrefix: string;
  /** Warnings raised while opening, delivered a macrotask after `createScheduler` resolves. */
  #early: Event[] | undefined = [];
  #heardLeader?: () => void;
  /** The protocol version of the leading tab, when it is not this tab's: calls are refused here. */
  #foreignLeader: number | undefined;
  /** The `since` of the newest leader heard of (this tab's own too), of any version. */
  #leaderSeen = Number.NEGATIVE_INFINITY;

  constructor(options: SharedOptions) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#tabId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}${(tabCounter++).toString(36)}`;
    this.#idPrefix = `${this.#tabId}-`;
    this.#channel = new BroadcastChannel(`tasklane:${options.name}`);
    this.#out = new Outbox(this.#channel, this.#tabId);
    this.#leadership = new Leadership(options.name);
    const self = this;
    this.#mirror = new FollowerMirror(
      {
        listens: (type) => this.listens(type),
        dispatchEvent: (event) => this.dispatchEvent(event),
        get following() {
          return !self.#host && !self.#closed;
        },
        post: (message) => this.#out.post(message),
        watch: (ids) => this.#client.call('watch', ids),
        warn: (error) => this.#warn(error),
      },
      this,
    );
    const host: ClientHost = {
      onLeader: (since) => this.#onLeader(since),
      onMessage: (message) => this.#mirror.onPushed(message),
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
        this.#mirror.sendInterest();
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
    const wasPaused = this.#mirror.paused;
    const engine = await this.#options.openEngine({ events: sink, handleHost: this }, takingOver);
    const calls = this.#client.takePending();
    const handles = this.#mirror.takeHandles();
    this.#engine = engine;
    const since = Date.now();
    const host = (this.#host = new TabHost(engine, this.#out, since));
    this.#foreignLeader = undefined;
    this.#leaderSeen = since;
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
    this.#mirror.sendInterest();
    if (!first) this.#mirror.rewatch();
    this.dispatchEvent(new Event('leader'));
  }

  #onEnvelope(envelope: Envelope): void {
    const version = versionOf(envelope);
    if (version !== PROTOCOL_VERSION) {
      this.#onForeign(envelope, version);
      return;
    }
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
      if (message.t === 'leader') this.#noteLeader(message.since, version);
      this.#client.onMessage(message as ToFollowers);
      if (message.t === 'task' || message.t === 'worker') events = true;
      else if (message.t === 'snap') snapshot = true;
    }
    // A snapshot on its own (the last one after a burst) is news for a panel that re-renders on events.
    if (snapshot && !events && this.listens('state')) this.dispatchEvent(new Event('state'));
  }

  /**
   * An envelope of another protocol version. Leading, this tab refuses its calls. Following, it
   * reads two things of it, which every version sends alike: a `leader` announcement, and the
   * refusal of a call of ours.
   */
  #onForeign(envelope: Envelope, version: number): void {
    if (this.#host) {
      for (const message of envelope.list) this.#host.onForeign(envelope.from, message, version);
      return;
    }
    if (this.#closed) return;
    for (const message of envelope.list) {
      if (message.t === 'leader' && typeof message.since === 'number') this.#noteLeader(message.since, version);
      else if (message.t === 'reply' && !message.ok) this.#client.onMessage(message);
    }
  }

  /**
   * A tab announced it leads (`since`, in `version`). The newest announcement wins: a late message
   * of a leader that is gone changes nothing. Under a leader of another version, calls are refused
   * here (`TabVersionError`, nothing sent) until one of this version leads; the calls waiting when
   * it took the lead are rejected then (one it had acknowledged may have been applied), and this
   * tab warns once.
   */
  #noteLeader(since: number, version: number): void {
    if (since < this.#leaderSeen) return;
    this.#leaderSeen = since;
    if (version === PROTOCOL_VERSION) {
      this.#foreignLeader = undefined;
      return;
    }
    this.#heardLeader?.();
    this.#heardLeader = undefined;
    if (this.#foreignLeader !== undefined) return;
    this.#foreignLeader = version;
    this.#warn(this.#versionError('calls'));
    this.#client.refuseAll((m, acked) =>
      acked
        ? new LeaderUnavailableError(
            `the tab that took ${m}() went away and the one leading now runs tasklane tab protocol v${version} (this tab v${PROTOCOL_VERSION}); it may have been applied`,
          )
        : this.#versionError(`${m}() and other calls`),
    );
  }

  #versionError(what: string): TabVersionError {
    return new TabVersionError(
      `the tab leading queue "${this.name}" runs tasklane tab protocol v${this.#foreignLeader} and this tab v${PROTOCOL_VERSION}: ${what} from this tab are refused, nothing applied, until it is reloaded or closed (one of the two tabs has an older build of the app)`,
    );
  }

  // ── listeners: the leader is told which events this tab wants ─────────────────────────────────

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
    this.#mirror.interestChanged();
  }

  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
    this.#mirror.interestChanged();
  }

  #warn(error: Error): void {
    const event = new WarningEvent(error);
    if (this.#early) this.#early.push(event);
    else this.dispatchEvent(event);
  }

  // ── the Scheduler surface ─────────────────────────────────────────────────────────────────────

  #call(m: Method, a: unknown[], decode?: (value: unknown) => unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new SchedulerClosedError(`scheduler "${this.name}" is closed; ${m}() rejected`));
    if (this.#foreignLeader !== undefined) return Promise.reject(this.#versionError(`${m}() and other calls`));
    // What cannot be cloned cannot cross to the leader: refused here by name (enqueues checked their input already).
    if (m !== 'enqueue' && m !== 'enqueueMany')
      try {
        assertCloneable(a, `${m}() arguments`);
      } catch (error) {
        return Promise.reject(error);
      }
    return this.#client.call(m, a, decode);
  }

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
    const call = this.#call('enqueue', [id, name, input, sent], this.#mirror.handleFromWire) as Promise<TaskHandle>;
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
      // Items of one batch often share one options object: checked once, not once per item.
      let checked: unknown;
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as EnqueueItem<T> | undefined;
        if (typeof item !== 'object' || item === null) continue; // the leader names the bad item
        assertCloneable(item.input, `items[${i}].input`);
        if (item.options !== undefined && item.options !== checked) {
          checkCrossable(item.options, `items[${i}].options`);
          checked = item.options;
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const minted: MintedIds = { prefix: this.#idPrefix, first: this.#idCounter };
    this.#idCounter += items.length;
    // The leader answers with the count: the ids are the ones minted here.
    return this.#call('enqueueMany', [minted, toColumns(items as readonly EnqueueItem<TaskMap>[]) ?? items], (count) => {
      const ids = new IdMinter(minted.prefix, minted.first);
      return Array.from({ length: count as number }, () => ids.next());
    }) as Promise<string[]>;
  }

  get(id: string): Promise<TaskHandle | undefined> {
    if (this.#engine) return this.#engine.get(id);
    if (typeof id !== 'string') return Promise.reject(new TypeError(`Expected id to be a string, got ${describe(id)}`));
    const held = this.#mirror.held(id);
    if (held) return Promise.resolve(held);
    return this.#call('get', [id], this.#mirror.maybeHandle) as Promise<TaskHandle | undefined>;
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
    return this.#call('retry', [id], this.#mirror.handleFromWire) as Promise<TaskHandle>;
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
    return this.#engine ? this.#engine.paused : this.#mirror.paused;
  }

  get closed(): boolean {
    return this.#closed;
  }

  pause(): void {
    if (this.#engine) {
      this.#engine.pause();
      return;
    }
    if (this.#closed || this.#mirror.paused) return;
    this.#mirror.paused = true;
    this.dispatchEvent(new Event('state'));
    this.#call('pause', []).catch((error: Error) => this.#warn(error));
  }

  resume(): void {
    if (this.#engine) {
      this.#engine.resume();
      return;
    }
    if (this.#closed || !this.#mirror.paused) return;
    this.#mirror.paused = false;
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
    return this.#mirror.metrics();
  }

  workers(): WorkerInfo[] {
    if (this.#engine) return this.#engine.workers();
    return this.#mirror.workers();
  }

  peekLanes(limit = 3): LanesPeek {
    if (this.#engine) return this.#engine.peekLanes(limit);
    checkNumber('limit', limit, 0, true);
    return this.#mirror.peekLanes(limit);
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
        this.#mirror.close(error);
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
