import type { MintedIds } from '../id-run.js';
import { mintedId } from '../id-run.js';
import { isObject } from '../record-validation.js';
import type { ReadyExtras } from '../store.js';
import { type TaskRecord, type TaskStatus, TERMINAL_STATUSES } from '../types.js';
import { type Entry, isTombstone, type SegmentKey } from './schema.js';

/**
 * A segment's summary, stored beside it under the same key (schema version 4): what opening the
 * queue needs of each version it holds, without inputs, results or errors, so that an open reads a
 * few bytes a task instead of decoding every record. Written in the same transaction as its segment
 * and deleted with it; segments never change once put, so a summary stays true for its key.
 */
export interface SegmentSummary {
  v: 1;
  n: number;
  /** The versions' task ids, or the run they were minted as (the i-th is `mintedId(ids, i)`). */
  ids: string[] | MintedIds;
  /** What each version is (`KIND`). Each column is one number when every version shares it. */
  kind: Column;
  /** Names by index into `names`, for ready versions. */
  names: string[];
  nameOf: Column;
  priority: Column;
  /** One number when every version shares it, else one per version. */
  runAt: number | Float64Array;
  /** The first seq when they are consecutive, else one per version. */
  seq: number | Float64Array;
  /** For finished versions: status codes (`STATUS_CODES`) and when they finished, else 0. */
  status: Column;
  finishedAt: Float64Array | undefined;
  /** Key and gate tags of ready versions that have any, by position. */
  extras: [number, ReadyExtras][] | undefined;
}

/** Small numbers per version: one number when all are the same, which a batch's segment mostly is (a summary of 512 then takes a few bytes). */
export type Column = number | Uint8Array | Uint16Array;

export const at = (column: Column, i: number): number => (typeof column === 'number' ? column : (column[i] as number));

/** `column` as one number if all its values are equal. */
function packed(column: Uint8Array | Uint16Array): Column {
  const first = column[0] ?? 0;
  for (let i = 1; i < column.length; i++) if (column[i] !== first) return column;
  return first;
}

export const KIND = {
  /** Queued or retrying, ordered by the summary's fields alone. */
  ready: 0,
  /** Completed, failed, cancelled or skipped, holding no idempotency key. */
  done: 1,
  tombstone: 2,
  /** Anything else (running, waiting, a held key, an odd record): opening reads the record itself. */
  full: 3,
} as const;

const STATUS_CODES: readonly TaskStatus[] = ['queued', 'running', 'retrying', 'completed', 'failed', 'cancelled', 'skipped', 'waiting'];
const CODE_OF = new Map(STATUS_CODES.map((s, i) => [s, i]));

export const statusOfCode = (code: number): TaskStatus => STATUS_CODES[code] ?? 'failed';

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function kindOf(e: Entry): number {
  if (isTombstone(e)) return KIND.tombstone;
  if (typeof e.name !== 'string' || !finite(e.seq)) return KIND.full;
  if (TERMINAL_STATUSES.has(e.status)) return e.keyTtlMs !== undefined || !finite(e.finishedAt) ? KIND.full : KIND.done;
  if (e.status !== 'queued' && e.status !== 'retrying') return KIND.full;
  if (e.lease !== undefined || !finite(e.runAt) || !Number.isInteger(e.priority) || e.priority < 0 || e.priority > 4) return KIND.full;
  return KIND.ready;
}

/** The run `ids` were minted as (`prefix` up to the last '-', base 36 after it), if they are one. */
function mintedRun(ids: readonly string[]): MintedIds | undefined {
  const head = ids[0] as string;
  const cut = head.lastIndexOf('-') + 1;
  if (cut === 0 || cut === head.length) return undefined;
  const first = Number.parseInt(head.slice(cut), 36);
  const minted = { prefix: head.slice(0, cut), first };
  if (!Number.isSafeInteger(first) || mintedId(minted, 0) !== head) return undefined;
  for (let i = 1; i < ids.length; i++) if (ids[i] !== mintedId(minted, i)) return undefined;
  return minted;
}

/** Whether any of `entries` is a queued or retrying task: what a summary saves reading at open. */
export function holdsReady(entries: readonly Entry[]): boolean {
  for (let i = 0; i < entries.length; i++) {
    const status = (entries[i] as TaskRecord).status;
    if (status === 'queued' || status === 'retrying') return true;
  }
  return false;
}

/** The summary of a segment holding `entries`. */
export function summarize(entries: readonly Entry[]): SegmentSummary {
  const n = entries.length;
  const ids = entries.map((e) => e.id);
  const kind = new Uint8Array(n);
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const nameOf = new Uint16Array(n);
  const priority = new Uint8Array(n);
  const runAt = new Float64Array(n);
  const seq = new Float64Array(n);
  const status = new Uint8Array(n);
  let finishedAt: Float64Array | undefined;
  let extras: [number, ReadyExtras][] | undefined;
  let firstRunAt: number | undefined;
  let sameRunAt = true;
  // Seqs are consecutive when every version's seq is `base + i`.
  let base: number | undefined;
  let consecutive = true;
  for (let i = 0; i < n; i++) {
    const e = entries[i] as Entry;
    const k = kindOf(e);
    kind[i] = k;
    // Only ready and finished versions' fields are read back.
    if (k === KIND.tombstone || k === KIND.full) continue;
    const r = e as TaskRecord;
    seq[i] = r.seq;
    base ??= r.seq - i;
    if (r.seq !== base + i) consecutive = false;
    if (k === KIND.done) {
      status[i] = CODE_OF.get(r.status) ?? 4;
      finishedAt ??= new Float64Array(n);
      finishedAt[i] = r.finishedAt as number;
      continue;
    }
    let at = nameIndex.get(r.name);
    if (at === undefined) {
      at = names.push(r.name) - 1;
      nameIndex.set(r.name, at);
    }
    nameOf[i] = at;
    priority[i] = r.priority;
    status[i] = CODE_OF.get(r.status) as number;
    runAt[i] = r.runAt;
    firstRunAt ??= r.runAt;
    if (r.runAt !== firstRunAt) sameRunAt = false;
    if (r.key !== undefined || r.group !== undefined || r.exclusive !== undefined || r.requires !== undefined) {
      const x: ReadyExtras = {};
      if (r.key !== undefined) x.key = r.key;
      if (r.group !== undefined) x.group = r.group;
      if (r.exclusive !== undefined) x.exclusive = r.exclusive;
      if (r.requires !== undefined) x.requires = r.requires;
      (extras ??= []).push([i, x]);
    }
  }
  return {
    v: 1,
    n,
    ids: (n > 0 && mintedRun(ids)) || ids,
    kind: packed(kind),
    names,
    nameOf: packed(nameOf),
    priority: packed(priority),
    runAt: sameRunAt ? (firstRunAt ?? 0) : runAt,
    seq: consecutive ? (base ?? 0) : seq,
    status: packed(status),
    finishedAt,
    extras,
  };
}

/** `value` as a summary of a segment this version wrote, or undefined when it is not one (then the segment itself is read). */
export function asSummary(value: unknown): SegmentSummary | undefined {
  if (!isObject(value) || value.v !== 1 || !Number.isInteger(value.n)) return undefined;
  const n = value.n as number;
  const ok = (a: unknown, type: { prototype: unknown }) => a instanceof (type as typeof Uint8Array) && (a as Uint8Array).length === n;
  const column = (a: unknown, type: { prototype: unknown }) => Number.isInteger(a) || ok(a, type);
  const ids = value.ids;
  const idsOk = Array.isArray(ids)
    ? ids.length === n && ids.every((id) => typeof id === 'string' && id !== '')
    : isObject(ids) && typeof ids.prefix === 'string' && Number.isSafeInteger(ids.first);
  if (!idsOk || !column(value.kind, Uint8Array) || !column(value.nameOf, Uint16Array) || !column(value.priority, Uint8Array))
    return undefined;
  if (!column(value.status, Uint8Array) || !Array.isArray(value.names)) return undefined;
  if (!(typeof value.runAt === 'number' || ok(value.runAt, Float64Array))) return undefined;
  if (!(typeof value.seq === 'number' || ok(value.seq, Float64Array))) return undefined;
  if (value.finishedAt !== undefined && !ok(value.finishedAt, Float64Array)) return undefined;
  if (value.extras !== undefined && !Array.isArray(value.extras)) return undefined;
  return value as unknown as SegmentSummary;
}

export const summarySeq = (s: SegmentSummary, i: number): number => (typeof s.seq === 'number' ? s.seq + i : (s.seq[i] as number));
export const summaryRunAt = (s: SegmentSummary, i: number): number => (typeof s.runAt === 'number' ? s.runAt : (s.runAt[i] as number));

/**
 * One value of the `summary` store: the summaries of up to `GROUP_MAX` segments put in one commit
 * (about `GROUP_BYTES` at most), keyed by the first one's key, so that opening a big queue reads a
 * few values, not one per segment. A part whose segment is gone is passed over; a value none of
 * whose segments is left is deleted. Losing a group never loses a task: a segment found without a
 * summary is read whole.
 */
export interface SummaryGroup {
  v: 2;
  parts: [SegmentKey, SegmentSummary][];
}

export const GROUP_MAX = 64;
export const GROUP_BYTES = 64 * 1024;

/** A rough size of a summary once stored, to bound a group's. */
export function summaryBytes(s: SegmentSummary): number {
  let bytes = 64 + (Array.isArray(s.ids) ? s.ids.length * 24 : 0) + (s.extras?.length ?? 0) * 64;
  for (const c of [s.kind, s.nameOf, s.priority, s.status, s.runAt, s.seq, s.finishedAt])
    if (typeof c === 'object' && c !== null) bytes += c.byteLength;
  return bytes;
}

/** `value`'s parts as a summary group (each part's summary undefined where unreadable), or undefined when it is none. */
export function asGroup(value: unknown): [SegmentKey, SegmentSummary | undefined][] | undefined {
  if (!isObject(value) || value.v !== 2 || !Array.isArray(value.parts)) return undefined;
  const out: [SegmentKey, SegmentSummary | undefined][] = [];
  for (const part of value.parts as unknown[]) {
    if (!Array.isArray(part) || !Array.isArray(part[0]) || part[0].length !== 2 || !part[0].every((x) => typeof x === 'number')) continue;
    out.push([part[0] as SegmentKey, asSummary(part[1])]);
  }
  return out;
}
