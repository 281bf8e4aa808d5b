import type { TaskInfo } from './types.js';

/** An event about one task. `error` is set on `retrying`, `failed` and `cancelled`. */
export class TaskEvent extends Event {
  readonly task: TaskInfo;
  readonly error?: Error;
  /** On `progress`: 0..1. */
  readonly progress?: number;
  /** On `retrying`: the backoff before the next attempt. */
  readonly delayMs?: number;
  constructor(type: TaskEventType, task: TaskInfo, extra: { error?: Error; progress?: number; delayMs?: number } = {}) {
    super(type);
    this.task = task;
    this.error = extra.error;
    this.progress = extra.progress;
    this.delayMs = extra.delayMs;
  }
}

export type TaskEventType =
  | 'enqueued'
  | 'started'
  | 'progress'
  | 'retrying'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'skipped'
  | 'reprioritized';

/** What a `worker` event says happened to a worker. */
export type WorkerEventState = 'spawned' | 'idle' | 'busy' | 'crashed' | 'terminated';

/** A worker changed state. `taskId` is set on `busy`; `error` on `crashed`. */
export class WorkerEvent extends Event {
  readonly workerId: number;
  readonly state: WorkerEventState;
  readonly taskId?: string;
  readonly error?: Error;
  constructor(workerId: number, state: WorkerEventState, extra: { taskId?: string; error?: Error } = {}) {
    super('worker');
    this.workerId = workerId;
    this.state = state;
    this.taskId = extra.taskId;
    this.error = extra.error;
  }
}

/** Something went wrong that belongs to no single task: a failed background write, a store fallback. */
export class WarningEvent extends Event {
  readonly error: Error;
  constructor(error: Error) {
    super('warning');
    this.error = error;
  }
}

/** The scheduler's typed event map. */
export interface SchedulerEventMap {
  enqueued: TaskEvent;
  started: TaskEvent;
  progress: TaskEvent;
  retrying: TaskEvent;
  completed: TaskEvent;
  failed: TaskEvent;
  cancelled: TaskEvent;
  skipped: TaskEvent;
  /** A waiting task moved to another priority (`reprioritize`). */
  reprioritized: TaskEvent;
  worker: WorkerEvent;
  warning: WarningEvent;
  /**
   * Queue shape changed (paused, resumed, drained, closed); in a tab that does not lead, also when
   * a fresh snapshot of the leader's metrics arrives on its own.
   */
  state: Event;
  /** Another tab took the lead, or this one did (`scheduler.leader`). */
  leader: Event;
  /** A repeat schedule was added, updated or removed, or enqueued a run (its next run moved): read `schedules()`. */
  schedules: Event;
}

/** Where an engine sends its events: whether anyone listens for a type (an event nobody hears is never built), and the dispatch. */
export interface EventSink {
  listens(type: string): boolean;
  dispatchEvent(event: Event): boolean;
}

/** Every type of `SchedulerEventMap`, for code that subscribes to all of them (the panel, another tab's interest). */
export const SCHEDULER_EVENT_TYPES = [
  'enqueued',
  'started',
  'progress',
  'retrying',
  'completed',
  'failed',
  'cancelled',
  'skipped',
  'reprioritized',
  'worker',
  'warning',
  'state',
  'leader',
  'schedules',
] as const satisfies readonly (keyof SchedulerEventMap)[];

/** An EventTarget whose `addEventListener` knows each event type's class. */
export interface TypedEventTarget<M> extends EventTarget {
  addEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | { handleEvent(event: M[K]): void } | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | { handleEvent(event: M[K]): void } | null,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/**
 * An EventTarget that knows how many listeners each type has, so the hot path can skip building
 * events nobody listens to.
 */
export class CountingEventTarget<M> extends EventTarget implements TypedEventTarget<M> {
  readonly #counts = new Map<string, number>();

  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | { handleEvent(event: M[K]): void } | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  // biome-ignore lint/suspicious/noExplicitAny: implementation signature of the typed overloads above
  override addEventListener(type: string, listener: any, options?: boolean | AddEventListenerOptions): void {
    if (listener) this.#counts.set(type, (this.#counts.get(type) ?? 0) + 1);
    super.addEventListener(type, listener, options);
    const signal = typeof options === 'object' ? options.signal : undefined;
    if (listener && signal) signal.addEventListener('abort', () => this.#dec(type), { once: true });
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | { handleEvent(event: M[K]): void } | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  // biome-ignore lint/suspicious/noExplicitAny: implementation signature of the typed overloads above
  override removeEventListener(type: string, listener: any, options?: boolean | EventListenerOptions): void {
    if (listener) this.#dec(type);
    super.removeEventListener(type, listener, options);
  }

  #dec(type: string) {
    const n = (this.#counts.get(type) ?? 0) - 1;
    if (n <= 0) this.#counts.delete(type);
    else this.#counts.set(type, n);
  }

  /** Whether anyone listens for `type`. Over-counts after a duplicate add or a `once` listener fired: never under-counts. */
  /** @internal */
  listens(type: string): boolean {
    return this.#counts.has(type);
  }
}
