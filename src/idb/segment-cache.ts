import { StorageError } from '../errors.js';
import type { TaskRecord } from '../types.js';
import { copyRecord, describeError, type Entry, isTombstone, noop, type Segment } from './schema.js';
import type { SegmentMap } from './segment-map.js';

/** Decoded records kept for reads (prefetched segments), at most. */
const CACHE_MAX = 2048;

/** What the cache needs from the store around it. */
export interface SegmentCacheHost {
  readonly name: string;
  readonly stats: { reads: number; prefetchHits: number };
  readonly closed: boolean;
  closedError(what: string): Error;
  /** A read-only transaction on the log; throws as `IDBDatabase.transaction` does. */
  readTransaction(): IDBTransaction;
  /** `id`'s version written and not yet committed, which a read sees before any committed one. */
  pending(id: string): Entry | undefined;
}

/** The parts of the segment map a read looks at. */
export type SegmentLookup = Pick<SegmentMap, 'where' | 'isTomb' | 'segment'>;

/**
 * Reads of current versions: from pending writes, then from segments read ahead (`prefetch`), then
 * from disk, one read-only transaction for all the segments one `read` misses. Every record handed
 * out is a copy the caller may mutate.
 */
export class SegmentCache {
  readonly #host: SegmentCacheHost;
  readonly #map: SegmentLookup;
  /** Decoded segments read ahead: local number → id → record (taken out when read). */
  readonly #cache = new Map<number, Map<string, TaskRecord>>();
  #cached = 0;
  readonly #inflight = new Map<number, Promise<Map<string, TaskRecord>>>();

  constructor(host: SegmentCacheHost, map: SegmentLookup) {
    this.#host = host;
    this.#map = map;
  }

  read(ids: readonly string[]): (TaskRecord | undefined)[] | Promise<(TaskRecord | undefined)[]> {
    const out: (TaskRecord | undefined)[] = new Array(ids.length);
    let missing: Map<number, number[]> | undefined;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const pending = this.#host.pending(id);
      if (pending !== undefined) {
        out[i] = isTombstone(pending) ? undefined : copyRecord(pending);
        continue;
      }
      const at = this.#map.where(id);
      if (at === undefined || this.#map.isTomb(id)) continue;
      const hit = this.#take(at, id);
      if (hit !== undefined) {
        out[i] = hit;
        continue;
      }
      if (!missing) missing = new Map();
      const slots = missing.get(at);
      if (slots) slots.push(i);
      else missing.set(at, [i]);
    }
    if (!missing) return out;
    if (this.#host.closed) return Promise.reject(this.#host.closedError(`read ${ids.length} record(s)`));
    const fetch = [...missing.keys()].filter((at) => !this.#inflight.has(at));
    if (fetch.length > 0) this.#fetch(fetch);
    const waits: Promise<void>[] = [];
    for (const [at, slots] of missing) {
      const inflight = this.#inflight.get(at);
      if (!inflight) continue; // the segment went meanwhile: its tasks are gone too
      if (!fetch.includes(at)) this.#host.stats.prefetchHits += slots.length;
      waits.push(
        inflight.then(async (decoded) => {
          let moved: number[] | undefined;
          for (const i of slots) {
            const id = ids[i] as string;
            const record = decoded.get(id);
            if (record === undefined) {
              // Its version moved while the segment was read (a commit in between): read it where it is now.
              if (this.#host.pending(id) !== undefined || (this.#map.where(id) ?? at) !== at) (moved ??= []).push(i);
              continue;
            }
            out[i] = copyRecord(record);
            const cached = this.#cache.get(at);
            if (cached?.delete(id)) this.#cached--;
          }
          if (moved) {
            const again = await this.read(moved.map((i) => ids[i] as string));
            moved.forEach((i, k) => {
              out[i] = again[k];
            });
          }
        }),
      );
    }
    return Promise.all(waits).then(() => out);
  }

  /**
   * Starts reading the segments holding `ids` so that a `read` of them soon after needs no wait.
   * Fire and forget.
   */
  prefetch(ids: readonly string[]): void {
    if (this.#host.closed) return;
    let want: number[] | undefined;
    for (const id of ids) {
      if (this.#host.pending(id) !== undefined) continue;
      const at = this.#map.where(id);
      if (at === undefined || this.#cache.has(at) || this.#inflight.has(at) || want?.includes(at)) continue;
      (want ??= []).push(at);
    }
    if (want) this.#fetch(want);
  }

  /** Raw segment values, bypassing the cache (callers keep or mutate what they get). */
  readSegments(locals: readonly number[]): Promise<(Segment | undefined)[]> {
    return new Promise((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = this.#host.readTransaction();
      } catch (error) {
        reject(new StorageError(`could not read: ${describeError(error)}`, { cause: error }));
        return;
      }
      this.#host.stats.reads++;
      const os = tx.objectStore('log');
      const out: (Segment | undefined)[] = new Array(locals.length);
      locals.forEach((local, k) => {
        const info = this.#map.segment(local);
        if (!info) return;
        const request = os.get(info.key);
        request.onsuccess = () => {
          out[k] = request.result as Segment | undefined;
        };
      });
      tx.oncomplete = () => resolve(out);
      tx.onabort = () => reject(new StorageError(`could not read: ${describeError(tx.error)}`, { cause: tx.error }));
    });
  }

  /** The current versions read ahead and not yet taken (what a connection the browser closed still leaves in memory). */
  snapshot(): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const [local, decoded] of this.#cache)
      for (const [id, record] of decoded) if (this.#map.where(id) === local && !this.#map.isTomb(id)) out.push(copyRecord(record));
    return out;
  }

  /** Forgets what was read ahead of segment `local` (it is going). */
  drop(local: number): void {
    const decoded = this.#cache.get(local);
    if (!decoded) return;
    this.#cache.delete(local);
    this.#cached -= decoded.size;
  }

  /** Forgets everything read ahead, and the reads in flight (their callers still get their results). */
  clear(): void {
    this.#cache.clear();
    this.#cached = 0;
    this.#inflight.clear();
  }

  /** A prefetched record, taken out of the cache (the caller may mutate it; it is read once). */
  #take(at: number, id: string): TaskRecord | undefined {
    const decoded = this.#cache.get(at);
    const hit = decoded?.get(id);
    if (hit === undefined) return undefined;
    decoded?.delete(id);
    this.#cached--;
    this.#host.stats.prefetchHits++;
    return copyRecord(hit);
  }

  /**
   * Reads segments in one read-only transaction (IndexedDB orders it after every write transaction
   * opened before it). Each resolves with its current versions, never mutated; a copy of that map
   * goes to the cache, from which reads take.
   */
  #fetch(locals: readonly number[]): void {
    let tx: IDBTransaction;
    try {
      tx = this.#host.readTransaction();
    } catch (error) {
      const failure = Promise.reject(new StorageError(`could not read: ${describeError(error)}`, { cause: error }));
      failure.catch(noop);
      for (const local of locals) this.#inflight.set(local, failure);
      queueMicrotask(() => {
        for (const local of locals) if (this.#inflight.get(local) === failure) this.#inflight.delete(local);
      });
      return;
    }
    this.#host.stats.reads++;
    const os = tx.objectStore('log');
    for (const local of locals) {
      const info = this.#map.segment(local);
      if (!info) continue;
      const request = os.get(info.key);
      const promise = new Promise<Map<string, TaskRecord>>((resolve, reject) => {
        request.onsuccess = () => {
          const decoded = new Map<string, TaskRecord>();
          const value = request.result as Segment | undefined;
          for (const e of value?.records ?? []) if (!isTombstone(e) && this.#map.where(e.id) === local) decoded.set(e.id, e);
          if (this.#inflight.get(local) === promise) {
            this.#inflight.delete(local);
            if (!this.#host.closed && this.#map.segment(local) !== undefined) this.#add(local, new Map(decoded));
          }
          resolve(decoded);
        };
        request.onerror = () =>
          reject(
            new StorageError(`could not read a segment of "${this.#host.name}": ${describeError(request.error)}`, { cause: request.error }),
          );
      });
      promise.catch(() => {
        if (this.#inflight.get(local) === promise) this.#inflight.delete(local);
      });
      this.#inflight.set(local, promise);
    }
  }

  #add(local: number, decoded: Map<string, TaskRecord>): void {
    this.drop(local);
    this.#cache.set(local, decoded);
    this.#cached += decoded.size;
    for (const [oldest, records] of this.#cache) {
      if (this.#cached <= CACHE_MAX || oldest === local) break;
      this.#cache.delete(oldest);
      this.#cached -= records.size;
    }
  }
}
