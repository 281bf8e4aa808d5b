import type { Clock, TimerHandle } from './clock.js';
import { WorkerLoadError } from './errors.js';
import type { WorkerEventState } from './events.js';
import type { PoolOptions } from './types.js';
import { checkKeys, checkNumber, checkObject, checkOptionalNumber, describe, optionKeys } from './validate.js';
import { type InFlight, WorkerHandle, type WorkerHandleEvents } from './worker-handle.js';

export interface PoolEvents extends WorkerHandleEvents {
  /** A worker finished its handshake and can take work. */
  onReady(handle: WorkerHandle): void;
  onWorkerState(handle: WorkerHandle, state: WorkerEventState, error?: Error): void;
  /** Spawning failed `maxSpawnFailures` times in a row (or the trial after an open breaker failed): no spawn until it closes. */
  onBreakerOpen(error: Error): void;
  /** Capacity may have appeared (a respawn delay or the breaker ran out). */
  onCapacity(): void;
}

export type NormalizedPoolOptions = Required<PoolOptions>;

const EVENT_NAMES = [
  'onReady',
  'onWorkerState',
  'onBreakerOpen',
  'onCapacity',
  'onOutcomes',
  'onProgress',
  'onExit',
] as const satisfies readonly (keyof PoolEvents)[];

/** Events that keep every call, in order, for whoever `bind` hands them to. */
function heldEvents(held: [keyof PoolEvents, unknown[]][]): PoolEvents {
  const events: Record<string, (...args: unknown[]) => void> = {};
  for (const name of EVENT_NAMES) events[name] = (...args) => void held.push([name, args]);
  return events as unknown as PoolEvents;
}

const EMPTY: ReadonlySet<never> = new Set();

const POOL_KEYS = optionKeys<PoolOptions>({
  max: true,
  min: true,
  idleMs: true,
  spawnTimeoutMs: true,
  graceMs: true,
  maxSpawnFailures: true,
  breakerMs: true,
  breakerMaxMs: true,
  onBreakerOpen: true,
});
const RESIZE_KEYS = optionKeys<{ max?: number; min?: number }>({ max: true, min: true });

export function normalizePoolOptions(value: unknown): NormalizedPoolOptions {
  const o = (checkObject('pool', value) ?? {}) as PoolOptions;
  checkKeys('pool', o, POOL_KEYS);
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 2;
  const max = checkOptionalNumber('pool.max', o.max, Math.max(1, cores - 1), 1, true);
  const min = checkOptionalNumber('pool.min', o.min, 0, 0, true);
  if (min > max) throw new TypeError(`Expected pool.min to be <= pool.max (${max}), got ${min}`);
  const breakerMs = checkOptionalNumber('pool.breakerMs', o.breakerMs, 10_000);
  const breakerMaxMs = checkOptionalNumber('pool.breakerMaxMs', o.breakerMaxMs, Math.max(300_000, breakerMs));
  if (breakerMaxMs < breakerMs)
    throw new TypeError(`Expected pool.breakerMaxMs to be >= pool.breakerMs (${breakerMs}), got ${breakerMaxMs}`);
  const onBreakerOpen = o.onBreakerOpen ?? 'wait';
  if (onBreakerOpen !== 'wait' && onBreakerOpen !== 'fail')
    throw new TypeError(`Expected pool.onBreakerOpen to be 'wait' or 'fail', got ${describe(onBreakerOpen)}`);
  return {
    max,
    min,
    idleMs: checkOptionalNumber('pool.idleMs', o.idleMs, 30_000),
    spawnTimeoutMs: checkOptionalNumber('pool.spawnTimeoutMs', o.spawnTimeoutMs, 10_000, 1),
    graceMs: checkOptionalNumber('pool.graceMs', o.graceMs, 1_000),
    maxSpawnFailures: checkOptionalNumber('pool.maxSpawnFailures', o.maxSpawnFailures, 3, 1, true),
    breakerMs,
    breakerMaxMs,
    onBreakerOpen,
  };
}

/** Delay before the next spawn after `streak` consecutive failures or crashes: 0, 100, 200, 400 … 5000 ms. */
export function respawnDelay(streak: number): number {
  return streak <= 1 ? 0 : Math.min(5_000, 100 * 2 ** (streak - 2));
}

/**
 * The workers, after workerpool's Pool: lazy spawn up to `max`, idle reaping down to `min`, respawn
 * after a crash with backoff, and a breaker that stops spawning a module that keeps failing to load.
 * A worker being terminated counts as busy. The pool never decides which task runs: it only says
 * which workers can take one.
 */
export class Pool {
  readonly #factory: () => Worker;
  #events: PoolEvents;
  /** What the pool told before `bind`, when it was made without its events. */
  #held?: [keyof PoolEvents, unknown[]][];
  readonly #clock: Clock;
  options: NormalizedPoolOptions;
  /** Every live handle, in spawn order (an array: iterating it allocates nothing, and pools are small). */
  readonly #handles: WorkerHandle[] = [];
  #nextId = 1;
  #spawnFailures = 0;
  /** How long a worker takes from spawn to answering its handshake: a running average, first guessed. */
  #spawnMs = 50;
  #crashStreak = 0;
  #nextSpawnAt = 0;
  #spawnTimer?: TimerHandle;
  #breakerUntil = 0;
  /** Times the breaker opened since a worker last loaded: each opening stays open twice as long (up to `breakerMaxMs`). */
  #breakerOpens = 0;
  /** Why the last spawns failed, from the breaker's opening until a worker loads again. */
  breakerError?: Error;
  /**
   * Per worker: when it last went idle, and its idle timer. The timer is re-armed lazily: going idle
   * again only moves `since`, and a timer that fires early waits out the rest.
   */
  readonly #idle = new Map<WorkerHandle, { since: number; timer?: TimerHandle }>();
  #closed = false;
  /** Task names from the first worker that answered. */
  names?: string[];
  #namesWaiters: ((names: string[] | undefined) => void)[] = [];
  stats = { spawned: 0, crashed: 0, terminated: 0, loadFailures: 0 };

  /**
   * `events` undefined: the pool is made before its scheduler (so the module loads while storage is
   * read), and keeps what it tells until `bind`.
   */
  constructor(factory: () => Worker, options: NormalizedPoolOptions, events: PoolEvents | undefined, clock: Clock) {
    this.#factory = factory;
    this.options = options;
    this.#events = events ?? heldEvents((this.#held = []));
    this.#clock = clock;
  }

  /** Sends what was told since the pool was made without events to `events`, in order, and everything later straight there. */
  bind(events: PoolEvents): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#events = events;
    for (const [name, args] of held) (events[name] as (...a: unknown[]) => void)(...args);
  }

  get workers(): readonly WorkerHandle[] {
    return this.#handles.slice();
  }

  get size(): number {
    return this.#handles.length;
  }

  get breakerOpen(): boolean {
    return this.breakerError !== undefined && this.#clock.now() < this.#breakerUntil;
  }

  /** Why the pool is degraded: the module could not load, and no worker has loaded since. */
  get healthReason(): string | undefined {
    return this.breakerError && `worker module cannot load: ${this.breakerError.message}`;
  }

  /** Waits for the task names of the module (undefined if no worker could start). */
  taskNames(): Promise<string[] | undefined> {
    if (this.names || this.breakerOpen) return Promise.resolve(this.names);
    if (this.#handles.length === 0) this.#spawn();
    return new Promise((resolve) => this.#namesWaiters.push(resolve));
  }

  #resolveNames(names: string[] | undefined) {
    const waiters = this.#namesWaiters;
    this.#namesWaiters = [];
    for (const w of waiters) w(names);
  }

  /** Workers that are ready and may take more work (not starting, not doomed, not retiring). */
  available(): WorkerHandle[] {
    const handles = this.#handles;
    const out: WorkerHandle[] = new Array(handles.length);
    const retiring = this.retiring();
    let n = 0;
    for (let i = 0; i < handles.length; i++) {
      const h = handles[i] as WorkerHandle;
      if ((h.state === 'idle' || h.state === 'busy') && !h.doomed && (retiring.size === 0 || !retiring.has(h))) out[n++] = h;
    }
    out.length = n;
    return out;
  }

  /** The expected time from spawning a worker to its being ready, in ms (measured). */
  get spawnEstimateMs(): number {
    return this.#spawnMs;
  }

  /**
   * Spawns workers so that `demand` ready tasks find one, within `max`. `taken` says which workers
   * without calls are spoken for all the same (the scheduler is about to send them some).
   */
  ensure(demand: number, taken?: (handle: WorkerHandle) => boolean): void {
    if (this.#closed || this.breakerOpen) return;
    let starting = 0;
    let usable = 0;
    let replaced = 0;
    for (const h of this.#handles) {
      if (h.replaced) replaced++;
      if (h.state === 'starting') starting++;
      else if (!h.doomed && h.state !== 'terminated' && h.calls.length === 0 && !taken?.(h)) usable++;
    }
    // Someone waits for the task names and no worker is there to tell them.
    const forNames = this.#namesWaiters.length > 0 && this.#handles.length === 0 ? 1 : 0;
    let wanted = Math.max(forNames, this.options.min - this.#handles.length, demand - usable - starting);
    // The breaker has closed but no worker loaded since it opened: one trial spawn at a time.
    if (this.breakerError && wanted > 0) wanted = starting > 0 ? 0 : 1;
    let room = this.options.max - (this.#handles.length - replaced);
    for (let i = 0; i < wanted && room > 0; i++, room--) {
      if (!this.#spawn()) break;
    }
  }

  #spawn(): boolean {
    if (this.#closed) return false;
    const now = this.#clock.now();
    if (now < this.#nextSpawnAt) {
      if (!this.#spawnTimer)
        this.#spawnTimer = this.#clock.setTimer(() => {
          this.#spawnTimer = undefined;
          this.ensure(0);
          this.#events.onCapacity();
        }, this.#nextSpawnAt - now);
      return false;
    }
    const handle = new WorkerHandle(
      this.#nextId++,
      this.#factory,
      {
        onOutcomes: (h, outcomes, now) => {
          this.#crashStreak = 0;
          if (h.calls.length === 0) this.#armIdle(h, now);
          this.#events.onOutcomes(h, outcomes, now);
        },
        onProgress: (h, call, value) => this.#events.onProgress(h, call, value),
        onExit: (h, error, calls, expected) => this.#onExit(h, error, calls, expected),
      },
      () => this.#clock.now(),
    );
    this.#handles.push(handle);
    this.stats.spawned++;
    const spawnedAt = now;
    this.#events.onWorkerState(handle, 'spawned');
    handle.start(this.options.spawnTimeoutMs).then(
      (reply) => {
        this.#spawnFailures = 0;
        this.#breakerOpens = 0;
        this.breakerError = undefined;
        this.#spawnMs = (this.#spawnMs + (this.#clock.now() - spawnedAt)) / 2;
        if (!this.names) {
          this.names = reply.names;
          this.#resolveNames(reply.names);
        }
        this.#events.onWorkerState(handle, 'idle');
        this.#armIdle(handle);
        this.#events.onReady(handle);
      },
      () => {
        // onExit has run: the failure is counted there.
      },
    );
    return true;
  }

  #armIdle(handle: WorkerHandle, since = this.#clock.now()) {
    const idle = this.#idle.get(handle);
    if (!idle) this.#idleTimer(handle, { since }, this.options.idleMs);
    else {
      idle.since = since;
      if (!idle.timer) this.#idleTimer(handle, idle, this.options.idleMs);
    }
  }

  #idleTimer(handle: WorkerHandle, idle: { since: number; timer?: TimerHandle }, ms: number) {
    this.#idle.set(handle, idle);
    idle.timer = this.#clock.setTimer(() => {
      idle.timer = undefined;
      // Busy now: armed again when it next goes idle.
      if (handle.calls.length > 0 || !handle.alive || handle.state !== 'idle') return;
      const left = idle.since + this.options.idleMs - this.#clock.now();
      if (left > 0) this.#idleTimer(handle, idle, left);
      else if (this.#handles.length > this.options.min) this.terminate(handle, new Error('idle'));
    }, ms);
  }

  #onExit(handle: WorkerHandle, error: Error, calls: InFlight[], expected: boolean) {
    const at = this.#handles.indexOf(handle);
    if (at >= 0) this.#handles.splice(at, 1);
    const idle = this.#idle.get(handle);
    if (idle?.timer) this.#clock.clearTimer(idle.timer);
    this.#idle.delete(handle);
    const loadFailure = error.name === 'WorkerLoadError';
    if (loadFailure) {
      this.stats.loadFailures++;
      this.#spawnFailures++;
      this.#nextSpawnAt = this.#clock.now() + respawnDelay(this.#spawnFailures + 1);
      if (this.#spawnFailures >= this.options.maxSpawnFailures) {
        // Open. `#spawnFailures` is not reset: the trial spawn after it closes reopens it on its own failure.
        const { breakerMs, breakerMaxMs, onBreakerOpen } = this.options;
        const openMs = Math.min(breakerMaxMs, breakerMs * 2 ** this.#breakerOpens);
        this.#breakerOpens++;
        this.#breakerUntil = this.#clock.now() + openMs;
        const n = this.#spawnFailures;
        this.breakerError = new WorkerLoadError(
          `the worker failed to start ${n} time${n === 1 ? '' : 's'} in a row; last error: ${error.message}; ${
            onBreakerOpen === 'wait' ? 'queued tasks wait' : 'ready tasks fail'
          }; spawning is tried again in ${openMs} ms`,
        );
        this.#resolveNames(this.names);
        this.#events.onWorkerState(handle, 'crashed', error);
        this.#events.onExit(handle, error, calls, expected);
        this.#events.onBreakerOpen(this.breakerError);
        if (this.#spawnTimer) this.#clock.clearTimer(this.#spawnTimer);
        this.#spawnTimer = this.#clock.setTimer(() => {
          this.#spawnTimer = undefined;
          this.ensure(0);
          this.#events.onCapacity();
        }, openMs);
        return;
      }
    } else if (!expected) {
      this.stats.crashed++;
      this.#crashStreak++;
      this.#nextSpawnAt = this.#clock.now() + respawnDelay(this.#crashStreak);
    } else {
      this.stats.terminated++;
    }
    this.#events.onWorkerState(handle, expected ? 'terminated' : 'crashed', error);
    this.#events.onExit(handle, error, calls, expected);
    // Keep the floor (min) and anyone waiting for task names served; task demand comes through onCapacity.
    this.ensure(0);
    this.#events.onCapacity();
  }

  terminate(handle: WorkerHandle, reason: Error): void {
    handle.terminate(reason);
  }

  resize(options: { max?: number; min?: number }): void {
    checkKeys('', options, RESIZE_KEYS);
    const max = options.max === undefined ? this.options.max : checkNumber('pool.max', options.max, 1, true);
    const min = options.min === undefined ? Math.min(this.options.min, max) : checkNumber('pool.min', options.min, 0, true);
    if (min > max) throw new TypeError(`Expected pool.min to be <= pool.max (${max}), got ${min}`);
    this.options = { ...this.options, max, min };
    // Shrink by retiring idle workers first; busy ones retire when they go idle.
    const excess = this.#handles.length - max;
    if (excess > 0) {
      const idle = this.#handles.filter((h) => h.state === 'idle' && h.calls.length === 0);
      for (const h of idle.slice(0, excess)) this.terminate(h, new Error('pool resized'));
    }
    this.#events.onCapacity();
  }

  /**
   * After a shrinking resize, the workers that must retire: the newest ones beyond `max`. They get
   * no new work and are terminated once idle.
   */
  retiring(): ReadonlySet<WorkerHandle> {
    if (this.#handles.length <= this.options.max) return EMPTY;
    const live = this.#handles.filter((h) => !h.doomed);
    const excess = live.length - this.options.max;
    if (excess <= 0) return EMPTY;
    return new Set(live.sort((a, b) => b.id - a.id).slice(0, excess));
  }

  close(): void {
    this.#closed = true;
    if (this.#spawnTimer) this.#clock.clearTimer(this.#spawnTimer);
    for (const idle of this.#idle.values()) if (idle.timer) this.#clock.clearTimer(idle.timer);
    this.#idle.clear();
    for (const h of this.#handles.slice()) h.terminate(new Error('scheduler closed'));
    this.#resolveNames(this.names);
  }
}
