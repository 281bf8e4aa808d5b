import { describe, expect, test } from 'vitest';
import { type MintedIds, mintedId } from '../../src/id-run.js';
import type { NewTask } from '../../src/index-entry.js';
import { TaskIndex } from '../../src/task-index.js';
import { RUN_MIN } from '../../src/task-table.js';
import type { PriorityLevel } from '../../src/types.js';
import { expectBookkeeping, type Model, modelNext, seededPick } from './index-model.js';

let seq = 0;
const entry = (id: string, priority: PriorityLevel, readyAt = 0) => ({ id, name: 't', priority, readyAt, seq: seq++ });

let batches = 0;

interface Staged extends MintedIds {
  tasks: NewTask[];
  ids: string[];
}

/**
 * A batch of `priorities.length` new tasks with ids `b<n>-0`, `b<n>-1`, … and consecutive seqs;
 * `delays[i]` sets a runAt, `names[i]` a name.
 */
function batchOf(priorities: PriorityLevel[], delays: Record<number, number> = {}, names: Record<number, string> = {}): Staged {
  const minted = { prefix: `b${batches++}-`, first: 0 };
  const tasks = priorities.map((priority, i) => ({
    id: mintedId(minted, i),
    name: names[i] ?? 't',
    priority,
    runAt: delays[i] ?? 0,
    seq: seq++,
  }));
  return { ...minted, tasks, ids: tasks.map((t) => t.id) };
}

function addBatch(index: TaskIndex, batch: Staged, now: number): void {
  index.addBatch(batch.tasks, batch, now);
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

  test('addBatch: ready and delayed entries, ordered as single adds would be', () => {
    const index = new TaskIndex();
    index.add(entry('n0', 2), 0);
    index.add(entry('d0', 0, 100), 0);
    const batch = batchOf([4, 1, 2, 0, 2], { 1: 50 });
    const [bg1, d1, n1, c1, n2] = batch.ids;
    addBatch(index, batch, 0);
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
    addBatch(index, first, 0);
    const clash = [
      { id: 'a', name: 't', priority: 0 as const, runAt: 0, seq: seq++ },
      { id: first.ids[1] as string, name: 't', priority: 0 as const, runAt: 0, seq: seq++ },
    ];
    expect(() => index.addBatch(clash, { prefix: 'other-', first: 0 }, 0)).toThrow(/is already indexed/);
    expect(index.size).toBe(2);
    expect(index.has('a')).toBe(false);
    expect(index.countsByPriority()).toEqual([0, 2, 0, 0, 0]);
  });

  test('a big batch finds its entries by position: lookups, removal, entries and size; it joins the map once few are left', () => {
    const index = new TaskIndex();
    index.add(entry('solo', 0), 0);
    const batch = batchOf(Array.from({ length: 5_000 }, () => 3 as PriorityLevel));
    const ids = batch.ids;
    expect(ids[0]).toMatch(/-0$/);
    expect(ids[4_999]).toBe(`${batch.prefix}${(4_999).toString(36)}`);
    addBatch(index, batch, 0);
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

  test('addBatch of 100,000 random entries onto a queue comes out ordered', () => {
    const index = new TaskIndex();
    for (let i = 0; i < 1_000; i++) index.add(entry(`s${i}`, Math.floor(Math.random() * 5) as PriorityLevel), 0);
    addBatch(index, batchOf(Array.from({ length: 100_000 }, () => Math.floor(Math.random() * 5) as PriorityLevel)), 0);
    expect(drainInOrder(index)).toBe(101_000);
  });

  test('100,000 random adds come out ordered', () => {
    const index = new TaskIndex();
    for (let i = 0; i < 100_000; i++) index.add(entry(`t${i}`, Math.floor(Math.random() * 5) as PriorityLevel), 0);
    expect(drainInOrder(index)).toBe(100_000);
  });

  describe('lanes (a big batch held by position)', () => {
    /**
     * Random adds (single, small batches, big batches with few or many keys), removals (heads
     * included) and takes, time moving on: every take, size, count and wake time matches a plain
     * model, and `upcoming` foretells the takes.
     */
    test('stay in exact order against a model through adds, removals, delays and folds', () => {
      const pick = seededPick(12345);
      const index = new TaskIndex();
      const live = new Map<string, Model>();
      let now = 0;
      let singles = 0;
      const check = () => expectBookkeeping(index, live, now);
      for (let round = 0; round < 12; round++) {
        const kind = pick(4);
        if (kind === 0) {
          for (let i = 0; i < 50; i++) {
            const e = entry(`s${singles++}`, pick(5) as PriorityLevel, now + (pick(3) === 0 ? pick(40) : 0));
            index.add(e, now);
            live.set(e.id, { ...e });
          }
        } else {
          // A big batch: few keys (lanes), or a distinct runAt per task (too many keys: entries).
          const n = kind === 3 ? 40 : RUN_MIN + pick(2_000);
          const manyKeys = kind === 2;
          const delays: Record<number, number> = {};
          const names: Record<number, string> = {};
          for (let i = 0; i < n; i++) {
            if (manyKeys) delays[i] = now + i / 7;
            else if (i % 5 === 0) delays[i] = now + 10 + pick(2) * 15;
            if (i % 3 === 0) names[i] = 'u';
          }
          const batch = batchOf(
            Array.from({ length: n }, () => pick(5) as PriorityLevel),
            delays,
            names,
          );
          addBatch(index, batch, now);
          for (const t of batch.tasks) live.set(t.id, { id: t.id, priority: t.priority, readyAt: t.runAt, seq: t.seq });
        }
        check();
        // Remove some at random, some of them the very next in line.
        const ids = [...live.keys()];
        for (let i = 0; i < 300 && ids.length; i++) {
          const id = i % 10 === 0 ? modelNext(live, now)?.id : ids[pick(ids.length)];
          if (id === undefined || !live.has(id)) continue;
          const got = index.get(id);
          expect(got?.seq).toBe(live.get(id)?.seq);
          expect(index.remove(id)?.id).toBe(id);
          expect(index.has(id)).toBe(false);
          live.delete(id);
        }
        check();
        // upcoming foretells what next() takes.
        const ahead = index.upcoming(64, now).map((e) => e.id);
        const taken: string[] = [];
        const takes = 600 + pick(3_000);
        for (let i = 0; i < takes; i++) {
          if (i > 0 && i % 500 === 0) now += 5;
          const want = modelNext(live, now);
          const got = index.next(now);
          expect(got?.id).toBe(want?.id);
          if (!want) break;
          live.delete(want.id);
          if (taken.length < 64) taken.push(want.id);
        }
        expect(taken.slice(0, ahead.length)).toEqual(ahead.slice(0, taken.length));
        now += 5;
        check();
      }
      now += 1_000;
      let left = 0;
      for (let e = index.next(now); e; e = index.next(now)) {
        expect(e.id).toBe(modelNext(live, now)?.id);
        live.delete(e.id);
        left++;
      }
      expect(live.size).toBe(0);
      expect(left).toBeGreaterThan(0);
    });

    test('upcoming walks lanes in order across interleaved seqs, stepping over removed tasks', () => {
      const index = new TaskIndex();
      // Two names at one priority: two lanes whose seqs interleave.
      const names: Record<number, string> = {};
      for (let i = 0; i < RUN_MIN; i += 2) names[i] = 'even';
      const batch = batchOf(
        Array.from({ length: RUN_MIN }, () => 2 as PriorityLevel),
        {},
        names,
      );
      addBatch(index, batch, 0);
      index.add(entry('urgent', 0), 0);
      for (const i of [0, 3, 4]) index.remove(batch.ids[i] as string);
      const ahead = index.upcoming(6, 0).map((e) => e.id);
      expect(ahead).toEqual(['urgent', ...[1, 2, 5, 6, 7].map((i) => batch.ids[i])]);
      // Peeking is not taking: the same entries come out of next(), as the same objects.
      const peeked = index.upcoming(2, 0);
      expect(index.next(0)).toBe(peeked[0]);
      expect(index.next(0)).toBe(peeked[1]);
    });

    test('a delayed lane joins the ready heap when due; removing its tasks keeps readyCount exact', () => {
      const index = new TaskIndex();
      const delays: Record<number, number> = {};
      for (let i = 0; i < RUN_MIN; i++) if (i % 2) delays[i] = 100;
      const batch = batchOf(
        Array.from({ length: RUN_MIN }, () => 1 as PriorityLevel),
        delays,
      );
      addBatch(index, batch, 0);
      expect(index.readyCount(0)).toBe(RUN_MIN / 2);
      expect(index.nextWakeAt()).toBe(100);
      index.remove(batch.ids[1] as string);
      index.remove(batch.ids[2] as string);
      expect(index.readyCount(0)).toBe(RUN_MIN / 2 - 1);
      expect(index.readyCount(100)).toBe(RUN_MIN - 2);
      // Ready since 0 before ready since 100, then enqueue order.
      const order = [...batch.ids.filter((_, i) => i % 2 === 0 && i !== 2), ...batch.ids.filter((_, i) => i % 2 === 1 && i !== 1)];
      expect(drain(index, 100)).toEqual(order);
    });

    test('clear returns every live id, laned or not, and leaves the index empty', () => {
      const index = new TaskIndex();
      const batch = batchOf(Array.from({ length: RUN_MIN }, (_, i) => (i % 5) as PriorityLevel));
      addBatch(index, batch, 0);
      index.add(entry('x', 0), 0);
      index.remove(batch.ids[7] as string);
      index.next(0);
      const ids = index.clear();
      expect(new Set(ids).size).toBe(RUN_MIN - 1);
      expect(ids).toContain('x');
      expect(ids).not.toContain(batch.ids[7]);
      expect(index.size).toBe(0);
      expect(index.next(0)).toBeUndefined();
      expect(index.has(batch.ids[9] as string)).toBe(false);
    });

    test('clearLazily empties the index at once; its ids, read later, are those clear would return', () => {
      const batch = batchOf(Array.from({ length: RUN_MIN }, (_, i) => (i % 5) as PriorityLevel));
      const make = () => {
        const index = new TaskIndex();
        addBatch(index, batch, 0);
        index.add(entry('x', 0), 0);
        index.remove(batch.ids[7] as string);
        index.next(0);
        return index;
      };
      const expected = make().clear().sort();
      const index = make();
      const ids = index.clearLazily();
      expect(index.size).toBe(0);
      expect(index.next(0)).toBeUndefined();
      // Added after the clear: not among the cleared.
      index.add(entry('y', 0), 0);
      expect([...ids].sort()).toEqual(expected);
      expect(index.size).toBe(1);
    });

    test('scan visits the first tasks of each lane and counts the rest', () => {
      const index = new TaskIndex();
      const delays: Record<number, number> = {};
      for (let i = 0; i < RUN_MIN; i++) if (i % 4 === 3) delays[i] = 50;
      const batch = batchOf(
        Array.from({ length: RUN_MIN }, (_, i) => (i % 2) as PriorityLevel),
        delays,
      );
      addBatch(index, batch, 0);
      index.add(entry('solo', 3), 0);
      index.remove(batch.ids[0] as string);
      const visited: string[] = [];
      const rest: [number, number, number][] = [];
      index.scan(
        2,
        (e) => visited.push(e.id),
        (priority, readyAt, count) => rest.push([priority, readyAt, count]),
      );
      // Lanes: (p0, ready) 0,2,4,6…; (p1, ready) 1,5,9…; (p1, at 50) 3,7,11…; task 0 removed.
      expect(visited.sort()).toEqual(['solo', ...[2, 4, 1, 5, 3, 7].map((i) => batch.ids[i] as string)].sort());
      expect(rest.sort()).toEqual(
        [
          [0, 0, RUN_MIN / 2 - 1 - 2],
          [1, 0, RUN_MIN / 4 - 2],
          [1, 50, RUN_MIN / 4 - 2],
        ].sort(),
      );
    });
  });
});
