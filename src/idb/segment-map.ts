import { mintedId } from '../id-run.js';
import { keyHeldUntil } from '../key-ttl.js';
import { Retention, type RetentionLimits } from '../retention.js';
import type { TaskRecord, TaskStatus } from '../types.js';
import { yieldToEventLoop } from '../yield.js';
import { type RunSlot, RunTable } from './id-runs.js';
import { LogLoad } from './log-load.js';
import { type Entry, isTombstone, type SegmentKey, type Tombstone } from './schema.js';

/** Versions whose bookkeeping one event-loop task does after a commit, at most. */
const LEDGER_SLICE = 4096;
/** Compaction rewrites a segment once this fraction or less of it is current, and it has at least `COMPACT_MIN_SIZE` versions. */
const COMPACT_RATIO = 0.25;
const COMPACT_MIN_SIZE = 32;
/** Segments compacted per `trim` call. */
const COMPACT_PER_TRIM = 8;

/** What the map knows of a committed segment. */
export interface SegmentInfo {
  key: SegmentKey;
  size: number;
  /** Tasks whose current version is in this segment. */
  live: number;
  /** Nothing current is left: its deletion is requested or in flight. */
  dying: boolean;
}

/** A segment put by a group commit: `local` is its number in this connection's map, `key` its key on disk. */
export interface PutSegment {
  local: number;
  key: SegmentKey;
  entries: Entry[];
}

/** A committed batch whose bookkeeping is not finished: `segment`/`entry` say how far it got. */
interface LedgerItem {
  segments: PutSegment[];
  deletes: number[];
  segment: number;
  entry: number;
}

/** What the map needs from the store around it. */
export interface SegmentMapHost {
  /** This connection's stamp, and the stamps of the other connections open when it opened (see `collectable`). */
  readonly stamp: number;
  readonly foreign: ReadonlySet<number>;
  readonly stats: { segmentsDeleted: number };
  /** Whether `id` has a version written and not yet committed (which reads see before the map's). */
  isPending(id: string): boolean;
  /** `entry` committed and is now current in the map: if it is still its task's pending version, it stops being one. */
  unpend(entry: Entry): void;
  /** Nothing current is left in segment `local`: it should be deleted. Called once per segment. */
  onDead(local: number): void;
  /** A slice of bookkeeping after a commit ended (deletions it left may be due). */
  accounted(): void;
}

/**
 * Which segment holds each task's current committed version, and what that makes collectable.
 * Segments get local numbers in key order (`reserve` hands out the next ones), so a higher number
 * is a newer segment. A segment whose `live` count drops to 0 is reported dead through the host,
 * once, if this connection may collect it.
 */
export class SegmentMap {
  readonly #host: SegmentMapHost;
  /** Committed segments by local number (ascending = key order). */
  readonly #segments = new Map<number, SegmentInfo>();
  /** Task id → the segment holding its current committed version (besides those `#runs` holds). */
  readonly #where = new Map<string, number>();
  /** Segments found on open whose ids are one minted run: their tasks by position, not in `#where`. */
  readonly #runs = new RunTable();
  /** Task id → segments that held its earlier versions (some may be deleted since). */
  readonly #older = new Map<string, number[]>();
  /** Ids whose current version is a tombstone. */
  readonly #tombs = new Set<string>();
  readonly #retention = new Retention();
  /** Versions compaction is moving (not new states of their tasks). */
  readonly #moved = new WeakSet<Entry>();
  readonly #ledger: LedgerItem[] = [];
  #accountQueued = false;
  #nextLocal = 0;

  constructor(host: SegmentMapHost) {
    this.#host = host;
  }

  /**
   * Builds the map from everything on disk (`keys` in key order, `values` the segments). Returns the
   * live records (queued, retrying, running), those that fail validation as `failed` records
   * (finished at `now`), how many values are no segment this version can read, and the finished
   * records that hold their key (`keyed`). The store opens through `LogLoad` instead, which reads
   * summaries and slices the work; this is it in one go over whole segments.
   */
  load(
    keys: readonly IDBValidKey[],
    values: readonly unknown[],
    now: number,
  ): { live: TaskRecord[]; corrupt: TaskRecord[]; unreadable: number; keyed: TaskRecord[] } {
    const load = new LogLoad(
      this,
      keys.map((key, i) => ({ key: key as SegmentKey, value: values[i] })),
      now,
    );
    load.step(Number.POSITIVE_INFINITY);
    const found = load.finish();
    return { live: found.live, corrupt: found.corrupt, unreadable: found.unreadable, keyed: found.keyed };
  }

  /** Loading (in key order): a segment found on disk with `size` versions joins the map; returns its local number. */
  loadSegment(key: SegmentKey, size: number): number {
    const local = this.#nextLocal++;
    this.#segments.set(local, { key, size, live: 0, dying: false });
    return local;
  }

  /** Loading: `id`'s version in segment `local` is its newest so far. */
  loadVersion(id: string, local: number): void {
    this.#supersede(id, local);
  }

  /**
   * Loading: segment `local`'s `n` versions are of the ids minted from `prefix` + `first` on, held
   * by position. Which of them are current is settled by `loadSettle`, once every segment joined.
   */
  loadRun(local: number, prefix: string, first: number, n: number): void {
    this.#runs.add(local, prefix, first, n);
    (this.#segments.get(local) as SegmentInfo).live += n;
  }

  /**
   * Loading: with every segment in, a task with versions both in runs and in the map keeps only the
   * newest as current (`loadVersion` already saw runs older than each version it was given; here
   * runs newer than a map entry, and runs over one another, are settled).
   */
  loadSettle(): void {
    const runs = this.#runs;
    if (runs.size === 0) return;
    runs.settleOverlaps((slot) => this.#lostOne(slot.local));
    for (const [id, at] of this.#where) {
      const inRun = runs.current(id);
      if (!inRun) continue;
      const [slot, pos] = inRun;
      if (slot.local < at) {
        // A run between two map versions, which `loadVersion` did not look past the first for.
        slot.markGone(pos);
        this.#lostOne(slot.local);
        continue;
      }
      // The run's version is newer: the map's is history.
      this.#where.delete(id);
      this.#noteOlder(id, at);
      this.#lostOne(at);
    }
  }

  /** Loading: run segment `local`, to ask which of its versions are not their task's current one. */
  runSlot(local: number): RunSlot | undefined {
    return this.#runs.slot(local);
  }

  /**
   * Loading is over: `tombs` are the ids whose current version is a tombstone, `finished` the
   * finished tasks, oldest first, with until when each holds its key.
   */
  loadEnd(tombs: readonly string[], finished: readonly { id: string; status: TaskStatus; held: number | undefined }[]): void {
    for (const id of tombs) this.#tombs.add(id);
    for (const f of finished) this.#retention.note(f.id, f.status, f.held);
    for (const [local, info] of this.#segments) if (info.live === 0) this.#markDead(local, info);
    this.#dropTombstones();
  }

  /** Reserves `count` consecutive local numbers (at least one) for segments to come; returns the first. */
  reserve(count: number): number {
    const base = this.#nextLocal;
    // At least one number even when empty: two segments sharing a key would overwrite each other.
    this.#nextLocal += Math.max(1, count);
    return base;
  }

  /** The segment holding `id`'s current committed version (a tombstone's too). */
  where(id: string): number | undefined {
    const at = this.#where.get(id);
    return at !== undefined || this.#runs.size === 0 ? at : this.#runs.current(id)?.[0].local;
  }

  /** Whether `id`'s current committed version is a tombstone. */
  isTomb(id: string): boolean {
    return this.#tombs.has(id);
  }

  /** Ids whose current committed version is a live task (not finished, not removed). */
  liveIds(): string[] {
    const out: string[] = [];
    for (const id of this.#where.keys()) if (!this.#tombs.has(id) && !this.#retention.has(id)) out.push(id);
    for (const slot of this.#runs.slots())
      for (let i = 0; i < slot.n; i++) {
        if (slot.isGone(i)) continue;
        const id = mintedId(slot, i);
        if (!this.#tombs.has(id) && !this.#retention.has(id)) out.push(id);
      }
    return out;
  }

  segment(local: number): Readonly<SegmentInfo> | undefined {
    return this.#segments.get(local);
  }

  /** Segments holding at least one current version, newest first. */
  liveNewestFirst(): number[] {
    return [...this.#segments.entries()]
      .filter(([, info]) => info.live > 0)
      .map(([local]) => local)
      .sort((a, b) => b - a);
  }

  /**
   * A batch committed: its segments join the map (in key order), its deletions leave it. Done in
   * slices of `LEDGER_SLICE` versions, one per event-loop task, in commit order. Until a version's
   * turn comes it stays pending (`host.unpend` ends that), and reads consult pending versions first,
   * so the lag is invisible to them; `settle` finishes the bookkeeping for the operations that need
   * all of it (trim, list, remove).
   */
  committed(segments: PutSegment[], deletes: number[]): void {
    this.#ledger.push({ segments: segments.sort((a, b) => a.local - b.local), deletes, segment: 0, entry: 0 });
    this.#account(LEDGER_SLICE);
  }

  /** Finishes all pending bookkeeping now. */
  settle(): void {
    if (this.#ledger.length > 0) this.#account(Number.POSITIVE_INFINITY);
  }

  /**
   * Removes the current versions of `ids` (call `settle` first). A task goes without a trace when
   * its segment empties with it and no older version of it is left on disk; for the others (and
   * pending ones) returns the tombstones to write, kept until those older versions are gone.
   */
  remove(ids: readonly string[]): Tombstone[] {
    const bySegment = new Map<number, string[]>();
    const tombstones: Tombstone[] = [];
    for (const id of new Set(ids)) {
      if (this.#host.isPending(id)) {
        tombstones.push({ id, removed: true });
        continue;
      }
      const at = this.where(id);
      if (at === undefined || this.#tombs.has(id)) continue;
      const list = bySegment.get(at);
      if (list) list.push(id);
      else bySegment.set(at, [id]);
    }
    for (const [at, list] of bySegment) {
      const info = this.#segments.get(at) as SegmentInfo;
      if (info.live === list.length && this.#collectable(info) && list.every((id) => this.#removable(id))) {
        for (const id of list) this.#drop(id);
      } else {
        // Retention forgets them once the tombstones commit (`#account`); until then `trim` skips
        // them as pending, and a failed write leaves them tracked, as they still are on disk.
        for (const id of list) tombstones.push({ id, removed: true });
      }
    }
    return tombstones;
  }

  /** Terminal tasks beyond `limits`, oldest first, skipping those with a pending version (see `Retention.excess`). */
  excess(limits: RetentionLimits): string[] {
    return this.#retention.excess(limits).filter((id) => !this.#host.isPending(id));
  }

  /** Up to `COMPACT_PER_TRIM` segments worth compacting: mostly stale, big enough, collectable, not already dying. */
  compactable(): number[] {
    const candidates: number[] = [];
    for (const [local, info] of this.#segments) {
      if (info.dying || info.size < COMPACT_MIN_SIZE || info.live > info.size * COMPACT_RATIO || !this.#collectable(info)) continue;
      candidates.push(local);
      if (candidates.length >= COMPACT_PER_TRIM) break;
    }
    return candidates;
  }

  /**
   * The versions of segment `local` (its `records` as read) still current and not pending, marked
   * as moved by compaction: once rewritten, they keep their tasks' place in retention's order.
   * Undefined when the segment has left the map.
   */
  takeForMove(local: number, records: readonly Entry[]): Entry[] | undefined {
    if (!this.#segments.has(local)) return undefined;
    const moved: Entry[] = [];
    // A segment holds one version per task: the one whose current version is here is it.
    for (const e of records) if (this.where(e.id) === local && !this.#host.isPending(e.id)) moved.push(e);
    for (const e of moved) this.#moved.add(e);
    return moved;
  }

  /** `id`'s current version is now in `local`; the one it replaces (if any) becomes history. */
  #supersede(id: string, local: number): void {
    const info = this.#segments.get(local) as SegmentInfo;
    let prev = this.#where.get(id);
    if (prev === undefined && this.#runs.size > 0) {
      const inRun = this.#runs.current(id);
      if (inRun) {
        prev = inRun[0].local;
        // Its version in the run is history now; the map holds where it went.
        if (prev !== local) inRun[0].markGone(inRun[1]);
        else return;
      }
    }
    if (prev !== undefined && prev !== local && this.#segments.has(prev)) {
      this.#noteOlder(id, prev);
      this.#lostOne(prev);
    }
    if (prev !== local) info.live++;
    this.#where.set(id, local);
  }

  /** Segment `at` holds one current version fewer. */
  #lostOne(at: number): void {
    const old = this.#segments.get(at);
    if (old && --old.live === 0) this.#markDead(at, old);
  }

  /** Segment `at` holds an earlier version of `id`. Pruned of segments already gone, so a history stays a few entries long. */
  #noteOlder(id: string, at: number): void {
    const history = this.#older.get(id);
    if (!history) this.#older.set(id, [at]);
    else {
      let kept = 0;
      for (const s of history) if (this.#segments.has(s)) history[kept++] = s;
      history.length = kept;
      history.push(at);
    }
  }

  /** Forgets `id` entirely: its current version's segment loses it. Only when no older version can come back (see `#removable`). */
  #drop(id: string): void {
    let at = this.#where.get(id);
    if (at === undefined && this.#runs.size > 0) {
      const inRun = this.#runs.current(id);
      if (inRun) {
        at = inRun[0].local;
        inRun[0].markGone(inRun[1]);
      }
    }
    this.#where.delete(id);
    this.#older.delete(id);
    this.#tombs.delete(id);
    this.#retention.forget(id);
    const info = at === undefined ? undefined : this.#segments.get(at);
    if (info && --info.live === 0) this.#markDead(at as number, info);
  }

  /** True when no segment holding an earlier version of `id` is left on disk. */
  #removable(id: string): boolean {
    const history = this.#older.get(id);
    if (history && !history.every((s) => !this.#segments.has(s))) return false;
    // A run still on disk holding a version of it that is not current holds an older one.
    let older = false;
    if (this.#runs.size > 0) this.#runs.holding(id, (slot, pos) => (older ||= slot.isGone(pos) && this.#segments.has(slot.local)));
    return !older;
  }

  /**
   * Whether this connection may delete or compact a segment: its own, or one written by a
   * connection that is gone (a closed tab, a migration). Another open tab's segments hold versions
   * that tab may still read, and states it wrote after this one opened; they are left to it.
   */
  #collectable(info: SegmentInfo): boolean {
    const stamp = info.key[0];
    return stamp === this.#host.stamp || !this.#host.foreign.has(stamp);
  }

  #markDead(local: number, info: SegmentInfo): void {
    if (info.dying || !this.#collectable(info)) return;
    info.dying = true;
    this.#host.onDead(local);
  }

  /** Tombstones whose task has no older version left on disk are no longer needed. */
  #dropTombstones(): void {
    for (const id of this.#tombs) if (!this.#host.isPending(id) && this.#removable(id)) this.#drop(id);
  }

  #account(budget: number): void {
    while (this.#ledger.length > 0 && budget > 0) {
      const item = this.#ledger[0] as LedgerItem;
      while (item.segment < item.segments.length && budget > 0) {
        const seg = item.segments[item.segment] as PutSegment;
        if (item.entry === 0) this.#segments.set(seg.local, { key: seg.key, size: seg.entries.length, live: 0, dying: false });
        const end = Math.min(seg.entries.length, item.entry + budget);
        for (let k = item.entry; k < end; k++) {
          const e = seg.entries[k] as Entry;
          this.#supersede(e.id, seg.local);
          if (isTombstone(e)) {
            this.#tombs.add(e.id);
            this.#retention.forget(e.id);
          } else {
            this.#tombs.delete(e.id);
            // A version compaction moved keeps its task's place in retention's order.
            if (!this.#moved.has(e)) this.#retention.note(e.id, e.status, e.keyTtlMs === undefined ? undefined : keyHeldUntil(e));
          }
          this.#host.unpend(e);
        }
        budget -= end - item.entry;
        item.entry = end;
        if (item.entry < seg.entries.length) break;
        const info = this.#segments.get(seg.local) as SegmentInfo;
        if (info.live === 0) this.#markDead(seg.local, info);
        item.segment++;
        item.entry = 0;
      }
      if (item.segment < item.segments.length) break;
      this.#ledger.shift();
      if (item.deletes.length > 0) {
        for (const local of item.deletes) {
          this.#segments.delete(local);
          this.#runs.remove(local);
        }
        this.#host.stats.segmentsDeleted += item.deletes.length;
        if (this.#tombs.size > 0) this.#dropTombstones();
      }
    }
    if (this.#ledger.length > 0 && !this.#accountQueued) {
      this.#accountQueued = true;
      void yieldToEventLoop().then(() => {
        this.#accountQueued = false;
        this.#account(LEDGER_SLICE);
      });
    }
    this.#host.accounted();
  }
}
