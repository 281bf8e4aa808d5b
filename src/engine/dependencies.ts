/** Tasks waiting for their dependencies: where they wait, and what each dependency's end does to them. */
import type { Clock } from '../clock.js';
import { DependencyError, deserializeError, StorageError } from '../errors.js';
import { IdRun, mintedPosition } from '../id-run.js';
import { entryOf, type IndexEntry } from '../index-entry.js';
import type { Counters } from '../metrics.js';
import type { TaskStore } from '../store.js';
import type { TaskIndex } from '../task-index.js';
import { TaskTable } from '../task-table.js';
import { noteError } from '../transition.js';
import {
  type Dependency,
  type DependencyOutcome,
  type PriorityLevel,
  type SerializedError,
  type TaskRecord,
  TERMINAL_STATUSES,
} from '../types.js';
import { describe } from '../validate.js';
import { brokenBy, conditionHolds, inOrder, outcomeOf } from './dependency-outcomes.js';
import type { Emitter } from './emitter.js';
import type { LiveTasks } from './live-tasks.js';
import { type BatchOrigin, release } from './release.js';
import type { WriteQueue } from './write-queue.js';

/*
 * Where waiting tasks live, and why not behind a `DispatchGate`. A gate is asked about the task at
 * the head of the queue; a task waiting for its dependencies has no time at which to ask again, so
 * behind a gate it would cycle between the heaps, its ordering key rewritten each time, and with
 * any gate installed the dispatcher would ask about every task it pops (a lookup per task, with or
 * without dependencies). Instead a waiting task stays out of the index altogether, here, and joins
 * it, at its original place in line, once its last dependency has ended well: the dispatcher never
 * sees it and has no dependency branch, and a task without dependencies costs nothing more (the only
 * cost on a common path is one `size` check per finished task, in `finished`).
 */

/** A task waiting for its dependencies. */
interface Waiter {
  readonly id: string;
  /** The batch it was enqueued in, if its id and seq are still as that batch minted them. */
  readonly origin: BatchOrigin | undefined;
  /** Where it joins the queue once released (its priority may change meanwhile). */
  readonly entry: IndexEntry;
  readonly deps: readonly Dependency[];
  /** Dependencies that have not ended yet. */
  unmet: number;
  /** Outcomes that arrived since its record was last written, and how many. */
  outcomes: Record<string, DependencyOutcome> | undefined;
  fresh: number;
  /** Outcomes its stored record holds. */
  stored: number;
  /** Set by the first dependency that ended the wrong way: the task is skipped with this error. */
  broken: SerializedError | undefined;
  /** `reprioritize` changed `entry.priority`: the record follows on its next write. */
  moved: boolean;
  /** Called once what is pending has been applied (and persisted), or the waiter is gone. */
  onApplied: (() => void)[] | undefined;
  /**
   * `pending`: its enqueue is being written (outcomes are kept, acted on once stored);
   * `waiting`: stored; `reading`: its record is being read to apply what arrived; `done`: gone
   * from here (released, skipped, cancelled, withdrawn), and stale wherever a list still holds it.
   */
  state: 'pending' | 'waiting' | 'reading' | 'done';
  /** Its record while something is to be applied to it; dropped after (the store keeps it). */
  record: TaskRecord | undefined;
  /** In `#dirty`, with something to apply (a flag and a list, not a Set: 4 lookups a task in a fan-out). */
  dirty: boolean;
}

/** What `admit` registered for one call, for `admitted` once it is stored or `abandoned` if it is not. */
export interface AdmitTicket {
  readonly waiters: Waiter[];
  /** Records skipped at once: a dependency had already ended the wrong way. */
  readonly skipped: TaskRecord[];
}

export interface DependenciesHost {
  readonly clock: Clock;
  readonly store: Pick<TaskStore, 'read' | 'kind'>;
  readonly index: Pick<TaskIndex, 'add' | 'addBatch'>;
  readonly live: Pick<LiveTasks, 'settle' | 'setStatus' | 'handles'>;
  readonly counters: Counters;
  readonly writes: Pick<WriteQueue, 'persist'>;
  readonly emitter: Pick<Emitter, 'task' | 'listens' | 'warn'>;
  /** Whether the task is in the queue or running (waiting tasks are this part's own). */
  queuedOrRunning(id: string): boolean;
  schedulePump(): void;
}

/**
 * Task dependencies: tasks in `waiting`, which of them wait for which, and what happens when a
 * dependency ends (`finished`, called for every record that reaches a terminal status). A waiting
 * task whose every condition holds is released into the queue, its dependencies' outcomes written
 * into its record first (`dependencyOutcomes`, what the handler gets as `ctx.dependencies`); one
 * whose condition can no longer hold is skipped with a `DependencyError`, which reaches its own
 * dependents the same way. Every change is persisted before it is acted on or told, as elsewhere.
 *
 * A waiting task's record is written by this part alone (a single writer), so a change that arrives
 * while its record is being read is applied after, never lost; records are read when there is
 * something to apply and dropped after, so inputs stay in the store while tasks wait.
 */
export class Dependencies {
  readonly #host: DependenciesHost;
  readonly #storeHoldsRecords: boolean;
  /** Waiting tasks (and ones whose enqueue is being written), by id. */
  readonly #waiting = new TaskTable<Waiter>();
  /**
   * Dependency id → who waits for it: flat pairs of a waiter and its `Dependency` (the condition),
   * no object per edge. A waiter that is `done` is dropped lazily, when the dependency ends.
   */
  readonly #dependents = new Map<string, (Waiter | Dependency)[]>();
  /**
   * Waiters with something to apply: those in this list whose `dirty` is set (one cleaned by `#end`
   * stays in the list, skipped; a waiter is pushed only when its flag goes up, so once at a time).
   */
  #dirty: Waiter[] = [];
  #flushing = false;
  /** Waiters in `#waiting` whose enqueue is still being written. */
  #pending = 0;

  constructor(host: DependenciesHost) {
    this.#host = host;
    this.#storeHoldsRecords = host.store.kind === 'memory';
  }

  /** Tasks waiting for their dependencies (stored: enqueues still being written count where they are made). */
  get size(): number {
    return this.#waiting.size - this.#pending;
  }

  /** Whether `id` is a waiting task (stored: not one whose enqueue is still being written). */
  has(id: string): boolean {
    const w = this.#waiting.get(id);
    return w !== undefined && w.state !== 'pending';
  }

  /**
   * Works out where each of a call's tasks starts, their `dependsOn` already resolved to ids
   * (`resolveGraph`, or a retried task's own): reads the dependencies outside the call, and rejects
   * with `DependencyError` naming any that is no stored task (`where(i)` names the option). Then, in
   * `order`, each record becomes `queued` (every dependency ended well: their outcomes go in),
   * `skipped` (one ended the wrong way) or `waiting` (registered here now, before the write, so no
   * dependency can end unseen). Nothing is stored: the caller writes the records, then calls
   * `admitted` with the ticket (or `abandoned` if the write fails).
   *
   * `batch`: the call's records were minted as one run (`records[i]` has the i-th id of `minted`
   * and seq `firstSeq + i`): a record of the call is then found by parsing an id, not through a map
   * of all their ids (hashing 10,000 new ids for a fan-out), and its waiters may later join the
   * queue as one batch (see `#apply`).
   */
  async admit(
    records: readonly TaskRecord[],
    order: readonly number[] | undefined,
    where: (i: number) => string,
    batch?: BatchOrigin,
  ): Promise<AdmitTicket> {
    const host = this.#host;
    const n = records.length;
    const map = n > 1 && !batch ? new Map(records.map((r, i) => [r.id, i])) : undefined;
    // The last id asked and its answer: items sharing one options object (a fan-out) ask the same id.
    let lastId: string | undefined;
    let lastAt: number | undefined;
    const localOf = (id: string): number | undefined => {
      if (id === lastId) return lastAt;
      lastId = id;
      if (map) return (lastAt = map.get(id));
      if (!batch) return (lastAt = undefined);
      const i = mintedPosition(batch.minted, n, id);
      return (lastAt = i >= 0 ? i : undefined);
    };
    const outside = new Map<string, number>();
    let last: readonly Dependency[] | undefined;
    for (let i = 0; i < n; i++) {
      const deps = (records[i] as TaskRecord).dependsOn;
      // Items sharing one options object share one resolved list: looked at once.
      if (!deps || deps === last) continue;
      last = deps;
      for (const d of deps) if (localOf(d.id) === undefined && !outside.has(d.id)) outside.set(d.id, i);
    }
    const ids = [...outside.keys()];
    const read = ids.length > 0 ? await host.store.read(ids) : [];
    const found = new Map<string, TaskRecord>();
    const unknown: string[] = [];
    ids.forEach((id, k) => {
      const r = read[k];
      if (r) found.set(id, r);
      else unknown.push(id);
    });
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 5).map((id) => `${where(outside.get(id) as number)} names ${describe(id)}`);
      const more = unknown.length > 5 ? `, and ${unknown.length - 5} more` : '';
      const what = n > 1 ? 'neither a ref of an item of this batch nor a stored task' : 'not a stored task';
      throw new DependencyError(`${shown.join(', ')}${more}: ${unknown.length === 1 ? 'it is' : 'each is'} ${what}`);
    }
    const now = host.clock.now();
    const ticket: AdmitTicket = { waiters: [], skipped: [] };
    // A batch's waiters are held by position (`IdRun`): no new id is hashed to hold them.
    const held: (Waiter | undefined)[] | undefined = batch ? new Array(n) : undefined;
    // One list for every task's unmet dependencies: `#register` reads it and keeps nothing of it.
    const unmet: Dependency[] = [];
    for (let k = 0; k < n; k++) {
      const p = order ? (order[k] as number) : k;
      const record = records[p] as TaskRecord;
      const deps = record.dependsOn;
      if (!deps) continue;
      const prior = record.dependencyOutcomes;
      let outcomes: Record<string, DependencyOutcome> | undefined;
      let broken: SerializedError | undefined;
      unmet.length = 0;
      for (const d of deps) {
        if (prior && Object.hasOwn(prior, d.id)) continue;
        const j = localOf(d.id);
        const dep = j === undefined ? (found.get(d.id) as TaskRecord) : (records[j] as TaskRecord);
        if (!TERMINAL_STATUSES.has(dep.status)) unmet.push(d);
        else if (conditionHolds(d.on, dep.status)) (outcomes ??= {})[d.id] = outcomeOf(dep);
        else broken ??= brokenBy(record, d, dep);
      }
      const known = outcomes || prior ? { ...prior, ...outcomes } : undefined;
      if (broken) {
        record.status = 'skipped';
        if (known) record.dependencyOutcomes = known;
        noteError(record, broken, now);
        record.finishedAt = now;
        ticket.skipped.push(record);
      } else if (unmet.length === 0) {
        record.status = 'queued';
        record.dependencyOutcomes = inOrder(known, deps);
      } else {
        record.status = 'waiting';
        if (known) record.dependencyOutcomes = known;
        const w = this.#register(record, unmet, 'pending', batch, held === undefined);
        ticket.waiters.push(w);
        if (held) held[p] = w;
      }
    }
    if (held && batch && ticket.waiters.length > 0)
      this.#waiting.addRun(new IdRun(batch.minted.prefix, batch.minted.first, held, ticket.waiters.length));
    // A dependency read as live that is neither queued, running nor waiting may have ended between
    // the read and now, unseen: read it again (a dependency that ended since is told to us below).
    const recheck = ids.filter((id) => !TERMINAL_STATUSES.has((found.get(id) as TaskRecord).status) && !this.#live(id));
    if (recheck.length > 0 && ticket.waiters.length > 0) void this.#settleEnded(recheck);
    return ticket;
  }

  /** The call's records are stored: its waiters start waiting (acting on what arrived meanwhile), its skipped tasks are told. */
  admitted(ticket: AdmitTicket): void {
    for (const w of ticket.waiters) {
      if (w.state !== 'pending') continue;
      this.#pending--;
      w.state = 'waiting';
      // Its record is kept while pending, for what arrived meanwhile; else the store has it.
      if (!w.dirty) this.#drop(w);
    }
    this.#skipped(ticket.skipped);
    this.#flush();
  }

  /** The call's write failed or it was refused after `admit`: its waiters were never stored. */
  abandoned(ticket: AdmitTicket): void {
    for (const w of ticket.waiters) this.#end(w);
  }

  /**
   * After a reload: the stored waiting tasks wait again. A dependency that is not live any more
   * (it ended while no tab ran the queue, or just before the crash, unseen by its dependent) is
   * read — only those, never every record — and its outcome applied now.
   */
  async recover(records: readonly TaskRecord[]): Promise<void> {
    if (records.length === 0) return;
    const outside = new Set<string>();
    for (const record of records) {
      const met = record.dependencyOutcomes;
      const unmet: Dependency[] = [];
      for (const d of record.dependsOn ?? []) if (!met || !Object.hasOwn(met, d.id)) unmet.push(d);
      const w = this.#register(record, unmet, 'waiting');
      if (unmet.length === 0) {
        w.record = record;
        this.#mark(w);
      }
      for (const d of unmet) outside.add(d.id);
    }
    const ids = [...outside].filter((id) => !this.#live(id));
    if (ids.length > 0) await this.#settleEnded(ids, true);
    this.#flush();
  }

  /**
   * A record reached a terminal status (persisted): its dependents learn how it ended. Called for
   * every finished task, so without dependents anywhere this is one `size` check.
   */
  finished(record: TaskRecord): void {
    if (this.#dependents.size === 0) return;
    const list = this.#dependents.get(record.id);
    if (!list) return;
    this.#dependents.delete(record.id);
    let outcome: DependencyOutcome | undefined;
    // The dependents waiting for this task alone share one outcomes object: their records and the
    // messages that send them to workers hold it once, not once per task (a 10,000-task fan-out).
    let alone: Readonly<Record<string, DependencyOutcome>> | undefined;
    for (let i = 0; i < list.length; i += 2) {
      const w = list[i] as Waiter;
      if (w.state === 'done') continue;
      const dep = list[i + 1] as Dependency;
      w.unmet--;
      if (conditionHolds(dep.on, record.status)) {
        outcome ??= outcomeOf(record);
        if (w.outcomes === undefined && w.deps.length === 1) w.outcomes = alone ??= Object.freeze({ [record.id]: outcome });
        else (w.outcomes = w.outcomes && Object.isFrozen(w.outcomes) ? { ...w.outcomes } : (w.outcomes ?? {}))[record.id] = outcome;
        w.fresh++;
      } else w.broken ??= brokenBy(w.entry, dep, record);
      this.#mark(w);
    }
    this.#flush();
  }

  /** `id` is gone from the store (read as unknown on recovery): its dependents cannot know how it ended. */
  #gone(id: string): void {
    const list = this.#dependents.get(id);
    if (!list) return;
    this.#dependents.delete(id);
    for (let i = 0; i < list.length; i += 2) {
      const w = list[i] as Waiter;
      if (w.state === 'done') continue;
      w.unmet--;
      w.broken ??= brokenBy(w.entry, list[i + 1] as Dependency, undefined);
      this.#mark(w);
    }
  }

  /**
   * Takes a waiting task out (to cancel it): from now on nothing here writes its record. False if
   * it is not a stored waiting task.
   */
  withdraw(id: string): boolean {
    const w = this.#waiting.get(id);
    if (!w || w.state === 'pending') return false;
    this.#end(w);
    return true;
  }

  /** Takes every waiting task out, for `close({ drain: false })`: their ids, to cancel. Nothing cascades after. */
  withdrawAll(): string[] {
    const ids: string[] = [];
    for (const w of this.#waiting.values()) {
      // One whose enqueue is still being written is not stored yet: nothing to cancel.
      if (w.state !== 'pending') ids.push(w.id);
      w.state = 'done';
      w.record = undefined;
      this.#applied(w);
    }
    this.#waiting.clear();
    this.#dependents.clear();
    for (const w of this.#dirty) w.dirty = false;
    this.#dirty = [];
    this.#pending = 0;
    return ids;
  }

  /**
   * Moves a waiting task to another priority (where it joins the queue); resolves once its record
   * says so (persisted). False if it is not waiting.
   */
  reprioritize(id: string, priority: PriorityLevel): Promise<boolean> {
    const w = this.#waiting.get(id);
    if (!w || w.state === 'pending') return Promise.resolve(false);
    if (w.entry.priority === priority) return Promise.resolve(true);
    w.entry.priority = priority;
    w.moved = true;
    const applied = new Promise<boolean>((resolve) => (w.onApplied ??= []).push(() => resolve(true)));
    this.#mark(w);
    this.#flush();
    return applied;
  }

  #live(id: string): boolean {
    return this.#waiting.has(id) || this.#host.queuedOrRunning(id);
  }

  /** A new waiter, in `#waiting` unless the caller holds it there itself (`add` false: a batch's run). Keeps nothing of `unmet` (the caller reuses it). */
  #register(record: TaskRecord, unmet: readonly Dependency[], state: Waiter['state'], origin?: BatchOrigin, add = true): Waiter {
    const known = record.dependencyOutcomes;
    const w: Waiter = {
      id: record.id,
      origin,
      entry: entryOf(record),
      deps: record.dependsOn ?? [],
      unmet: unmet.length,
      outcomes: undefined,
      fresh: 0,
      stored: known ? Object.keys(known).length : 0,
      broken: undefined,
      moved: false,
      onApplied: undefined,
      state,
      record: state === 'pending' ? record : undefined,
      dirty: false,
    };
    if (add) this.#waiting.set(w);
    if (state === 'pending') this.#pending++;
    for (const d of unmet) {
      const list = this.#dependents.get(d.id);
      if (list) list.push(w, d);
      else this.#dependents.set(d.id, [w, d]);
    }
    return w;
  }

  #mark(w: Waiter): void {
    if (w.dirty) return;
    w.dirty = true;
    this.#dirty.push(w);
  }

  /**
   * A waiter with nothing left to apply lets go of its record, so inputs stay in the store while
   * tasks wait; but the memory store holds that very object (its reads return it), so holding it
   * here costs nothing and saves reading it back (10,000 reads when a fan-out's root ends).
   */
  #drop(w: Waiter): void {
    if (!this.#storeHoldsRecords) w.record = undefined;
  }

  #end(w: Waiter): void {
    if (w.state === 'done') return;
    if (w.state === 'pending') this.#pending--;
    w.state = 'done';
    w.record = undefined;
    w.dirty = false;
    this.#waiting.deleteHeld(w);
    this.#applied(w);
  }

  #applied(w: Waiter): void {
    const callbacks = w.onApplied;
    if (!callbacks) return;
    w.onApplied = undefined;
    for (const done of callbacks) done();
  }

  /** Reads `ids` and tells their dependents of those that have ended (`gone`: and of those not stored any more). */
  async #settleEnded(ids: string[], gone = false): Promise<void> {
    let records: (TaskRecord | undefined)[];
    try {
      records = await this.#host.store.read(ids);
    } catch (cause) {
      this.#host.emitter.warn(new StorageError(`could not read ${ids.length} dependency record(s)`, { cause }));
      return;
    }
    ids.forEach((id, k) => {
      const r = records[k];
      if (r && TERMINAL_STATUSES.has(r.status)) this.finished(r);
      else if (!r && gone) this.#gone(id);
    });
  }

  /** Applies what the dirty waiters have, reading the records it needs; cascades run in the same loop, not by recursion. */
  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        const ready: Waiter[] = [];
        let toRead: Waiter[] | undefined;
        const dirty = this.#dirty;
        this.#dirty = [];
        for (const w of dirty) {
          if (!w.dirty) continue;
          // A pending or reading waiter keeps its changes: `admitted` or the read brings it back.
          if (w.state !== 'waiting') {
            this.#dirty.push(w);
            continue;
          }
          w.dirty = false;
          if (!this.#due(w)) {
            this.#drop(w);
            continue;
          }
          if (w.record) ready.push(w);
          else (toRead ??= []).push(w);
        }
        if (!toRead && ready.length === 0) break;
        // A synchronous read leaves its waiters dirty with their records: the next round applies them.
        if (toRead) this.#read(toRead);
        if (ready.length > 0) this.#apply(ready);
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Whether a waiter's record is to be written now: it is released, skipped or moved, or its new
   * outcomes are at least a quarter of those stored. So a task waiting for k dependencies is
   * rewritten O(log k) times, not k; outcomes not written yet are the newest, which are the last
   * that retention would trim before a reload reads them back from their own records.
   */
  #due(w: Waiter): boolean {
    return w.broken !== undefined || w.unmet === 0 || w.moved || w.fresh * 4 >= w.stored;
  }

  #read(waiters: Waiter[]): void {
    for (const w of waiters) {
      w.state = 'reading';
      this.#mark(w);
    }
    const read = this.#host.store.read(waiters.map((w) => w.id));
    if (Array.isArray(read)) this.#gotRecords(waiters, read);
    else
      read.then(
        (records) => {
          this.#gotRecords(waiters, records);
          this.#flush();
        },
        (cause: unknown) => {
          this.#host.emitter.warn(new StorageError(`could not read ${waiters.length} waiting task(s) to update them`, { cause }));
          for (const w of waiters) if (w.state === 'reading') w.state = 'waiting';
        },
      );
  }

  #gotRecords(waiters: Waiter[], records: readonly (TaskRecord | undefined)[]): void {
    waiters.forEach((w, k) => {
      if (w.state !== 'reading') return;
      const record = records[k];
      if (record?.status !== 'waiting') {
        // Removed or ended by something else (a store edited under us): nothing left to wait for.
        this.#end(w);
        return;
      }
      w.state = 'waiting';
      w.record = record as TaskRecord;
    });
  }

  /** Writes what arrived into each record; releases, skips or keeps waiting; then tells, after the write. */
  #apply(waiters: Waiter[]): void {
    const host = this.#host;
    const now = host.clock.now();
    const changed: TaskRecord[] = new Array(waiters.length);
    let released: Waiter[] | undefined;
    let skipped: TaskRecord[] | undefined;
    let moved: TaskRecord[] | undefined;
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i] as Waiter;
      const record = w.record as TaskRecord;
      changed[i] = record;
      if (w.outcomes) {
        record.dependencyOutcomes =
          record.dependencyOutcomes === undefined && Object.isFrozen(w.outcomes)
            ? w.outcomes
            : { ...record.dependencyOutcomes, ...w.outcomes };
        w.outcomes = undefined;
        w.stored += w.fresh;
        w.fresh = 0;
      }
      if (w.moved) {
        w.moved = false;
        record.priority = w.entry.priority;
        (moved ??= []).push(record);
      }
      if (w.broken) {
        record.status = 'skipped';
        noteError(record, w.broken, now);
        record.finishedAt = now;
        this.#end(w);
        (skipped ??= []).push(record);
      } else if (w.unmet === 0) {
        record.status = 'queued';
        record.dependencyOutcomes = inOrder(record.dependencyOutcomes, w.deps);
        this.#end(w);
        host.live.setStatus(w.id, 'queued');
        (released ??= []).push(w);
      } else this.#drop(w);
    }
    if (released) release(host.index, released, now);
    host.writes.persist(changed);
    for (const w of waiters) this.#applied(w);
    if (moved) for (const record of moved) host.emitter.task('reprioritized', record);
    if (skipped) this.#skipped(skipped);
    if (released) host.schedulePump();
  }

  /** Tells of skipped tasks (already persisted): handles settle, `skipped` events, and their own dependents learn of it. */
  #skipped(records: readonly TaskRecord[]): void {
    const host = this.#host;
    const listening = host.emitter.listens('skipped');
    const handles = host.live.handles;
    for (const record of records) {
      host.counters.counts.skipped++;
      const data = record.errors[record.errors.length - 1] as SerializedError;
      const error = listening || (handles.size > 0 && handles.has(record.id)) ? deserializeError(data) : undefined;
      // `settle` calls `finished` for it, which marks its dependents (the loop in `#flush` applies them).
      host.live.settle(record, false, error);
      if (error) host.emitter.task('skipped', record, { error });
    }
  }
}
