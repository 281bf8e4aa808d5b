/** A fixed-size ring of recent samples with percentiles computed on demand, off the hot path. */
export class SampleRing {
  readonly #values: Float64Array;
  #count = 0;
  #next = 0;

  constructor(size = 1024) {
    this.#values = new Float64Array(size);
  }

  add(value: number): void {
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#count < this.#values.length) this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** Nearest-rank percentile (p in 0..100) of the samples held, or 0 when empty. */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const sorted = this.#values.slice(0, this.#count).sort();
    const rank = Math.min(this.#count - 1, Math.max(0, Math.ceil((p / 100) * this.#count) - 1));
    return sorted[rank] as number;
  }
}

/** What the engine counts as it goes, bumped where each thing happens and read by `metrics()`. */
export class Counters {
  readonly counts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, skipped: 0, retried: 0 };
  /** Time from ready to started, ms. */
  readonly waitMs = new SampleRing();
  /** Time from started to finished, ms. */
  readonly runMs = new SampleRing();
}

export interface Metrics {
  submitted: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Tasks skipped because a dependency ended the wrong way. */
  skipped: number;
  retried: number;
  /** Live tasks per priority level 0..4 (ready and delayed). */
  queuedByPriority: number[];
  queued: number;
  /** Tasks waiting for their dependencies (not in the queue yet). */
  waiting: number;
  running: number;
  workers: { total: number; idle: number; busy: number; starting: number; spawned: number; crashed: number };
  /** Time from ready to started, ms. */
  waitMs: { p50: number; p95: number };
  /** Time from started to finished, ms. */
  runMs: { p50: number; p95: number };
  /** completed / (completed + failed), 1 when nothing finished yet. */
  successRate: number;
  /** `ok`, `degraded` (see `healthReason`), `paused` or `closed`. */
  health: 'ok' | 'degraded' | 'paused' | 'closed';
  /**
   * Why something is wrong, while it is (set whenever `health` is `'degraded'`; while paused too):
   * e.g. the worker module cannot load (the breaker opened and no worker has loaded since), state
   * changes cannot be committed (out of quota), the database was lost.
   */
  healthReason?: string;
  /** What the store last measured of its storage (IndexedDB store only), so an app can act before the quota is hit. */
  storage?: StorageInfo;
  /** With `limits`: each limited group, what runs in it and until when it waits (rate window full, or paused by a `RateLimitedError`). */
  groups?: GroupState[];
}

/** One `limits` group as `metrics().groups` shows it. */
export interface GroupState {
  name: string;
  running: number;
  /** Its `concurrency` limit, if any. */
  concurrency?: number;
  /** Starts in the current rate window, with the window's `max`, if it has a rate. */
  rate?: { starts: number; max: number; perMs: number };
  /** Scheduler-clock ms until which no task of the group may start; absent when one may start now (concurrency aside). */
  waitsUntil?: number;
  /** Whether the wait is a pause from a handler's `RateLimitedError`. */
  paused?: boolean;
}

/** Storage use as the browser reports it (`navigator.storage.estimate()`), measured after commits, at most every few seconds. */
export interface StorageInfo {
  /** Bytes used by the origin (or by the Storage Bucket the store lives in). */
  usage: number;
  /** Bytes it may use. */
  quota: number;
  /** Whether the browser granted persistent storage (`persist: true` asks for it); absent when not asked. */
  persisted?: boolean;
  /** Epoch ms of the measurement. */
  measuredAt: number;
}
