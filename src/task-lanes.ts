/** Lanes: a big batch's tasks held by position in a few heap nodes, one per (name, priority, readyAt). */
import { type MintedIds, mintedId } from './id-run.js';
import type { IndexEntry, NewTasks } from './index-entry.js';
import type { PriorityLevel } from './types.js';

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
/** `laneOf` of a task that has left the index. */
export const GONE = 0xffff;

/**
 * A big batch in the index, held by position: the i-th task has the i-th minted id and seq
 * `firstSeq + i`, and sits in lane `laneOf[i]` until it leaves. No per-task object exists until a
 * task is looked at (about 6 bytes a task instead of an entry, an id slot and a heap slot).
 */
export class LaneBatch implements MintedIds {
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

  /** The position of the task minted from `n` under this batch's prefix (`mintedNumber`; -1: none), if still in the index; else -1. */
  positionAt(n: number): number {
    const pos = n - this.first;
    return n >= 0 && pos >= 0 && pos < this.count && this.laneIndex(pos) !== GONE ? pos : -1;
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
export class Lane {
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
