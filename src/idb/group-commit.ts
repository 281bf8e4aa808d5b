import { StorageError } from '../errors.js';
import { CommitRetry, type Holdable } from './commit-retry.js';
import { Segments } from './directory.js';
import { describeError, type Entry, isTombstone, noop } from './schema.js';
import type { SegmentMap } from './segment-map.js';
import { SegmentWriter, type Source } from './segment-writer.js';
import { SummaryGroups } from './summary-groups.js';

export { isTransient } from './commit-retry.js';

/** One caller's `write`: settled when the transaction holding it commits or aborts. */
interface Write extends Holdable {
  /** Its versions; for a lazy write, our own array, whose records are replaced by copies as they are put. */
  entries: Entry[];
  /**
   * A write bigger than one segment: copied and made visible to `read` segment by segment as it is
   * put, so no single event-loop task pays for all of it.
   */
  lazy: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/** One group commit: a read-write transaction and everything that went into it. */
interface Batch {
  tx: IDBTransaction;
  /** `log`, written only through this: each segment with its directory entry. */
  os: Segments;
  /** The `summary` store: `writer` puts summary groups here; a group is deleted with the last of its segments. */
  summaries: IDBObjectStore;
  /** Puts the batch's versions: one segment at once, the rest from put success callbacks. */
  writer: SegmentWriter;
  writes: Write[];
  /** Writes not yet handed to `writer`; the flush that does runs at the end of the turn, or at once for a big write. */
  unflushed: Write[];
  flushQueued: boolean;
  deletes: number[];
  /** Aborted on purpose so its writes go again in a new batch: its abort rejects nothing. */
  replayed: boolean;
  /** It carries held writes again (see `CommitRetry`). */
  retry: boolean;
  /** Given up after its connection was lost (see `abandon`): its events, should they still come, change nothing. */
  abandoned: boolean;
  /** Ends it as one in flight: called once, by its completion, its abort, or `abandon`. */
  finish(): void;
}

/** What the write path needs from the store around it. */
export interface GroupCommitHost {
  readonly name: string;
  /** This connection's stamp: the first half of every segment key it writes. */
  readonly stamp: number;
  readonly stats: { transactions: number; commits: number; aborts: number; segmentsWritten: number };
  readonly closed: boolean;
  closedError(what: string): Error;
  /** A read-write transaction on the log; throws as `IDBDatabase.transaction` does. */
  writeTransaction(): IDBTransaction;
  /**
   * Held state changes could not be committed (`error`, its `cause` the DOMException): attempt
   * `attempt` of this episode failed, the next is in `retryInMs`. `count` writes are held.
   */
  commitsFailing(error: Error, attempt: number, retryInMs: number, count: number): void;
  /** The held state changes committed: the episode that began at `since` (epoch ms) is over. */
  commitsRecovered(since: number): void;
  /** A transaction committed. */
  committed(): void;
  /** After `detach`: writes of a transaction that aborted, for the store to carry to its next connection. */
  orphaned(writes: Write[], error: Error): void;
}

export type { Write as HeldWrite };

/** The parts of the segment map the write path uses: numbers for new segments, keys of old ones, and where commits go. */
export type SegmentLedger = Pick<SegmentMap, 'reserve' | 'segment' | 'committed'>;

/** The versions of several small writes, one per task (the last written wins), in first-write order. */
function combine(writes: readonly Write[]): Entry[] {
  if (writes.length === 1) return (writes[0] as Write).entries;
  const byId = new Map<string, Entry>();
  for (const w of writes) for (const e of w.entries) byId.set(e.id, e);
  return [...byId.values()];
}

/**
 * The write path. Every `submit` of one turn shares one read-write transaction (a batch), and a
 * version written twice in it is stored once; a write of thousands of tasks is put one segment per
 * event-loop task, in the same transaction (see `SegmentWriter`), so the main thread is never held
 * for the whole serialisation while the write stays all-or-nothing. Deletions of dead segments ride
 * along. Until its batch commits and the map has accounted for it, a version is pending: what reads
 * see first.
 */
export class GroupCommit {
  readonly #host: GroupCommitHost;
  readonly #map: SegmentLedger;
  /** Where each committed segment's summary is stored. */
  readonly groups = new SummaryGroups();
  /** Versions written but not yet committed, by id: what a read sees first. */
  readonly #pending = new Map<string, Entry>();
  /** Segments with nothing current, waiting to be deleted in the next commit. */
  #toDelete: number[] = [];
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  #batch: Batch | undefined;
  /** Batches begun and not finished, oldest first: IndexedDB commits them in this order. */
  readonly #open: Batch[] = [];
  /** Writes waiting for the transactions in flight to finish (see `#moveToNext`). */
  readonly #parked: Write[] = [];
  readonly #settling = new Set<Promise<void>>();
  /** What becomes of writes whose commit failed: the held ones, their retries, giving up. */
  readonly #retry: CommitRetry<Write>;
  /** The connection is gone: `detach` handed the unfinished writes over; nothing begins here any more. */
  #detached = false;

  constructor(host: GroupCommitHost, map: SegmentLedger) {
    this.#host = host;
    this.#map = map;
    const self = this;
    this.#retry = new CommitRetry<Write>({
      get closed() {
        return host.closed;
      },
      get detached() {
        return self.#detached;
      },
      whenIdle: () => (this.#open.length > 0 ? this.settled() : undefined),
      fail: (write, error) => this.#fail(write, error),
      takeParked: () => {
        const held = this.#parked.filter((w) => w.hold);
        if (held.length > 0) {
          const rest = this.#parked.filter((w) => !w.hold);
          this.#parked.length = 0;
          this.#parked.push(...rest);
        }
        return held;
      },
      commit: (writes, retry) => {
        if (retry) for (const w of writes) w.entries = w.entries.filter((e) => this.#pending.get(e.id) === e);
        this.#beginWith(writes, retry);
      },
      orphaned: (writes, error) => host.orphaned(writes, error),
      failing: (error, attempt, retryInMs, count) => host.commitsFailing(error, attempt, retryInMs, count),
      recovered: (since) => host.commitsRecovered(since),
    });
  }

  /** Versions written and not yet committed, by task id, oldest write first. */
  get pending(): ReadonlyMap<string, Entry> {
    return this.#pending;
  }

  /** `entry` is no longer pending, unless a newer version of its task was written since. */
  unpend(entry: Entry): void {
    if (this.#pending.get(entry.id) === entry) this.#pending.delete(entry.id);
  }

  /** Whether segments wait to be deleted. */
  get hasDeletes(): boolean {
    return this.#toDelete.length > 0;
  }

  /** Whether a transaction is in flight or writes wait for one (held writes not counted: see `giveUp`). */
  get busy(): boolean {
    return this.#open.length > 0 || this.#parked.length > 0;
  }

  /** State changes held after a transient failure, waiting for a retry. */
  get held(): number {
    return this.#retry.held;
  }

  /** Settles once every transaction begun so far has finished. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.#settling]);
  }

  /**
   * Adds versions to this turn's batch (opening one if needed); resolves when it commits. A lazy
   * write (more than one segment) is ours to replace its records with copies as they are put; a
   * small one's records are the caller's copies already.
   */
  submit(entries: Entry[], lazy: boolean, hold = false): Promise<void> {
    if (this.#detached) return Promise.reject(this.#host.closedError(`store ${entries.length} record(s)`));
    if (hold && this.#retry.held > 0) {
      // Behind state changes that wait for a retry: this one waits with them, after them.
      const held = this.#newWrite(entries, lazy, hold);
      this.#retry.join(held.write);
      return held.promise;
    }
    let batch = this.#batch;
    if (!batch && (this.#parked.length > 0 || this.#open.length > 0)) {
      // A transaction is committing: this write waits with the others for the next one.
      const parked = this.#newWrite(entries, lazy, hold);
      this.#parked.push(parked.write);
      return parked.promise;
    }
    const { write, promise } = this.#newWrite(entries, lazy, hold);
    batch ??= this.#tryBegin([write]);
    if (!batch) return promise;
    batch.writes.push(write);
    batch.unflushed.push(write);
    if (lazy) this.#flush(batch);
    else if (!batch.flushQueued) {
      batch.flushQueued = true;
      const b = batch;
      queueMicrotask(() => this.#flush(b));
    }
    return promise;
  }

  /** Segment `local` holds nothing current: delete it in the next commit. */
  retire(local: number): void {
    this.#toDelete.push(local);
    this.scheduleDeletes();
  }

  /** Deletions ride along with the next flush; with none coming this turn, they get a commit of their own. */
  scheduleDeletes(): void {
    if (this.#toDelete.length === 0 || this.#deleteTimer !== undefined || this.#host.closed || this.#batch?.flushQueued) return;
    this.#deleteTimer = setTimeout(() => {
      this.#deleteTimer = undefined;
      if (this.#toDelete.length > 0 && !this.#host.closed) void this.submit([], false).catch(noop);
    }, 0);
  }

  /** Flushes this turn's batch now instead of at the end of the turn. */
  flushNow(): void {
    const batch = this.#batch;
    if (batch?.flushQueued) this.#flush(batch);
  }

  /** The connection closed (`host.closed` is true now): parked and held writes fail, no batch takes more. Transactions in flight still finish. */
  close(): void {
    const parked = this.#retry.drain().concat(this.#parked.splice(0));
    for (const w of parked) this.#fail(w, this.#host.closedError(`store ${w.entries.length} record(s)`));
    this.#batch = undefined;
    if (this.#deleteTimer !== undefined) clearTimeout(this.#deleteTimer);
  }

  /**
   * The connection is gone (deleted, closed by the browser): nothing begins here any more. Returns
   * the writes not yet in a transaction, held ones (older) first, for the store to carry to its next
   * connection; writes of transactions still in flight that abort go to `host.orphaned`.
   */
  detach(): Write[] {
    this.#detached = true;
    this.#batch = undefined;
    if (this.#deleteTimer !== undefined) clearTimeout(this.#deleteTimer);
    const out = this.#retry.drain().concat(this.#parked);
    this.#parked.length = 0;
    for (const w of out) for (const e of w.entries) if (this.#pending.get(e.id) === e) this.#pending.delete(e.id);
    return out;
  }

  /**
   * Takes writes begun on an earlier connection (see `detach`), in order, behind whatever this one
   * has begun: they keep their promises and commit here.
   */
  adopt(writes: readonly Write[]): void {
    if (writes.length === 0) return;
    for (const w of writes) if (!w.lazy) for (const e of w.entries) this.#pending.set(e.id, e);
    if (this.#open.length > 0 || this.#batch) this.#parked.push(...writes);
    else this.#beginWith([...writes]);
  }

  /**
   * After `detach`: the transactions still in flight are given up, as if they had aborted with
   * `cause` (a connection the browser closed may never report the ones begun just before). Their
   * state changes go to `host.orphaned`; their other writes are rejected.
   */
  abandon(cause: DOMException): void {
    for (const batch of this.#open.slice()) {
      batch.abandoned = true;
      batch.finish();
      if (batch.replayed) continue;
      const count = batch.writes.reduce((n, w) => n + w.entries.length, 0);
      const error = new StorageError(`commit of ${count} record(s) to "${this.#host.name}" failed: ${describeError(cause)}`, { cause });
      this.#retry.failOrHold(batch.writes, error, cause);
    }
  }

  /** Tries the held state changes once more now; those that still fail are rejected, and no more are held. */
  giveUp(): Promise<void> {
    return this.#retry.giveUp();
  }

  #newWrite(entries: Entry[], lazy: boolean, hold = false): { write: Write; promise: Promise<void> } {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    if (!lazy) for (const e of entries) this.#pending.set(e.id, e);
    return { write: { entries, lazy, hold, resolve, reject }, promise };
  }

  /** A new batch, or undefined after failing `writes` with the reason none could be begun (a closed connection, say). */
  #tryBegin(writes: readonly Write[]): Batch | undefined {
    try {
      return this.#begin();
    } catch (error) {
      const count = writes.reduce((n, w) => n + w.entries.length, 0);
      const failure = new StorageError(`could not start a transaction to store ${count} record(s): ${describeError(error)}`, {
        cause: error,
      });
      this.#retry.failOrHold(writes, failure, error);
      return undefined;
    }
  }

  #begin(): Batch {
    const tx = this.#host.writeTransaction();
    this.#host.stats.transactions++;
    if (this.#deleteTimer !== undefined) {
      clearTimeout(this.#deleteTimer);
      this.#deleteTimer = undefined;
    }
    const os = new Segments(tx);
    const summaries = tx.objectStore('summary');
    const host = this.#host;
    const batch: Batch = {
      tx,
      os,
      summaries,
      writer: new SegmentWriter(os, summaries, {
        stamp: host.stamp,
        stats: host.stats,
        get replayed() {
          return batch.replayed;
        },
        pend: (entry) => this.#pending.set(entry.id, entry),
        refused: () => this.#replay(batch),
      }),
      writes: [],
      unflushed: [],
      flushQueued: false,
      deletes: [],
      replayed: false,
      retry: false,
      abandoned: false,
      finish: noop,
    };
    let done!: () => void;
    const settled = new Promise<void>((r) => (done = r));
    this.#settling.add(settled);
    this.#open.push(batch);
    const finish = () => {
      if (batch.finish === noop) return;
      batch.finish = noop;
      if (this.#batch === batch) this.#batch = undefined;
      const at = this.#open.indexOf(batch);
      if (at >= 0) this.#open.splice(at, 1);
      if (!this.#host.closed) queueMicrotask(() => this.#unpark());
      this.#settling.delete(settled);
      done();
    };
    batch.finish = finish;
    tx.oncomplete = () => {
      if (batch.abandoned) return;
      finish();
      this.#host.stats.commits++;
      batch.writer.register(this.groups);
      this.#map.committed(batch.writer.segments, batch.deletes);
      for (const w of batch.writes) w.resolve();
      this.#host.committed();
      this.#retry.committed(batch.retry, () => batch.deletes.length > 0 || batch.writer.segments.some((s) => s.entries.some(isTombstone)));
    };
    tx.onabort = () => {
      if (batch.abandoned) return;
      finish();
      if (batch.replayed) return;
      this.#host.stats.aborts++;
      this.#toDelete.push(...batch.deletes);
      // While commits fail, deletions ride with the next retry instead of a commit of their own
      // that would fail too, and again, at the pace of a timer.
      if (!this.#retry.failing) this.scheduleDeletes();
      const cause = tx.error ?? new DOMException('the transaction was aborted', 'AbortError');
      const count = batch.writes.reduce((n, w) => n + w.entries.length, 0);
      const error = new StorageError(`commit of ${count} record(s) to "${this.#host.name}" failed: ${describeError(cause)}`, { cause });
      this.#retry.failOrHold(batch.writes, error, cause);
    };
    this.#batch = batch;
    return batch;
  }

  #fail(write: Write, error: unknown): void {
    for (const e of write.entries) if (this.#pending.get(e.id) === e) this.#pending.delete(e.id);
    write.reject(error);
  }

  #source(entries: Entry[], lazy: boolean): Source {
    return { entries, lazy, next: 0, base: this.#map.reserve(entries.length) };
  }

  /** Hands this turn's writes to the batch's queue and puts the first segment now, with the pending deletions. */
  #flush(batch: Batch): void {
    batch.flushQueued = false;
    if (batch.replayed) return;
    const writes = batch.unflushed.splice(0);
    const deletes = this.#toDelete.splice(0);
    try {
      for (const local of deletes) {
        const info = this.#map.segment(local);
        if (info) {
          batch.os.delete(info.key);
          const group = this.groups.release(local);
          if (group) batch.summaries.delete(group);
        }
      }
      batch.deletes.push(...deletes);
    } catch (error) {
      this.#toDelete.push(...deletes);
      if ((error as DOMException)?.name === 'TransactionInactiveError') {
        // The turn that opened this transaction is over and it is committing: the next one takes these.
        this.#moveToNext(batch, writes);
        return;
      }
      this.#replay(batch);
      return;
    }
    const sources = (
      writes.some((w) => w.lazy) ? writes.map((w) => this.#source(w.entries, w.lazy)) : [this.#source(combine(writes), false)]
    ).filter((source) => source.entries.length > 0);
    if (sources.length === 0) return;
    const failure = batch.writer.start(sources);
    if (failure === 'inactive') this.#moveToNext(batch, writes);
    else if (failure !== undefined) this.#replay(batch);
  }

  /**
   * Writes that came too late for `batch` (already committing) go to the next one. That one begins
   * when every transaction in flight has finished (IndexedDB would make it wait anyway): everything
   * written meanwhile shares it, so under load a commit carries many turns' writes, not one.
   */
  #moveToNext(batch: Batch, writes: Write[]): void {
    if (this.#batch === batch) this.#batch = undefined;
    const moving = new Set(writes);
    batch.writes = batch.writes.filter((w) => !moving.has(w));
    if (writes.length === 0 && this.#toDelete.length === 0) return;
    if (this.#host.closed) {
      // Closed while they waited for their flush: no next batch will come.
      for (const w of writes) this.#fail(w, this.#host.closedError(`store ${w.entries.length} record(s)`));
      return;
    }
    if (this.#open.length > 0) {
      this.#parked.push(...writes);
      return;
    }
    this.#beginWith(writes);
  }

  /** After the last transaction in flight finished: the parked writes go in one new batch. */
  #unpark(): void {
    if (this.#open.length > 0 || this.#parked.length === 0) return;
    this.#beginWith(this.#parked.splice(0));
  }

  #beginWith(writes: Write[], retry = false): void {
    const next = this.#tryBegin(writes);
    if (!next) return;
    next.retry = retry;
    next.writes.push(...writes);
    next.unflushed.push(...writes);
    this.#flush(next);
  }

  /**
   * A value in `batch` was refused. Aborts it (so nothing of it commits) and puts each write again
   * on its own in a new transaction, all at once: a write refused again fails alone with a
   * `StorageError`; the others commit.
   */
  #replay(batch: Batch): void {
    // Batches begun after this one cannot have committed (IndexedDB runs them in order), and their
    // versions are newer: they are aborted and replayed too, after this one's, to keep that order.
    const from = this.#open.indexOf(batch);
    const aborted = from >= 0 ? this.#open.slice(from) : [batch];
    let writes: Write[] = [];
    for (const b of aborted) {
      b.replayed = true;
      if (this.#batch === b) this.#batch = undefined;
      this.#toDelete.push(...b.deletes);
      try {
        b.tx.abort();
      } catch {
        // Already finished or aborting.
      }
      writes = writes.concat(b.writes);
    }
    retry: while (writes.length > 0) {
      const next = this.#tryBegin(writes);
      if (!next) return;
      if (this.#batch === next) this.#batch = undefined; // a replay takes no new writes
      for (const w of writes) {
        const before = next.writer.segments.length;
        const source = this.#source(w.entries, w.lazy);
        let cause: unknown;
        while (cause === undefined && source.next < source.entries.length) cause = next.writer.put(source);
        if (cause === undefined) {
          next.writes.push(w);
          continue;
        }
        this.#fail(w, new StorageError(`could not store ${w.entries.length} record(s): ${describeError(cause)}`, { cause }));
        if (next.writer.segments.length > before) {
          // Part of the refused write went in: start over without it.
          next.replayed = true;
          next.tx.abort();
          writes = writes.filter((other) => other !== w);
          continue retry;
        }
      }
      break;
    }
    this.scheduleDeletes();
  }
}
