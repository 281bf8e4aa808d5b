import { heapPeek, heapPop, heapPush, heapRestoreFrom } from './heap.js';
import type { IdRun } from './id-run.js';
import { RUN_MIN, TaskTable } from './task-table.js';
import type { PriorityLevel } from './types.js';

/** What ordering needs of a task, and nothing more: inputs stay in the store. */
export interface IndexEntry {
  id: string;
  /** Task name: lets dispatch estimate a task's cost without reading the store. */
  name: string;
  priority: PriorityLevel;
  /** The later of enqueue time and `runAt`, in scheduler-clock ms. */
  readyAt: number;
  seq: number;
  /** Lazy deletion: a removed entry stays in its heap and is skipped when it surfaces. */
  dead?: boolean;
  /** Set while the entry sits in the delayed heap. */
  delayed?: boolean;
}

/** Ready order: priority, then readyAt, then seq. */
const readyLess = (a: IndexEntry, b: IndexEntry): boolean =>
  a.priority !== b.priority ? a.priority < b.priority : a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq;

/** Timer order: readyAt, then seq. */
const delayedLess = (a: IndexEntry, b: IndexEntry): boolean =>
  a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq;

/**
 * The queue's order: a ready heap and a delayed heap, as in React's scheduler. Delayed entries move
 * to the ready heap when due, so a delayed task never blocks a ready one. Removal is lazy.
 */
export class TaskIndex {
  readonly #ready: IndexEntry[] = [];
  readonly #delayed: IndexEntry[] = [];
  /** Every live entry by id. */
  readonly #live = new TaskTable<IndexEntry>();
  readonly #byPriority: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  #delayedCount = 0;

  get size(): number {
    return this.#live.size;
  }

  /** Live entries per priority level (ready and delayed). */
  countsByPriority(): readonly number[] {
    return this.#byPriority.slice();
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  get(id: string): IndexEntry | undefined {
    return this.#live.get(id);
  }

  add(entry: IndexEntry, now: number): void {
    if (this.has(entry.id)) throw new Error(`task ${entry.id} is already indexed`);
    this.#live.set(entry);
    this.#byPriority[entry.priority]++;
    if (entry.readyAt > now) {
      entry.delayed = true;
      this.#delayedCount++;
      heapPush(this.#delayed, entry, delayedLess);
    } else {
      entry.delayed = false;
      heapPush(this.#ready, entry, readyLess);
    }
  }

  /**
   * Adds a staged batch at once: appended to the heaps, which are then restored once each
   * (`heapRestoreFrom`). Its ids are taken as new (minted from a counter range of its own), so a
   * big batch is held by position and no id is hashed here; a small one is checked first and
   * throws, changing nothing, if an id is already indexed.
   */
  addMany(batch: IdRun<IndexEntry>, now: number): void {
    const entries = batch.slots as readonly IndexEntry[];
    if (batch.size < RUN_MIN) for (const entry of entries) if (this.has(entry.id)) throw new Error(`task ${entry.id} is already indexed`);
    this.#live.addRun(batch);
    const ready = this.#ready;
    const delayed = this.#delayed;
    const byPriority = this.#byPriority;
    const readyFrom = ready.length;
    const delayedFrom = delayed.length;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as IndexEntry;
      byPriority[entry.priority]++;
      if (entry.readyAt > now) {
        entry.delayed = true;
        delayed.push(entry);
      } else {
        entry.delayed = false;
        ready.push(entry);
      }
    }
    this.#delayedCount += delayed.length - delayedFrom;
    heapRestoreFrom(ready, readyFrom, readyLess);
    heapRestoreFrom(delayed, delayedFrom, delayedLess);
  }

  remove(id: string): IndexEntry | undefined {
    const entry = this.get(id);
    if (!entry) return undefined;
    entry.dead = true;
    if (entry.delayed) this.#delayedCount--;
    this.#live.delete(id);
    this.#byPriority[entry.priority]--;
    return entry;
  }

  #promote(now: number): void {
    for (let top = heapPeek(this.#delayed); top && top.readyAt <= now; top = heapPeek(this.#delayed)) {
      heapPop(this.#delayed, delayedLess);
      if (top.dead) continue;
      top.delayed = false;
      this.#delayedCount--;
      heapPush(this.#ready, top, readyLess);
    }
  }

  /** The next ready entry without taking it. */
  peek(now: number): IndexEntry | undefined {
    this.#promote(now);
    let top = heapPeek(this.#ready);
    while (top?.dead) {
      heapPop(this.#ready, readyLess);
      top = heapPeek(this.#ready);
    }
    return top;
  }

  /** Takes the next ready entry: most urgent priority, then earliest readyAt, then enqueue order. */
  next(now: number): IndexEntry | undefined {
    const top = this.peek(now);
    if (!top) return undefined;
    heapPop(this.#ready, readyLess);
    this.#live.delete(top.id);
    this.#byPriority[top.priority]--;
    return top;
  }

  /** When the earliest delayed entry becomes ready, or undefined when none waits. */
  nextWakeAt(): number | undefined {
    let top = heapPeek(this.#delayed);
    while (top?.dead) {
      heapPop(this.#delayed, delayedLess);
      top = heapPeek(this.#delayed);
    }
    return top?.readyAt;
  }

  /** Number of live entries ready at `now`. */
  readyCount(now: number): number {
    this.#promote(now);
    return this.size - this.#delayedCount;
  }

  /**
   * The next `limit` ready entries in dispatch order, without taking them: a best-first walk from
   * the heap's root over a small frontier heap of positions, O(limit log limit) whatever the queue
   * size (dead entries are stepped over, their subtrees still ordered). For read-ahead on every dispatch.
   */
  upcoming(limit: number, now: number): IndexEntry[] {
    this.#promote(now);
    const heap = this.#ready;
    const out: IndexEntry[] = [];
    if (limit <= 0 || heap.length === 0) return out;
    const less = (i: number, j: number) => readyLess(heap[i] as IndexEntry, heap[j] as IndexEntry);
    const frontier = [0];
    for (let steps = 0; out.length < limit && steps < 4 * limit; steps++) {
      const i = heapPop(frontier, less);
      if (i === undefined) break;
      const entry = heap[i] as IndexEntry;
      if (!entry.dead) out.push(entry);
      const left = 2 * i + 1;
      if (left < heap.length) heapPush(frontier, left, less);
      if (left + 1 < heap.length) heapPush(frontier, left + 1, less);
    }
    return out;
  }

  /** All live entries, unordered. */
  entries(): IterableIterator<IndexEntry> {
    return this.#live.values();
  }

  /** Removes every entry at once and returns them (live ones only), unordered. */
  clear(): IndexEntry[] {
    const out = this.#live.clear();
    for (const entry of out) entry.dead = true;
    this.#ready.length = 0;
    this.#delayed.length = 0;
    this.#byPriority.fill(0);
    this.#delayedCount = 0;
    return out;
  }
}
