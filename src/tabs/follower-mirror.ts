import { CancelledError } from '../errors.js';
import { SCHEDULER_EVENT_TYPES, TaskEvent, WarningEvent, WorkerEvent } from '../events.js';
import type { Metrics } from '../metrics.js';
import type { LanesPeek, WorkerInfo } from '../scheduler-api.js';
import { TaskHandle, type TaskHandleHost } from '../task-handle.js';
import type { TaskInfo, TaskStatus } from '../types.js';
import { errorFromWire, type Pushed } from './client.js';
import type { HandleWire, Snapshot, ToLeader } from './protocol.js';

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'skipped']);
const STATUS_OF: Readonly<Record<string, TaskStatus>> = {
  enqueued: 'queued',
  reprioritized: 'queued',
  started: 'running',
  retrying: 'retrying',
};

/** What the mirror needs from the front it serves. */
export interface MirrorHost {
  /** Whether the front has a listener for `type`: the events asked of the leader. */
  listens(type: string): boolean;
  dispatchEvent(event: Event): boolean;
  /** This tab follows and is open: only then is the leader told what it wants. */
  readonly following: boolean;
  post(message: ToLeader): void;
  /** Asks the leader about the tasks `ids`: for each, its handle wire, or `{ id, gone: true }`. */
  watch(ids: string[]): Promise<unknown>;
  warn(error: Error): void;
}

/**
 * A follower's copy of what the leader pushes: the handles this tab's callers hold (they follow
 * their tasks from the leader's events), the latest snapshot the sync reads (`metrics`, `workers`,
 * `peekLanes`) answer from, whether the queue is paused, and the interest that tells the leader
 * which events and how much of a snapshot to send.
 */
export class FollowerMirror {
  readonly #host: MirrorHost;
  readonly #handleHost: TaskHandleHost;
  /** The handles this tab's callers hold for live tasks. */
  readonly #handles = new Map<string, TaskHandle>();
  #snapshot?: Snapshot;
  /** The leader's last word, or this tab's own `pause`/`resume` ahead of it. */
  paused = false;
  /** How many tasks of each lane the snapshot carries: the most a `peekLanes` here asked for. */
  #lanes = 0;
  #interestQueued = false;

  /** `handleHost`: what the handles made here cancel through. */
  constructor(host: MirrorHost, handleHost: TaskHandleHost) {
    this.#host = host;
    this.#handleHost = handleHost;
  }

  /** An event or snapshot the leader pushed. */
  onPushed(message: Pushed): void {
    switch (message.t) {
      case 'snap':
        this.#snapshot = message;
        this.paused = message.paused;
        return;
      case 'state':
        this.paused = message.paused;
        if (this.#host.listens('state')) this.#host.dispatchEvent(new Event('state'));
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
        if (this.#host.listens(message.type))
          this.#host.dispatchEvent(
            new TaskEvent(message.type as never, message.task, { error, progress: message.progress, delayMs: message.delayMs }),
          );
        return;
      }
      case 'worker':
        if (this.#host.listens('worker'))
          this.#host.dispatchEvent(
            new WorkerEvent(message.workerId, message.state, {
              taskId: message.taskId,
              error: message.error ? errorFromWire(message.error) : undefined,
            }),
          );
        return;
      case 'warning':
        this.#host.dispatchEvent(new WarningEvent(errorFromWire(message.error)));
        return;
      case 'schedules':
        this.#host.dispatchEvent(new Event('schedules'));
        return;
    }
  }

  // ── interest ──────────────────────────────────────────────────────────────────────────────────

  /** The front's listeners changed: the leader hears of it once, at the end of the turn. */
  interestChanged(): void {
    if (!this.#host.following || this.#interestQueued) return;
    this.#interestQueued = true;
    queueMicrotask(() => {
      this.#interestQueued = false;
      this.sendInterest();
    });
  }

  /** Tells the leader which events this tab listens for, and that it wants snapshots. */
  sendInterest(): void {
    if (!this.#host.following) return;
    const types = SCHEDULER_EVENT_TYPES.filter((type) => this.#host.listens(type));
    this.#host.post({ t: 'interest', types, snap: true, lanes: this.#lanes });
  }

  #wantSnap(lanes: number): void {
    if (lanes <= this.#lanes) return;
    this.#lanes = lanes;
    this.interestChanged();
  }

  // ── the sync reads ────────────────────────────────────────────────────────────────────────────

  metrics(): Metrics {
    this.#wantSnap(this.#lanes);
    return this.#snapshot?.metrics ?? waitingMetrics();
  }

  workers(): WorkerInfo[] {
    this.#wantSnap(this.#lanes);
    return this.#snapshot?.workers ?? [];
  }

  /** `limit` checked by the caller. */
  peekLanes(limit: number): LanesPeek {
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

  // ── handles ───────────────────────────────────────────────────────────────────────────────────

  held(id: string): TaskHandle | undefined {
    return this.#handles.get(id);
  }

  /** The leader's answer as a handle: the one held here for that task, else a new one, held while its task is live. */
  readonly handleFromWire = (value: unknown): TaskHandle => {
    const wire = value as HandleWire;
    const existing = this.#handles.get(wire.id);
    if (existing) return existing;
    const handle = new TaskHandle(this.#handleHost, wire.id, wire.name, wire.status);
    if (wire.outcome) {
      handle._stage(wire.status, wire.outcome.ok, wire.outcome.ok ? wire.outcome.value : errorFromWire(wire.outcome.error));
      handle._settle();
    } else this.#handles.set(wire.id, handle);
    return handle;
  };

  readonly maybeHandle = (value: unknown): TaskHandle | undefined => (value === undefined ? undefined : this.handleFromWire(value));

  /** This tab takes the lead: the handles held go to its engine, and none are held here any more. */
  takeHandles(): TaskHandle[] {
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    return handles;
  }

  /** A new leader knows nothing of the handles held here, and some of their tasks may have ended meanwhile. */
  rewatch(): void {
    if (this.#handles.size === 0) return;
    this.#host.watch([...this.#handles.keys()]).then(
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
      (error: Error) => this.#host.warn(error),
    );
  }

  /** This tab closed: every handle held here rejects with `error`. */
  close(error: Error): void {
    for (const handle of this.#handles.values()) {
      handle._stage(handle.status, false, error);
      handle._settle();
    }
    this.#handles.clear();
  }
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
