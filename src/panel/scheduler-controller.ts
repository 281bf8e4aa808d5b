import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { SCHEDULER_EVENT_TYPES, type TaskEvent, type WarningEvent, type WorkerEvent } from '../events.js';
import type { Metrics } from '../metrics.js';
import type { LeaderState, QueuePeek, Scheduler } from '../scheduler-api.js';
import { shortId } from './format.js';
import { type HistoryBucket, RateHistory } from './rate-history.js';
import { RecentTasks, type TaskRow, toRow } from './recent-tasks.js';
import { SchedulerSubscription } from './scheduler-subscription.js';

/** What the panel needs of a scheduler: any `Scheduler<Tasks>` fits. */
export type PanelScheduler = Pick<
  Scheduler,
  | 'name'
  | 'paused'
  | 'leader'
  | 'addEventListener'
  | 'removeEventListener'
  | 'metrics'
  | 'workers'
  | 'peekLanes'
  | 'list'
  | 'cancel'
  | 'retry'
  | 'discard'
  | 'pause'
  | 'resume'
  | 'schedules'
>;

/** One worker card: a live worker from `workers()`, or one that exited lately. */
export interface WorkerCard {
  id: number;
  state: 'starting' | 'idle' | 'busy' | 'terminated' | 'crashed';
  taskId?: string;
  taskName?: string;
  /** Scheduler-clock ms the running task started. */
  startedAt?: number;
  timeoutMs?: number;
  progress?: number;
  completed: number;
  /** Why an exited worker went. */
  reason?: string;
}

/** A task waiting for its `runAt`: delayed at enqueue, or backing off before a retry. */
export interface WaitingRow extends QueuePeek {
  kind: 'delayed' | 'retrying';
  /** For a retry: the attempt that failed and the attempts allowed. */
  attempt?: number;
  attempts?: number;
  error?: string;
}

/** Everything one render shows, read from the scheduler at most once per animation frame. */
export interface PanelSnapshot {
  name: string;
  /** Scheduler-clock ms when the snapshot was taken: `readyAt` and `startedAt` are on this clock. */
  now: number;
  paused: boolean;
  /** Which tab runs the queue. */
  leader: LeaderState;
  metrics: Metrics;
  lanes: { count: number; top: QueuePeek[] }[];
  waiting: WaitingRow[];
  waitingCount: number;
  workers: WorkerCard[];
  history: HistoryBucket[];
}

const EVENTS = SCHEDULER_EVENT_TYPES;
/** Exited workers kept on screen. */
const GHOSTS = 3;
const TICK_MS = 1_000;

/**
 * Feeds a host element from a scheduler's events. It subscribes in `hostConnected`, unsubscribes
 * in `hostDisconnected`, and turns any number of events into at most one snapshot and one host
 * update per animation frame. Reading the queue costs O(queued) (`peekLanes`), so 10,000 queued
 * tasks cost one pass per frame, never one per event.
 *
 * It never polls: the one timer is a 1-per-second tick, armed only while a task runs or waits for
 * its `runAt`, so elapsed times and countdowns move between events. It stops when nothing does.
 */
export class SchedulerController implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #sub = new SchedulerSubscription<PanelScheduler>({
    listener: this,
    types: EVENTS,
    replaced: () => {
      this.activity.clear();
      this.failed.clear();
      this.#retrying.clear();
      this.#ghosts.length = 0;
      this.snapshot = undefined;
      this.notice = '';
    },
    subscribed: (s) => this.#subscribed(s),
    unsubscribed: () => {
      if (this.#tick !== undefined) clearTimeout(this.#tick);
      this.#tick = undefined;
    },
    frame: () => this.#flush(),
  });
  #tick?: ReturnType<typeof setTimeout>;
  readonly #retrying = new Map<string, { attempt: number; attempts: number; error?: string }>();
  readonly #ghosts: WorkerCard[] = [];
  readonly activity = new RecentTasks(50);
  /** The dead-letter set: failed tasks, newest last. */
  readonly failed = new RecentTasks(500);
  readonly history = new RateHistory(60);
  /** Rows per lane. @default 3 */
  laneLimit = 3;
  snapshot?: PanelSnapshot;
  /** The last action's outcome or warning, for a polite live region. */
  notice = '';
  /** Snapshots taken so far: at most one per animation frame however many events arrive. */
  flushes = 0;

  constructor(host: ReactiveControllerHost) {
    this.#host = host;
    host.addController(this);
  }

  get scheduler(): PanelScheduler | undefined {
    return this.#sub.scheduler;
  }

  /** Follows a new scheduler (or none); resubscribes if the host is connected. */
  attach(scheduler: PanelScheduler | undefined): void {
    this.#sub.attach(scheduler);
  }

  hostConnected(): void {
    this.#sub.connect();
  }

  hostDisconnected(): void {
    this.#sub.disconnect();
  }

  /** Listeners are on `s`: the failed tasks it already holds join the dead-letter set. */
  #subscribed(s: PanelScheduler): void {
    const generation = this.#sub.generation;
    // Tasks that failed before we looked (or before a reload) belong in the dead-letter set too.
    s.list({ status: 'failed', limit: this.failed.size }).then(
      (tasks) => {
        if (generation !== this.#sub.generation) return;
        tasks.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
        for (const task of tasks) if (!this.failed.has(task.id)) this.failed.note(toRow(task, task.finishedAt ?? 0));
        this.#schedule();
      },
      () => {},
    );
    this.#schedule();
  }

  /** EventListener object: every scheduler event lands here. Cheap bookkeeping, then one frame. */
  handleEvent(event: Event): void {
    switch (event.type) {
      case 'enqueued': {
        const { task } = event as TaskEvent;
        // A retry of a dead-letter task re-enqueues it under the same id.
        if (this.failed.remove(task.id)) this.activity.note(toRow(task, task.createdAt));
        break;
      }
      case 'started': {
        const { task } = event as TaskEvent;
        this.#retrying.delete(task.id);
        this.activity.note(toRow(task, task.startedAt ?? 0));
        break;
      }
      case 'retrying': {
        const { task, error } = event as TaskEvent;
        const row = toRow(task, task.finishedAt ?? 0, error);
        this.#retrying.set(task.id, { attempt: task.attempt, attempts: task.retry.attempts, error: row.error });
        this.activity.note(row);
        break;
      }
      case 'completed':
      case 'failed':
      case 'cancelled':
      case 'skipped': {
        const { task, error } = event as TaskEvent;
        this.#retrying.delete(task.id);
        const row = toRow(task, task.finishedAt ?? 0, error);
        this.activity.note(row);
        if (event.type === 'failed') this.failed.note(row);
        if (event.type === 'completed' || event.type === 'failed') this.history.count(event.type, Date.now());
        break;
      }
      case 'worker': {
        const e = event as WorkerEvent;
        if (e.state === 'crashed' || e.state === 'terminated') {
          this.#ghosts.unshift({ id: e.workerId, state: e.state, completed: 0, reason: e.error?.message });
          this.#ghosts.length = Math.min(this.#ghosts.length, GHOSTS);
        }
        break;
      }
      case 'warning':
        this.notice = `Warning: ${(event as WarningEvent).error.message}`;
        break;
    }
    this.#schedule();
  }

  #schedule(): void {
    this.#sub.requestFrame();
  }

  #flush(): void {
    const s = this.#sub.scheduler;
    if (!s) return;
    this.flushes++;
    const peek = s.peekLanes(this.laneLimit);
    const metrics = s.metrics();
    const wallNow = Date.now();
    this.history.depth(metrics.queued, wallNow);
    const live: WorkerCard[] = s.workers().map((w) => ({
      ...w,
      state: w.state === 'starting' || w.state === 'busy' || w.state === 'terminated' ? w.state : 'idle',
    }));
    const liveIds = new Set(live.map((w) => w.id));
    const waiting: WaitingRow[] = peek.waiting.map((p) => {
      const retry = this.#retrying.get(p.id);
      return retry ? { ...p, kind: 'retrying', ...retry } : { ...p, kind: 'delayed' };
    });
    this.snapshot = {
      name: s.name,
      now: peek.now,
      paused: s.paused,
      leader: s.leader,
      metrics,
      lanes: peek.lanes,
      waiting,
      waitingCount: peek.waitingCount,
      workers: live.concat(this.#ghosts.filter((g) => !liveIds.has(g.id))),
      history: this.history.series(wallNow),
    };
    this.#host.requestUpdate();
    // The 1-per-second tick for elapsed times and countdowns: only while something runs or waits.
    if ((metrics.running > 0 || peek.waitingCount > 0) && this.#tick === undefined && this.#sub.connected)
      this.#tick = setTimeout(() => {
        this.#tick = undefined;
        this.#schedule();
      }, TICK_MS);
  }

  /** Runs a panel button's action and reports the outcome in `notice`. Never throws. */
  async act(action: 'cancel' | 'retry' | 'discard', id: string, label = shortId(id)): Promise<void> {
    const s = this.#sub.scheduler;
    if (!s) return;
    try {
      if (action === 'cancel') {
        const cancelled = await s.cancel(id, 'cancelled from the panel');
        this.notice = cancelled ? `Cancelled ${label}.` : `${label} had already finished: nothing to cancel.`;
      } else if (action === 'retry') {
        await s.retry(id);
        this.failed.remove(id);
        this.notice = `Retrying ${label}.`;
      } else {
        const removed = await s.discard(id);
        this.failed.remove(id);
        this.activity.remove(id);
        this.notice = removed ? `Discarded ${label}.` : `${label} was already gone.`;
      }
    } catch (error) {
      this.notice = `Could not ${action} ${label}: ${(error as Error)?.message ?? String(error)}`;
    }
    this.#schedule();
  }

  togglePause(): void {
    const s = this.#sub.scheduler;
    if (!s) return;
    if (s.paused) s.resume();
    else s.pause();
  }

  /** Rows of the activity list, newest first. */
  recent(limit: number): TaskRow[] {
    return this.activity.newest(limit);
  }
}
