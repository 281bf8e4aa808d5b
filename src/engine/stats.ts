import type { Clock } from '../clock.js';
import type { Counters, GroupState, Metrics } from '../metrics.js';
import type { Pool } from '../pool.js';
import type { LanesPeek, QueuePeek, WorkerInfo } from '../scheduler-api.js';
import type { TaskStore } from '../store.js';
import type { TaskIndex } from '../task-index.js';
import type { Active } from './live-tasks.js';

export interface StatsHost {
  readonly clock: Clock;
  readonly index: TaskIndex;
  readonly active: ReadonlyMap<string, Active>;
  readonly pool: Pick<Pool, 'workers' | 'stats' | 'healthReason'>;
  readonly counters: Counters;
  /** The store, for its part of `health` (commits failing, a lost database). */
  readonly store?: Pick<TaskStore, 'health' | 'storage'>;
  /** Tasks waiting for their dependencies. */
  waiting(): number;
  /** The `limits` groups' state, when there are limits. */
  groups?(now: number): GroupState[];
  /** The scheduler's lifecycle state, for `health`. */
  state(): 'open' | 'paused' | 'closed';
}

/** Read-only views of the engine for panels and callers: metrics, workers, the lanes of the queue. */
export class Stats {
  readonly #host: StatsHost;

  constructor(host: StatsHost) {
    this.#host = host;
  }

  /**
   * One pass over the index with a bounded selection per lane: O(n · limit), cheap at 10,000
   * queued; a big `enqueueMany` batch counts as a few groups, not as its tasks (`TaskIndex.scan`).
   */
  peekLanes(limit: number): LanesPeek {
    const now = this.#host.clock.now();
    const index = this.#host.index;
    const counts = index.countsByPriority();
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
    index.scan(
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

  workers(): WorkerInfo[] {
    const active = this.#host.active;
    return this.#host.pool.workers.map((w) => {
      const head = w.calls[0];
      const record = head ? active.get(head.id)?.record : undefined;
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

  metrics(): Metrics {
    const { index, pool, counters } = this.#host;
    const byPriority = [...index.countsByPriority()];
    const workers = { total: 0, idle: 0, busy: 0, starting: 0, spawned: pool.stats.spawned, crashed: pool.stats.crashed };
    for (const w of pool.workers) {
      workers.total++;
      if (w.state === 'starting') workers.starting++;
      else if (w.calls.length > 0) workers.busy++;
      else workers.idle++;
    }
    const counts = counters.counts;
    const finished = counts.completed + counts.failed;
    const state = this.#host.state();
    const reasons = state === 'open' || state === 'paused' ? [this.#host.store?.health?.(), pool.healthReason].filter(Boolean) : [];
    const reason = reasons.length > 0 ? reasons.join('; ') : undefined;
    const metrics: Metrics = {
      ...counts,
      queuedByPriority: byPriority,
      queued: index.size,
      waiting: this.#host.waiting(),
      running: this.#host.active.size,
      workers,
      waitMs: { p50: counters.waitMs.percentile(50), p95: counters.waitMs.percentile(95) },
      runMs: { p50: counters.runMs.percentile(50), p95: counters.runMs.percentile(95) },
      successRate: finished === 0 ? 1 : counts.completed / finished,
      health: state === 'closed' ? 'closed' : state === 'paused' ? 'paused' : reason ? 'degraded' : 'ok',
    };
    if (reason) metrics.healthReason = reason;
    const storage = this.#host.store?.storage?.();
    if (storage) metrics.storage = storage;
    const groups = this.#host.groups?.(this.#host.clock.now());
    if (groups) metrics.groups = groups;
    return metrics;
  }
}
