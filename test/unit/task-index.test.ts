import { describe, expect, test } from 'vitest';
import { IdRun } from '../../src/id-run.js';
import { type IndexEntry, TaskIndex } from '../../src/task-index.js';
import type { PriorityLevel } from '../../src/types.js';

let seq = 0;
const entry = (id: string, priority: PriorityLevel, readyAt = 0) => ({ id, name: 't', priority, readyAt, seq: seq++ });

let batches = 0;
/** A staged batch of `priorities.length` entries with ids `b<n>-0`, `b<n>-1`, …; `delays[i]` sets a readyAt. */
function batchOf(priorities: PriorityLevel[], delays: Record<number, number> = {}): IdRun<IndexEntry> {
  const batch = new IdRun<IndexEntry>(`b${batches++}-`, 0);
  for (const [i, p] of priorities.entries()) batch.push({ ...entry(batch.nextId(), p, delays[i] ?? 0) });
  return batch;
}

function drain(index: TaskIndex, now: number): string[] {
  const out: string[] = [];
  for (let e = index.next(now); e; e = index.next(now)) out.push(e.id);
  return out;
}

/** Takes every ready entry, failing at the first out of priority-then-FIFO order; returns how many. */
function drainInOrder(index: TaskIndex): number {
  let last = { p: -1, s: -1 };
  let n = 0;
  for (let e = index.next(0); e; e = index.next(0)) {
    const ok = e.priority > last.p || (e.priority === last.p && e.seq > last.s);
    if (!ok) throw new Error(`out of order at ${n}`);
    last = { p: e.priority, s: e.seq };
    n++;
  }
  return n;
}

describe('TaskIndex', () => {
  test('ready tasks: lowest priority number first, FIFO within a priority', () => {
    const index = new TaskIndex();
    index.add(entry('bg1', 4), 0);
    index.add(entry('n1', 2), 0);
    index.add(entry('c1', 0), 0);
    index.add(entry('n2', 2), 0);
    index.add(entry('bg2', 4), 0);
    index.add(entry('c2', 0), 0);
    expect(drain(index, 0)).toEqual(['c1', 'c2', 'n1', 'n2', 'bg1', 'bg2']);
  });

  test('a delayed task never blocks a ready one, and joins in priority order when due', () => {
    const index = new TaskIndex();
    index.add(entry('delayedCritical', 0, 100), 0);
    index.add(entry('readyLow', 3), 0);
    expect(index.next(50)?.id).toBe('readyLow');
    expect(index.next(50)).toBeUndefined();
    expect(index.nextWakeAt()).toBe(100);
    index.add(entry('readyNormal', 2, 0), 100);
    expect(drain(index, 100)).toEqual(['delayedCritical', 'readyNormal']);
  });

  test('among ready tasks of equal priority, earlier readyAt wins over enqueue order', () => {
    const index = new TaskIndex();
    index.add(entry('late', 2, 30), 0);
    index.add(entry('early', 2, 10), 0);
    expect(drain(index, 50)).toEqual(['early', 'late']);
  });

  test('removal is lazy: removed entries are skipped, counts stay exact', () => {
    const index = new TaskIndex();
    index.add(entry('a', 1), 0);
    index.add(entry('b', 1), 0);
    index.add(entry('c', 4, 100), 0);
    expect(index.countsByPriority()).toEqual([0, 2, 0, 0, 1]);
    index.remove('a');
    index.remove('c');
    expect(index.size).toBe(1);
    expect(index.countsByPriority()).toEqual([0, 1, 0, 0, 0]);
    expect(index.nextWakeAt()).toBeUndefined();
    expect(drain(index, 1000)).toEqual(['b']);
    expect(index.remove('zzz')).toBeUndefined();
  });

  test('readyCount excludes delayed entries', () => {
    const index = new TaskIndex();
    index.add(entry('r', 2), 0);
    index.add(entry('d', 2, 100), 0);
    expect(index.readyCount(0)).toBe(1);
    expect(index.readyCount(100)).toBe(2);
  });

  test('adding an id twice is a bug and throws', () => {
    const index = new TaskIndex();
    index.add(entry('x', 1), 0);
    expect(() => index.add(entry('x', 1), 0)).toThrow(/already indexed/);
  });

  test('addMany: ready and delayed entries, ordered as single adds would be', () => {
    const index = new TaskIndex();
    index.add(entry('n0', 2), 0);
    index.add(entry('d0', 0, 100), 0);
    const batch = batchOf([4, 1, 2, 0, 2], { 1: 50 });
    const [bg1, d1, n1, c1, n2] = batch.slots.map((e) => e?.id);
    index.addMany(batch, 0);
    expect(index.size).toBe(7);
    expect(index.countsByPriority()).toEqual([2, 1, 3, 0, 1]);
    expect(index.readyCount(0)).toBe(5);
    expect(index.nextWakeAt()).toBe(50);
    expect(drain(index, 0)).toEqual([c1, 'n0', n1, n2, bg1]);
    expect(drain(index, 100)).toEqual(['d0', d1]);
  });

  test('a small batch joins the id map: an id already indexed throws and changes nothing', () => {
    const index = new TaskIndex();
    const first = batchOf([1, 1]);
    index.addMany(first, 0);
    const clash = new IdRun<IndexEntry>('other-', 0);
    clash.push(entry('a', 0));
    clash.push(entry(first.nextId().replace(/2$/, '1'), 0));
    expect(() => index.addMany(clash, 0)).toThrow(/is already indexed/);
    expect(index.size).toBe(2);
    expect(index.has('a')).toBe(false);
    expect(index.countsByPriority()).toEqual([0, 2, 0, 0, 0]);
  });

  test('a big batch finds its entries by position: lookups, removal, entries and size; it joins the map once few are left', () => {
    const index = new TaskIndex();
    index.add(entry('solo', 0), 0);
    const batch = batchOf(Array.from({ length: 5_000 }, () => 3 as PriorityLevel));
    const ids = batch.slots.map((e) => e?.id as string);
    expect(ids[0]).toMatch(/-0$/);
    expect(ids[4_999]).toBe(`${batch.prefix}${(4_999).toString(36)}`);
    index.addMany(batch, 0);
    expect(index.size).toBe(5_001);
    expect(index.has(ids[4_999] as string)).toBe(true);
    expect(index.get(ids[0] as string)?.priority).toBe(3);
    // Ids that are not (or no longer) the batch's: other prefixes, out of range, not canonical.
    const p = batch.prefix;
    const strangers = [`${p}${(5_000).toString(36)}`, `${p}-1`, `${p}01`, `${p}1x!`, 'x-1', p];
    for (const id of strangers) expect(index.has(id)).toBe(false);
    expect(index.remove(ids[1] as string)?.id).toBe(ids[1]);
    expect(index.has(ids[1] as string)).toBe(false);
    expect(index.remove(ids[1] as string)).toBeUndefined();
    expect(index.size).toBe(5_000);
    expect(new Set([...index.entries()].map((e) => e.id)).size).toBe(5_000);
    expect(() => index.add(entry(ids[2] as string, 0), 0)).toThrow(/already indexed/);
    expect(index.next(0)?.id).toBe('solo');
    // Take all but a few: the batch joins the id map on the way, and lookups still work.
    for (let i = 0; i < 4_995; i++) index.next(0);
    expect(index.size).toBe(4);
    expect([...index.entries()].map((e) => e.id)).toEqual(ids.slice(4_996));
    expect(index.remove(ids[4_998] as string)?.id).toBe(ids[4_998]);
    expect(index.countsByPriority()).toEqual([0, 0, 0, 3, 0]);
    expect(drain(index, 0)).toEqual([ids[4_996], ids[4_997], ids[4_999]]);
    expect(index.size).toBe(0);
  });

  test('addMany of 100,000 random entries onto a queue comes out ordered', () => {
    const index = new TaskIndex();
    for (let i = 0; i < 1_000; i++) index.add(entry(`s${i}`, Math.floor(Math.random() * 5) as PriorityLevel), 0);
    index.addMany(batchOf(Array.from({ length: 100_000 }, () => Math.floor(Math.random() * 5) as PriorityLevel)), 0);
    expect(drainInOrder(index)).toBe(101_000);
  });

  test('100,000 random adds come out ordered', () => {
    const index = new TaskIndex();
    for (let i = 0; i < 100_000; i++) index.add(entry(`t${i}`, Math.floor(Math.random() * 5) as PriorityLevel), 0);
    expect(drainInOrder(index)).toBe(100_000);
  });
});
