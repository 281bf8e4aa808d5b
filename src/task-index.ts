/** The queue's order: the ready and delayed heaps (one ready heap per level with aging) over entries and lanes. */
import { agedLess, effectivePriority } from './aging.js';
import { heapPeek, heapPop, heapPush, heapRestoreFrom, heapRootChanged } from './heap.js';
import { IdMinter, IdRun, type MintedIds, mintedId, mintedPosition } from './id-run.js';
import { type IndexEntry, type NewTask, type NewTasks, newTasksOf } from './index-entry.js';
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

let identities = new Int32Array(0);

/** 0, 1, … n - 1, read-only: a view of one array kept as long as the longest asked for. */
function identity(n: number): Int32Array {
  if (identities.length < n) {
    identities = new Int32Array(Math.max(n, identities.length * 2));
    for (let i = 0; i < identities.length; i++) identities[i] = i;
  }
  return identities.subarray(0, n);
}

/** A batch with more distinct (name, priority, runAt) than this is indexed task by task. */
const LANES_MAX = 256;
/** A laned batch's remaining tasks become entries once fewer than this are left. */
const FOLD_BELOW = 256;
/** `laneOf` of a task that has left the index. */
const GONE = 0xffff;

/**
 * A big batch in the index, held by position: the i-th task has the i-th minted id and seq
 * `firstSeq + i`, and sits in lane `laneOf[i]` until it leaves. No per-task object exists until a
 * task is looked at (about 6 bytes a task instead of an entry, an id slot and a heap slot).
 */
class LaneBatch implements MintedIds {
  readonly prefix: string;
  readonly first: number;
  lanes: Lane[] = [];
  /** Tasks still in the index. */
  size: number;
  /** With groups kept: each task's group as an index into `groups` (0, undefined, for none). */
  groupAt: Uint16Array | undefined;
  readonly groups: (string | undefined)[] = [undefined];

  /** Tasks it was made with. */
  readonly count: number;
  /** Each task's lane, or GONE; undefined while every task is in lane 0 and none has left (made on the first to leave). */
  #laneOf: Uint16Array | undefined;

  constructor(
    minted: MintedIds,
    readonly firstSeq: number,
    count: number,
    laneOf: Uint16Array | undefined,
  ) {
    this.prefix = minted.prefix;
    this.first = minted.first;
    this.count = count;
    this.size = count;
    this.#laneOf = laneOf;
  }

  /** The lane index of the task at `pos`, or GONE. */
  laneIndex(pos: number): number {
    const laneOf = this.#laneOf;
    return laneOf === undefined ? 0 : (laneOf[pos] as number);
  }

  /** The task at `pos` left the index. */
  markGone(pos: number): void {
    (this.#laneOf ??= new Uint16Array(this.count))[pos] = GONE;
  }

  /**
   * Sorts `tasks` into lanes, or returns undefined when lanes would not pay (too many distinct
   * keys) or the batch is not as minted (seqs not consecutive, ids not from `minted`). `byGroup`:
   * each task's group is kept (its entries carry it).
   */
  static of(tasks: NewTasks, minted: MintedIds, byGroup: boolean): LaneBatch | undefined {
    const n = tasks.size;
    // The ids are taken on trust from `minted`: the ends at least must agree.
    if (tasks.id(0) !== mintedId(minted, 0) || tasks.id(n - 1) !== mintedId(minted, n - 1)) return undefined;
    const firstSeq = tasks.seq(0);
    let laneOf: Uint16Array | undefined;
    const keys: { name: string; priority: PriorityLevel; readyAt: number }[] = [];
    const counts = new Int32Array(LANES_MAX);
    // Lanes by name, then runAt, then priority; consecutive tasks mostly share name and runAt.
    const byName = new Map<string, Map<number, number[]>>();
    let lastName: string | undefined;
    let lastAt = Number.NaN;
    let byPriority: number[] = [];
    const laneFor = (name: string, runAt: number, priority: PriorityLevel): number => {
      if (name !== lastName || runAt !== lastAt) {
        let byAt = byName.get(name);
        if (!byAt) byName.set(name, (byAt = new Map()));
        let lanes = byAt.get(runAt);
        if (!lanes) byAt.set(runAt, (lanes = [-1, -1, -1, -1, -1]));
        byPriority = lanes;
        lastName = name;
        lastAt = runAt;
      }
      let lane = byPriority[priority] as number;
      if (lane < 0) {
        if (keys.length >= LANES_MAX) return -1;
        lane = byPriority[priority] = keys.length;
        keys.push({ name, priority, readyAt: runAt });
      }
      return lane;
    };
    if (tasks.stretches) {
      const laned: [number, number][] = [];
      let from = 0;
      for (const stretch of tasks.stretches()) {
        const lane = laneFor(stretch.name, stretch.runAt, stretch.priority);
        if (lane < 0) return undefined;
        laned.push([lane, stretch.to]);
        (counts[lane] as number) += stretch.to - from;
        from = stretch.to;
      }
      // One lane needs no column: it is made when the first task leaves.
      if (keys.length > 1) {
        const column = (laneOf = new Uint16Array(n));
        let at = 0;
        for (const [lane, to] of laned) {
          column.fill(lane, at, to);
          at = to;
        }
      }
    } else {
      const column = (laneOf = new Uint16Array(n));
      for (let i = 0; i < n; i++) {
        if (tasks.seq(i) !== firstSeq + i) return undefined;
        const lane = laneFor(tasks.name(i), tasks.runAt(i), tasks.priority(i));
        if (lane < 0) return undefined;
        (counts[lane] as number)++;
        column[i] = lane;
      }
      if (keys.length === 1) laneOf = undefined;
    }
    let positions: Int32Array[];
    // One lane (a batch of one name, priority and runAt, the usual one) holds every position in
    // order: a view of one shared array, as lanes never write their positions.
    if (keys.length === 1) positions = [identity(n)];
    else {
      positions = keys.map((_, l) => new Int32Array(counts[l] as number));
      const fill = new Int32Array(keys.length);
      const column = laneOf as Uint16Array;
      for (let i = 0; i < n; i++) {
        const lane = column[i] as number;
        (positions[lane] as Int32Array)[(fill[lane] as number)++] = i;
      }
    }
    const batch = new LaneBatch(minted, firstSeq, n, laneOf);
    batch.lanes = keys.map((k, l) => new Lane(batch, k.name, k.priority, k.readyAt, positions[l] as Int32Array));
    if (byGroup && tasks.group && !batch.#holdGroups(tasks.group)) return undefined;
    return batch;
  }

  /**
   * Keeps each task's group in a column (an index into `groups`), not as a lane key: tasks of many
   * groups interleaved stay in one lane, so taking each costs what it costs without groups. False
   * when there are more distinct groups than the column can name.
   */
  #holdGroups(groupOf: (i: number) => string | undefined): boolean {
    const n = this.count;
    const index = new Map<string, number>();
    let column: Uint16Array | undefined;
    let last: string | undefined;
    let lastAt = 0;
    for (let i = 0; i < n; i++) {
      const group = groupOf(i);
      if (group === undefined) continue;
      if (group !== last) {
        let at = index.get(group);
        if (at === undefined) {
          if (this.groups.length >= GONE) return false;
          at = this.groups.length;
          this.groups.push(group);
          index.set(group, at);
        }
        last = group;
        lastAt = at;
      }
      (column ??= new Uint16Array(n))[i] = lastAt;
    }
    this.groupAt = column;
    return true;
  }

  /** The group of the task at `pos`, if it has one (and the index keeps groups). */
  groupOf(pos: number): string | undefined {
    const column = this.groupAt;
    return column ? this.groups[column[pos] as number] : undefined;
  }

  /** The position of a task of this batch still in the index, or -1. */
  positionOf(id: string): number {
    const pos = mintedPosition(this, this.count, id);
    return pos >= 0 && this.laneIndex(pos) !== GONE ? pos : -1;
  }

  /** The lane holding the task at `pos` (which must still be in the index). */
  laneAt(pos: number): Lane {
    return this.lanes[this.laneIndex(pos)] as Lane;
  }
}

/**
 * A big batch's tasks that share name, priority and readyAt. They leave in seq order, so a heap
 * holds the lane once, keyed by its head, instead of a node per task. A task removed out of turn
 * is only marked; the head steps over it when it gets there. The key only grows, so a stale one
 * makes the lane surface early, where it is re-keyed and sifted down (`skipGone`).
 */
class Lane {
  /** The head task's seq: the lane's place in its heap. */
  seq: number;
  dead = false;
  delayed = false;
  /** Tasks still in the lane. */
  live: number;
  /** Index into `positions` of the head. */
  head = 0;
  /** Entries made before their task left (the head's, `upcoming`'s), by index into `positions`. */
  #made: Map<number, IndexEntry> | undefined;

  constructor(
    readonly batch: LaneBatch,
    readonly name: string,
    readonly priority: PriorityLevel,
    readonly readyAt: number,
    /** The tasks' positions in the batch, ascending. */
    readonly positions: Int32Array,
  ) {
    this.live = positions.length;
    this.seq = batch.firstSeq + (positions[0] as number);
  }

  /** The first index into `positions`, from `k` on, of a task still here; -1 if none. */
  nextLive(k: number): number {
    const { positions, batch } = this;
    for (let j = k; j < positions.length; j++) if (batch.laneIndex(positions[j] as number) !== GONE) return j;
    return -1;
  }

  /** Moves the head past tasks that left out of turn and re-keys the lane; true if it moved. */
  skipGone(): boolean {
    const before = this.head;
    this.#seek(before);
    return this.head !== before;
  }

  /** Puts the head on the first task still here from `positions[k]` on, or marks the lane dead. */
  #seek(k: number): void {
    const next = this.nextLive(k);
    if (next < 0) {
      this.dead = true;
      this.head = this.positions.length;
      return;
    }
    this.head = next;
    this.seq = this.batch.firstSeq + (this.positions[next] as number);
  }

  /** The entry of the task at `positions[k]`: the same object until the task leaves. */
  entryAt(k: number): IndexEntry {
    let entry = this.#made?.get(k);
    if (entry) return entry;
    entry = this.entryOf(this.positions[k] as number);
    (this.#made ??= new Map()).set(k, entry);
    return entry;
  }

  /** A new entry for the task at batch position `pos` (its id, when the caller has it, not minted again). */
  entryOf(pos: number, id = mintedId(this.batch, pos)): IndexEntry {
    return {
      id,
      name: this.name,
      priority: this.priority,
      readyAt: this.readyAt,
      seq: this.batch.firstSeq + pos,
      group: this.batch.groupOf(pos),
    };
  }

  /** Takes the head out of the lane and returns its entry; the caller re-sifts or drops the lane. */
  takeHead(): IndexEntry {
    const k = this.head;
    const entry = this.#leave(k);
    this.#seek(k + 1);
    return entry;
  }

  /** Takes the task at `pos` out of turn and returns its entry. */
  remove(pos: number, id: string): IndexEntry {
    const k = this.#made?.size ? lowerBound(this.positions, pos) : -1;
    const entry = k >= 0 && this.#made?.has(k) ? this.#leave(k) : this.#leavePos(pos, id);
    if (this.live === 0) this.dead = true;
    return entry;
  }

  /** Every task still here, in order, as entries: those already made, else made afresh and not kept. */
  *entries(): IterableIterator<IndexEntry> {
    for (let k = this.nextLive(this.head); k >= 0; k = this.nextLive(k + 1))
      yield this.#made?.get(k) ?? this.entryOf(this.positions[k] as number);
  }

  #leave(k: number): IndexEntry {
    const entry = this.entryAt(k);
    this.#made?.delete(k);
    this.#gone(this.positions[k] as number);
    return entry;
  }

  #leavePos(pos: number, id: string): IndexEntry {
    this.#gone(pos);
    return this.entryOf(pos, id);
  }

  #gone(pos: number): void {
    this.batch.markGone(pos);
    this.batch.size--;
    this.live--;
  }
}

/** The first index of `xs` (ascending) holding `x` or more. */
function lowerBound(xs: Int32Array, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

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
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b] as LaneBatch;
      const pos = batch.positionOf(id);
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
