import { describe, expect, test } from 'vitest';
import { agedLess, effectivePriority } from '../../src/aging.js';
import { mintedId } from '../../src/id-run.js';
import type { IndexEntry } from '../../src/index-entry.js';
import { TaskIndex } from '../../src/task-index.js';
import { RUN_MIN } from '../../src/task-table.js';
import type { PriorityLevel } from '../../src/types.js';
import { seededPick } from './index-model.js';

describe('effectivePriority', () => {
  test('one level per agingMs waited since readyAt, never past 0, nothing before readyAt', () => {
    const cases: [priority: number, waited: number, level: number][] = [
      [4, -50, 4],
      [4, 0, 4],
      [4, 99, 4],
      [4, 100, 3],
      [4, 250, 2],
      [4, 399, 1],
      [4, 400, 0],
      [4, 10_000, 0],
      [1, 100, 0],
      [0, 1_000, 0],
      [2, 150, 1],
    ];
    expect(cases.map(([p, waited]) => effectivePriority(p, 1_000, 1_000 + waited, 100))).toEqual(cases.map((c) => c[2]));
  });

  test('aged order: effective priority, then readyAt, then seq', () => {
    const bg = { priority: 4, readyAt: 0, seq: 1 };
    const high = { priority: 1, readyAt: 350, seq: 2 };
    // At 300 the background task is at level 1 and older: it goes first; at 299 it is still at 2.
    expect(agedLess(bg, high, 300, 100)).toBe(true);
    expect(agedLess(bg, high, 299, 100)).toBe(false);
    // Equal effective priority (both aged to 0) and readyAt: seq decides.
    expect(agedLess({ priority: 3, readyAt: 0, seq: 5 }, { priority: 1, readyAt: 0, seq: 6 }, 300, 100)).toBe(true);
    expect(agedLess({ priority: 1, readyAt: 0, seq: 6 }, { priority: 3, readyAt: 0, seq: 5 }, 300, 100)).toBe(false);
    // Not aged yet (at 200 the level 3 task is at 1): the base order holds.
    expect(agedLess({ priority: 1, readyAt: 0, seq: 6 }, { priority: 3, readyAt: 0, seq: 5 }, 200, 100)).toBe(true);
  });
});

/** The model: every live entry, the next one by a full sort with `agedLess`. */
function modelNext(live: Map<string, IndexEntry>, now: number, agingMs: number): IndexEntry | undefined {
  let best: IndexEntry | undefined;
  for (const e of live.values()) if (e.readyAt <= now && (!best || agedLess(e, best, now, agingMs))) best = e;
  return best;
}

describe('TaskIndex with agingMs', () => {
  test('a background task gets through an endless stream of high ones; without aging it starves', () => {
    const run = (index: TaskIndex) => {
      let seq = 0;
      let now = 0;
      index.add({ id: 'bg', name: 't', priority: 4, readyAt: now, seq: seq++ }, now);
      for (let i = 0; i < 3; i++) index.add({ id: `h${seq}`, name: 't', priority: 1, readyAt: now, seq: seq++ }, now);
      const order: string[] = [];
      for (let step = 0; step < 100; step++) {
        const e = index.next(now);
        if (!e) break;
        order.push(e.id);
        now += 100;
        if (step < 60) index.add({ id: `h${seq}`, name: 't', priority: 1, readyAt: now, seq: seq++ }, now);
      }
      return order.indexOf('bg');
    };
    expect(run(new TaskIndex())).toBe(63);
    // 400 ms per level, a start every 100 ms: at 1,200 ms it has risen to high's level, where it is
    // the oldest (the high tasks ahead were enqueued less than 400 ms before), so it is the 13th start.
    expect(run(new TaskIndex(400))).toBe(12);
  });

  test('matches a full sort on random adds, removes, delays and lanes as time moves', () => {
    for (let round = 0; round < 20; round++) {
      const pick = seededPick(round + 1);
      const agingMs = 1 + pick(500);
      const index = new TaskIndex(agingMs);
      const live = new Map<string, IndexEntry>();
      let seq = 0;
      let now = 0;
      let popped = 0;
      for (let step = 0; step < 600; step++) {
        const op = pick(10);
        if (op < 4 && !(round % 4 === 0 && step % 150 === 0)) {
          const e = { id: `t${seq}`, name: 't', priority: pick(5) as PriorityLevel, readyAt: now + (pick(3) === 0 ? pick(800) : 0), seq };
          seq++;
          live.set(e.id, { ...e });
          index.add(e, now);
        } else if (op === 4 && live.size > 0) {
          const ids = [...live.keys()];
          const id = ids[pick(ids.length)] as string;
          expect(index.remove(id)?.id).toBe(id);
          live.delete(id);
        } else if (round % 4 === 0 && step % 150 === 0) {
          // A big batch: its tasks sit in lanes, one heap node per (name, priority, readyAt).
          const minted = { prefix: `b${round}-${step}-`, first: 0 };
          const tasks = Array.from({ length: RUN_MIN }, (_, i) => ({
            id: mintedId(minted, i),
            name: 't',
            priority: (i % 5) as PriorityLevel,
            runAt: now + (i % 3 === 0 ? 200 : 0),
            seq: seq + i,
          }));
          seq += RUN_MIN;
          index.addBatch(tasks, minted, now);
          for (const t of tasks) live.set(t.id, { id: t.id, name: 't', priority: t.priority, readyAt: t.runAt, seq: t.seq });
        } else if (op < 8) {
          now += pick(300);
        } else {
          const expected = modelNext(live, now, agingMs);
          const peeked = index.peek(now);
          const upcoming = index.upcoming(5, now).map((e) => e.id);
          const got = index.next(now);
          expect(peeked?.id).toBe(expected?.id);
          expect(got?.id).toBe(expected?.id);
          if (expected) {
            expect(upcoming[0]).toBe(expected.id);
            live.delete(expected.id);
            popped++;
          }
        }
        expect(index.size).toBe(live.size);
      }
      // Drain what is left, in aged order, far in the future (everything at level 0: readyAt order).
      now += 1_000_000;
      const rest: string[] = [];
      for (let e = index.next(now); e; e = index.next(now)) rest.push(e.id);
      const sorted = [...live.values()].sort((a, b) => (agedLess(a, b, now, agingMs) ? -1 : 1)).map((e) => e.id);
      expect(rest).toEqual(sorted);
      expect(popped).toBeGreaterThan(0);
    }
  });

  test('upcoming lists ready tasks in aged order', () => {
    const index = new TaskIndex(100);
    index.add({ id: 'bg-old', name: 't', priority: 4, readyAt: 0, seq: 0 }, 0);
    index.add({ id: 'high', name: 't', priority: 1, readyAt: 450, seq: 1 }, 450);
    index.add({ id: 'normal', name: 't', priority: 2, readyAt: 420, seq: 2 }, 450);
    index.add({ id: 'critical', name: 't', priority: 0, readyAt: 460, seq: 3 }, 460);
    // At 460: bg-old at level 0 (readyAt 0), critical 0 (460), high 1, normal 2.
    expect(index.upcoming(10, 460).map((e) => e.id)).toEqual(['bg-old', 'critical', 'high', 'normal']);
  });
});
