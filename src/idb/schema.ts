import type { DBSchema } from 'idb';
import { isObject } from '../record-validation.js';
import type { ScheduleRecord } from '../schedule-types.js';
import type { TaskRecord } from '../types.js';
import type { SegmentSummary } from './summary.js';

/**
 * The on-disk layout: a log of segments. A segment is one value holding the versions of many tasks
 * written in one group commit (a task's version is its whole record, or a tombstone once removed).
 * A task's current state is its version in the newest segment that has one: segment keys sort in
 * write order, also across connections (see `stampAfter`).
 */
export interface TasklaneDB extends DBSchema {
  log: { key: SegmentKey; value: Segment };
  /** Repeat schedules by id (version 3). */
  schedules: { key: string; value: ScheduleRecord };
  /** Each segment's summary under the segment's key (version 4; see `SegmentSummary`). */
  summary: { key: SegmentKey; value: SegmentSummary };
  /** One entry (0) under every segment's key (version 5; see `directory.ts`). */
  dir: { key: SegmentKey; value: 0 };
}

/** `[stamp, n]`: `stamp` orders connections (each opens after every segment it found), `n` orders one connection's segments. */
export type SegmentKey = [number, number];

export interface Segment {
  records: Entry[];
}

/** Marks a task removed (by retention or `remove`) while older versions of it may still be on disk. */
export interface Tombstone {
  id: string;
  removed: true;
}

export type Entry = TaskRecord | Tombstone;

export const SCHEMA_VERSION = 5;

/** Versions one segment holds at most: a read of one task decodes its whole segment, and dispatch reads about this many at a time. */
export const SEGMENT_MAX = 512;
/** An input estimated above this many bytes gets a segment of its own, so reading a small task never decodes a big one. */
export const BIG_INPUT = 64 * 1024;
/** A segment's estimated bytes before it is closed early. */
export const SEGMENT_BYTES = 1024 * 1024;

/**
 * Brings a database from `oldVersion` (0 when new) to `SCHEMA_VERSION`, one step at a time. Never
 * edit a past step. Runs inside the version-change transaction `tx`.
 */
export function upgradeSchema(db: IDBDatabase, tx: IDBTransaction, oldVersion: number): void {
  if (oldVersion < 1) {
    const tasks = db.createObjectStore('tasks', { keyPath: 'id' });
    tasks.createIndex('status', 'status');
    tasks.createIndex('key', 'key');
    tasks.createIndex('finishedAt', ['status', 'finishedAt']);
  }
  if (oldVersion < 2) {
    // One record per task → a log of segments. The old records become the oldest segments, keyed
    // before anything a connection writes.
    const log = db.createObjectStore('log');
    const all = tx.objectStore('tasks').getAll();
    all.onsuccess = () => {
      const records = all.result as unknown[];
      for (let i = 0; i < records.length; i += SEGMENT_MAX) log.put({ records: records.slice(i, i + SEGMENT_MAX) }, [0, i]);
      db.deleteObjectStore('tasks');
    };
  }
  if (oldVersion < 3) db.createObjectStore('schedules', { keyPath: 'id' });
  // Segments found without a summary are read whole on open and get one then (`IdbStore`).
  if (oldVersion < 4) db.createObjectStore('summary');
  if (oldVersion < 5) {
    // The directory lists every segment: filled once from the keys of `log` (see `directory.ts`).
    const dir = db.createObjectStore('dir');
    if (oldVersion > 0) {
      // Asked from a request's callback: it then runs after puts earlier steps make in theirs (version 2's).
      dir.count().onsuccess = () => {
        const keys = tx.objectStore('log').getAllKeys();
        keys.onsuccess = () => {
          for (const key of keys.result) dir.put(0, key);
        };
      };
    }
  }
}

export const noop = () => {};
export const describeError = (error: unknown) =>
  error instanceof Error || error instanceof DOMException ? `${error.name}: ${error.message}` : String(error);
export const isTombstone = (e: Entry): e is Tombstone => (e as Tombstone).removed === true;
/** What a caller may mutate without touching what was written: transitions replace nested objects (`errors` included), so a shallow copy is enough. */
export const copyRecord = (r: TaskRecord): TaskRecord => ({ ...r });

/** A cheap guess of an input's size: exact for strings and binary data, 0 for anything else. */
export function inputBytes(input: unknown): number {
  if (typeof input === 'string') return input.length * 2;
  if (input instanceof ArrayBuffer) return input.byteLength;
  if (ArrayBuffer.isView(input)) return input.byteLength;
  if (isObject(input)) {
    let n = 0;
    for (const key in input) {
      const v = input[key];
      if (typeof v === 'string') n += v.length * 2;
      else if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) n += v.byteLength;
    }
    return n;
  }
  return 0;
}
