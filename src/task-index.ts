/** The queue's order: the ready and delayed heaps (one ready heap per level with aging) over entries and lanes. */
import { agedLess, effectivePriority } from './aging.js';
import { heapPeek, heapPop, heapPush, heapRestoreFrom, heapRootChanged } from './heap.js';
import { IdMinter, IdRun, type MintedIds, mintedNumber } from './id-run.js';
import { type IndexEntry, type NewTask, type NewTasks, newTasksOf } from './index-entry.js';
import { GONE, Lane, LaneBatch } from './task-lanes.js';
import { RUN_MIN, TaskTable } from './task-table.js';
import type { PriorityLevel } from './types.js';

// Kept importable from here for src/scheduler.ts, src/engine/resume-runs.ts (entryOf) and src/idb/log-load.ts (Stretch).
export { entryOf, type Stretch } from './index-entry.js';

/** The ordering key every heap node has. */
interface Keyed {
  readonly priority: number;
  readonly readyAt: number;
  readonly seq: number;
}

/** Ready order: priority, then readyAt, then seq. */
const readyLess = (a: Keyed, b: Keyed): boolean =>
  a.priority !== b.priority ? a.priority < b.priority : a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq;

/** Timer order: readyAt, then seq. */
const delayedLess = (a: Keyed, b: Keyed): boolean => (a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq);

/** A laned batch's remaining tasks become entries once fewer than this are left. */
const FOLD_BELOW = 256;

/** A heap node: one task, or a lane of a big batch's tasks. */
type HeapNode = IndexEntry | Lane;

/** A place in `upcoming`'s walk: a heap node not opened yet (`k` -1), or a lane's task `positions[k]`. */
interface Frontier extends Keyed {
  /** Which ready heap (the one, or a priority level's with aging). */
  h: number;
  i: number;
  k: number;
}

/** The ids of cleared entries, then of cleared batches' live positions (minted again in order, as enqueueMany minted them: a stem per 36 ids). */
function* clearedIds(entries: readonly IndexEntry[], batches: readonly LaneBatch[]): IterableIterator<string> {
  for (const entry of entries) yield entry.id;
  for (const batch of batches) {
    const minter = new IdMinter(batch.prefix, batch.first);
    for (let pos = 0; pos < batch.count; pos++) {
      const id = minter.next();
      if (batch.laneIndex(pos) !== GONE) yield id;
    }
  }
}

/**
 * The queue's order: a ready heap and a delayed heap, as in React's scheduler. Delayed entries move
 * to the ready heap when due, so a delayed task never blocks a ready one. Removal is lazy. A big
 * batch (`addBatch`) sits in the heaps as a few lanes instead of a node per task.
 *
 * With `agingMs` (see `aging.ts`) the ready heap is one heap per priority level instead: each level
 * is in (readyAt, seq) order, so its head is its oldest, the one that has aged the most, and the
 * next task is the best of the five heads by aged order. Without it, nothing of that runs.
 */
export class TaskIndex {
  /** The ready heap; empty with aging, where `#levels` holds the ready nodes. */
  readonly #ready: HeapNode[] = [];
  /** With aging: a ready heap per priority level. */
  readonly #levels: HeapNode[][] | undefined;
  readonly #agingMs: number;
  /** Laned tasks' groups are kept, so their entries carry them (for a limits gate). */
  readonly #groups: boolean;
  readonly #delayed: HeapNode[] = [];
  /** Every live entry by id, but those in lanes. */
  readonly #live = new TaskTable<IndexEntry>();
  #batches: LaneBatch[] = [];
  readonly #byPriority: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  #size = 0;
  #delayedCount = 0;

  /**
   * `agingMs`: a ready task rises one priority level per this many ms it waits (see `aging.ts`).
   * `groups`: every entry carries its task's group, laned ones too (a limits gate reads it).
   */
  constructor(agingMs?: number, groups = false) {
    this.#agingMs = agingMs ?? 0;
    this.#groups = groups;
    this.#levels = agingMs === undefined ? undefined : [[], [], [], [], []];
  }

  /** The ready heap nodes of `priority` go in. */
  #heapOf(priority: PriorityLevel): HeapNode[] {
    const levels = this.#levels;
    return levels ? (levels[priority] as HeapNode[]) : this.#ready;
  }

  get size(): number {
    return this.#size;
  }

  /** Live entries per priority level (ready and delayed). */
  countsByPriority(): readonly number[] {
    return this.#byPriority.slice();
  }

  has(id: string): boolean {
    if (this.#live.has(id)) return true;
    return this.#locate(id) !== undefined;
  }

  /** The task's entry; one in a lane is made afresh on each call (only its fields are its). */
  get(id: string): IndexEntry | undefined {
    const entry = this.#live.get(id);
    if (entry) return entry;
    const found = this.#locate(id);
    if (!found) return undefined;
    const [batch, pos] = found;
    const lane = batch.laneAt(pos);
    const laned = lane.entryOf(pos, id);
    laned.delayed = lane.delayed;
    return laned;
  }

  /** The laned batch holding `id` and its position there, if a lane holds it. */
  #locate(id: string): [LaneBatch, number] | undefined {
    const batches = this.#batches;
    // Batches share the scheduler's prefix: the id is parsed once, not once per batch.
    let prefix: string | undefined;
    let n = -1;
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b] as LaneBatch;
      if (batch.prefix !== prefix) {
        prefix = batch.prefix;
        n = mintedNumber(prefix, id);
      }
      const pos = batch.positionAt(n);
      if (pos >= 0) return [batch, pos];
    }
    return undefined;
  }

  add(entry: IndexEntry, now: number): void {
    if (this.has(entry.id)) throw new Error(`task ${entry.id} is already indexed`);
    this.#live.set(entry);
    this.#byPriority[entry.priority]++;
    this.#size++;
    if (entry.readyAt > now) {
      entry.delayed = true;
      this.#delayedCount++;
      heapPush(this.#delayed, entry, delayedLess);
    } else {
      entry.delayed = false;
      heapPush(this.#heapOf(entry.priority), entry, readyLess);
    }
  }

  /**
   * Adds new tasks at once. `tasks[i]` must carry the i-th id minted from `minted`, and seqs must
   * be consecutive. A big batch (RUN_MIN or more) goes in as lanes: no id is hashed and no entry
   * made. Otherwise each task gets an entry, appended to the heaps, which are then restored once
   * each (`heapRestoreFrom`); a small batch is checked first and throws, changing nothing, if an id
   * is already indexed.
   */
  addBatch(tasks: readonly NewTask[] | NewTasks, minted: MintedIds, now: number): void {
    const view = Array.isArray(tasks) ? newTasksOf(tasks) : (tasks as NewTasks);
    if (view.size === 0) return;
    const batch = view.size >= RUN_MIN ? LaneBatch.of(view, minted, this.#groups) : undefined;
    if (batch) this.#addLanes(batch, now);
    else this.#addEntries(view, minted, now);
  }

  #addLanes(batch: LaneBatch, now: number): void {
    this.#batches.push(batch);
    this.#size += batch.size;
    for (const lane of batch.lanes) {
      this.#byPriority[lane.priority] += lane.live;
      if (lane.readyAt > now) {
        lane.delayed = true;
        this.#delayedCount += lane.live;
        heapPush(this.#delayed, lane, delayedLess);
      } else heapPush(this.#heapOf(lane.priority), lane, readyLess);
    }
  }

  #addEntries(tasks: NewTasks, minted: MintedIds, now: number): void {
    const n = tasks.size;
    if (n < RUN_MIN)
      for (let i = 0; i < n; i++) {
        const id = tasks.id(i);
        if (this.has(id)) throw new Error(`task ${id} is already indexed`);
      }
    const ready = this.#ready;
    const delayed = this.#delayed;
    const byPriority = this.#byPriority;
    const levels = this.#levels;
    const groupOf = tasks.group;
    const readyFrom = ready.length;
    const delayedFrom = delayed.length;
    const big = n >= RUN_MIN;
    const held: IndexEntry[] = [];
    for (let i = 0; i < n; i++) {
      const readyAt = tasks.runAt(i);
      const entry: IndexEntry = {
        id: tasks.id(i),
        name: tasks.name(i),
        priority: tasks.priority(i),
        readyAt,
        seq: tasks.seq(i),
        group: groupOf?.(i),
        delayed: readyAt > now,
      };
      if (big) held.push(entry);
      else this.#live.set(entry);
      byPriority[entry.priority]++;
      if (entry.delayed) delayed.push(entry);
      else if (levels) heapPush(levels[entry.priority] as HeapNode[], entry, readyLess);
      else ready.push(entry);
    }
    // A big batch is held by position, as minted: no id is hashed.
    if (big) this.#live.addRun(new IdRun(minted.prefix, minted.first, held));
    this.#size += n;
    this.#delayedCount += delayed.length - delayedFrom;
    heapRestoreFrom(ready, readyFrom, readyLess);
    heapRestoreFrom(delayed, delayedFrom, delayedLess);
  }

  remove(id: string): IndexEntry | undefined {
    const entry = this.#live.get(id);
    if (entry) {
      entry.dead = true;
      if (entry.delayed) this.#delayedCount--;
      this.#live.delete(id);
      this.#left(entry);
      return entry;
    }
    const found = this.#locate(id);
    if (!found) return undefined;
    const [batch, pos] = found;
    const lane = batch.laneAt(pos);
    const removed = lane.remove(pos, id);
    removed.dead = true;
    if (lane.delayed) this.#delayedCount--;
    this.#left(removed);
    this.#foldIfSmall(batch);
    return removed;
  }

  /** Puts queued task `id` back in line as ready at `readyAt` (its place among equals is then by that time); false if it is not queued. */
  moveTo(id: string, readyAt: number, now: number): boolean {
    const entry = this.remove(id);
    if (entry) this.add({ id, name: entry.name, priority: entry.priority, readyAt, seq: entry.seq, group: entry.group }, now);
    return entry !== undefined;
  }

  #left(entry: IndexEntry): void {
    this.#byPriority[entry.priority]--;
    this.#size--;
  }

  /**
   * A laned batch with few tasks left goes back to entries, so lookups stop scanning it. Entries
   * already made (a peeked head) are kept as they are.
   */
  #foldIfSmall(batch: LaneBatch): void {
    if (batch.size >= FOLD_BELOW) return;
    this.#batches = this.#batches.filter((b) => b !== batch);
    for (const lane of batch.lanes) {
      if (lane.dead) continue;
      const heap = lane.delayed ? this.#delayed : this.#heapOf(lane.priority);
      const less = lane.delayed ? delayedLess : readyLess;
      for (const entry of lane.entries()) {
        entry.delayed = lane.delayed;
        this.#live.set(entry);
        heapPush(heap, entry, less);
      }
      lane.dead = true;
    }
  }

  #promote(now: number): void {
    for (let top = heapPeek(this.#delayed); top && top.readyAt <= now; top = heapPeek(this.#delayed)) {
      heapPop(this.#delayed, delayedLess);
      if (top.dead) continue;
      top.delayed = false;
      this.#delayedCount -= top instanceof Lane ? top.live : 1;
      heapPush(this.#heapOf(top.priority), top, readyLess);
    }
  }

  /** The next ready entry without taking it. */
  peek(now: number): IndexEntry | undefined {
    this.#promote(now);
    return this.#headOf(this.#levels ? this.#agedHeap(this.#levels, now) : this.#ready);
  }

  /** The level whose head comes first by aged order (`#ready`, empty, when every level is). */
  #agedHeap(levels: HeapNode[][], now: number): HeapNode[] {
    let best = this.#ready;
    let bestHead: IndexEntry | undefined;
    for (let p = 0; p < levels.length; p++) {
      const heap = levels[p] as HeapNode[];
      const head = this.#headOf(heap);
      if (head && (!bestHead || agedLess(head, bestHead, now, this.#agingMs))) {
        best = heap;
        bestHead = head;
      }
    }
    return best;
  }

  /** The first live entry of a ready heap, dropping dead nodes and stepping lanes past gone tasks. */
  #headOf(ready: HeapNode[]): IndexEntry | undefined {
    for (let top = heapPeek(ready); top; top = heapPeek(ready)) {
      if (top.dead) heapPop(ready, readyLess);
      else if (!(top instanceof Lane)) return top;
      else if (top.skipGone()) {
        if (top.dead) heapPop(ready, readyLess);
        else heapRootChanged(ready, readyLess);
      } else return top.entryAt(top.head);
    }
    return undefined;
  }

  /** Takes the next ready entry: most urgent priority, then earliest readyAt, then enqueue order. */
  next(now: number): IndexEntry | undefined {
    this.#promote(now);
    const ready = this.#levels ? this.#agedHeap(this.#levels, now) : this.#ready;
    const top = this.#headOf(ready);
    if (!top) return undefined;
    const node = heapPeek(ready) as HeapNode;
    if (node instanceof Lane) {
      node.takeHead();
      if (node.dead) heapPop(ready, readyLess);
      else heapRootChanged(ready, readyLess);
      this.#foldIfSmall(node.batch);
    } else {
      heapPop(ready, readyLess);
      this.#live.delete(top.id);
    }
    this.#left(top);
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
    return this.#size - this.#delayedCount;
  }

  /**
   * The next `limit` ready entries in dispatch order, without taking them: a best-first walk from
   * the heap's root over a small frontier heap, O(limit log limit) whatever the queue size. A heap
   * node's children join the frontier when it is opened; a lane's tasks join one at a time, each
   * keyed by its own seq. Dead entries are stepped over, their subtrees still ordered. For
   * read-ahead on every dispatch.
   */
  upcoming(limit: number, now: number): IndexEntry[] {
    this.#promote(now);
    const heaps = this.#levels ?? [this.#ready];
    const out: IndexEntry[] = [];
    if (limit <= 0) return out;
    // With aging the frontier is keyed by effective priority at `now`: within a level a child is
    // never older than its parent, so it never ages past it and the walk stays best-first.
    const aging = this.#agingMs;
    const level = (priority: number, readyAt: number) => (aging > 0 ? effectivePriority(priority, readyAt, now, aging) : priority);
    const frontier: Frontier[] = [];
    const open = (h: number, i: number) => {
      const node = (heaps[h] as HeapNode[])[i] as HeapNode;
      heapPush(frontier, { h, i, k: -1, priority: level(node.priority, node.readyAt), readyAt: node.readyAt, seq: node.seq }, readyLess);
    };
    const follow = (h: number, i: number, lane: Lane, from: number) => {
      const k = lane.nextLive(from);
      if (k >= 0)
        heapPush(
          frontier,
          {
            h,
            i,
            k,
            priority: level(lane.priority, lane.readyAt),
            readyAt: lane.readyAt,
            seq: lane.batch.firstSeq + (lane.positions[k] as number),
          },
          readyLess,
        );
    };
    for (let h = 0; h < heaps.length; h++) if ((heaps[h] as HeapNode[]).length > 0) open(h, 0);
    for (let steps = 0; out.length < limit && steps < 4 * limit; steps++) {
      const place = heapPop(frontier, readyLess);
      if (place === undefined) break;
      const heap = heaps[place.h] as HeapNode[];
      const node = heap[place.i] as HeapNode;
      if (place.k >= 0) {
        const lane = node as Lane;
        out.push(lane.entryAt(place.k));
        follow(place.h, place.i, lane, place.k + 1);
        continue;
      }
      const left = 2 * place.i + 1;
      if (left < heap.length) open(place.h, left);
      if (left + 1 < heap.length) open(place.h, left + 1);
      if (node instanceof Lane) {
        if (!node.dead) follow(place.h, place.i, node, node.head);
      } else if (!node.dead) out.push(node);
    }
    return out;
  }

  /**
   * For summaries (the panel's, every frame): visits every live entry, except that of a lane only
   * the first `limit` tasks are visited and the rest reported by count (they share the lane's
   * priority and readyAt, and follow the visited ones in order). O(entries + lanes · limit).
   */
  scan(limit: number, visit: (entry: IndexEntry) => void, rest: (priority: PriorityLevel, readyAt: number, count: number) => void): void {
    for (const entry of this.#live.values()) visit(entry);
    const batches = this.#batches;
    for (let b = 0; b < batches.length; b++) {
      const lanes = (batches[b] as LaneBatch).lanes;
      for (let l = 0; l < lanes.length; l++) {
        const lane = lanes[l] as Lane;
        if (lane.dead) continue;
        let seen = 0;
        for (const entry of lane.entries()) {
          if (seen === limit) break;
          visit(entry);
          seen++;
        }
        if (lane.live > seen) rest(lane.priority, lane.readyAt, lane.live - seen);
      }
    }
  }

  /** All live entries, unordered (those in lanes made as they are reached). */
  *entries(): IterableIterator<IndexEntry> {
    yield* this.#live.values();
    for (const batch of this.#batches) for (const lane of batch.lanes) if (!lane.dead) yield* lane.entries();
  }

  /** Removes every entry at once and returns the ids of the live ones, unordered. */
  clear(): string[] {
    return [...this.clearLazily()];
  }

  /**
   * `clear`, its ids given as they are iterated: the index is empty at once, and a batch's ids are
   * minted only as they are read, so a million queued cost no long task to let go of.
   */
  clearLazily(): IterableIterator<string> {
    const entries = this.#live.clear();
    for (const entry of entries) entry.dead = true;
    const batches = this.#batches;
    this.#batches = [];
    this.#ready.length = 0;
    if (this.#levels) for (const heap of this.#levels) heap.length = 0;
    this.#delayed.length = 0;
    this.#byPriority.fill(0);
    this.#size = 0;
    this.#delayedCount = 0;
    return clearedIds(entries, batches);
  }
}
