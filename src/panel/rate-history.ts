/** One second of history. */
export interface HistoryBucket {
  /** Epoch second. */
  second: number;
  completed: number;
  failed: number;
  /** Largest queue depth seen during the second (carried forward while nothing was seen). */
  depth: number;
}

/**
 * Per-second counters for the panel's charts, kept for the last `size` seconds. Buckets are
 * filled from events as they come; seconds in which nothing happened read as zero throughput and
 * the last known depth, so nothing needs to run on a timer.
 */
export class RateHistory {
  readonly size: number;
  readonly #buckets: HistoryBucket[] = [];
  #lastDepth = 0;
  /** Buckets whose depth was measured, not carried forward. */
  readonly #sampled = new WeakSet<HistoryBucket>();

  constructor(size = 60) {
    this.size = size;
  }

  #bucket(atMs: number): HistoryBucket {
    const second = Math.floor(atMs / 1_000);
    const last = this.#buckets[this.#buckets.length - 1];
    if (last && last.second === second) return last;
    if (last && last.second > second) return last; // clock stepped back: fold into the newest
    const bucket = { second, completed: 0, failed: 0, depth: this.#lastDepth };
    this.#buckets.push(bucket);
    if (this.#buckets.length > this.size) this.#buckets.splice(0, this.#buckets.length - this.size);
    return bucket;
  }

  count(kind: 'completed' | 'failed', atMs: number): void {
    this.#bucket(atMs)[kind]++;
  }

  depth(depth: number, atMs: number): void {
    const bucket = this.#bucket(atMs);
    bucket.depth = this.#sampled.has(bucket) ? Math.max(bucket.depth, depth) : depth;
    this.#sampled.add(bucket);
    this.#lastDepth = depth;
  }

  /** The last `size` seconds ending at `atMs`, oldest first, gaps filled. */
  series(atMs: number): HistoryBucket[] {
    const end = Math.floor(atMs / 1_000);
    const out: HistoryBucket[] = [];
    let i = 0;
    let depth = 0;
    for (let second = end - this.size + 1; second <= end; second++) {
      while (i < this.#buckets.length && (this.#buckets[i] as HistoryBucket).second < second)
        depth = (this.#buckets[i++] as HistoryBucket).depth;
      const b = this.#buckets[i];
      if (b && b.second === second) {
        out.push(b);
        depth = b.depth;
        i++;
      } else out.push({ second, completed: 0, failed: 0, depth });
    }
    return out;
  }
}
