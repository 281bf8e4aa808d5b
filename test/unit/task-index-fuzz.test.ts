/** Model-based fuzzing of the index (lanes, folds, requeues, reprioritizations) against a sorted model; by a reviewer of the lanes change. */
import { expect, test } from 'vitest';
import { mintedId } from '../../src/id-run.js';
import type { IndexEntry } from '../../src/index-entry.js';
import { TaskIndex } from '../../src/task-index.js';
import { RUN_MIN } from '../../src/task-table.js';
import type { PriorityLevel } from '../../src/types.js';
import { before, expectBookkeeping, type Model, modelNext, seededPick } from './index-model.js';

interface M extends Model {
  name: string;
}

for (const seed of [1, 6]) {
  test(`fuzz seed ${seed}`, () => {
    const pick = seededPick(seed * 7919);
    const index = new TaskIndex();
    const live = new Map<string, M>();
    let now = 0;
    let seq = 0;
    let singles = 0;
    let batches = 0;
    const order = (ms: Iterable<M>) => [...ms].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    const readyModel = () => order([...live.values()].filter((m) => m.readyAt <= now));
    /** The model's next ready task: a linear scan, not a sort, for the loops that take one at a time. */
    const readyMin = () => modelNext(live, now);
    const check = (where: string) => {
      expectBookkeeping(index, live, now, where);
      const ids = [...index.entries()].map((e) => e.id).sort();
      expect(ids, where).toEqual([...live.keys()].sort());
      const up = index.upcoming(20, now).map((e) => e.id);
      const want = readyModel()
        .slice(0, 20)
        .map((m) => m.id);
      expect(up, where).toEqual(want.slice(0, up.length));
    };
    for (let round = 0; round < 40; round++) {
      const op = pick(8);
      if (op === 0) {
        for (let i = 0; i < 20; i++) {
          const e = {
            id: `s${singles++}`,
            name: 't',
            priority: pick(5) as PriorityLevel,
            readyAt: now + (pick(3) === 0 ? pick(30) : 0),
            seq: seq++,
          };
          index.add({ ...e }, now);
          live.set(e.id, e);
        }
      } else if (op === 1 || op === 2) {
        const minted = { prefix: `b${batches++}-`, first: pick(100) };
        const n = RUN_MIN + pick(300);
        const tasks = Array.from({ length: n }, (_, i) => ({
          id: mintedId(minted, i),
          name: i % 3 ? 'a' : 'b',
          priority: pick(3) as PriorityLevel,
          runAt: i % 7 === 0 ? now + 10 + pick(2) * 10 : now - pick(2),
          seq: seq + i,
        }));
        seq += n;
        index.addBatch(tasks, minted, now);
        for (const t of tasks) live.set(t.id, { id: t.id, name: t.name, priority: t.priority, readyAt: t.runAt, seq: t.seq });
      } else if (op === 3) {
        // removals, heads and random
        const ids = [...live.keys()];
        for (let i = 0; i < 200 && live.size; i++) {
          const id = i % 4 === 0 ? readyMin()?.id : ids[pick(ids.length)];
          if (!id || !live.has(id)) continue;
          if (i % 8 === 0) index.peek(now);
          expect(index.remove(id)?.id).toBe(id);
          live.delete(id);
        }
      } else if (op === 4) {
        // reprioritize: get, remove, add
        const ids = [...live.keys()];
        for (let i = 0; i < 50 && ids.length; i++) {
          const id = i % 3 === 0 ? readyMin()?.id : ids[pick(ids.length)];
          if (!id || !live.has(id)) continue;
          index.peek(now);
          const e = index.get(id) as IndexEntry;
          const level = pick(5) as PriorityLevel;
          if (e.priority === level) continue;
          index.remove(id);
          index.add({ id, name: e.name, priority: level, readyAt: e.readyAt, seq: e.seq }, now);
          live.set(id, { ...(live.get(id) as M), priority: level });
        }
      } else if (op === 5) {
        // take many, with requeues of some (same fields back)
        const takes = pick(3000);
        const requeue: IndexEntry[] = [];
        for (let i = 0; i < takes; i++) {
          const want = readyMin();
          const peeked = index.peek(now);
          expect(peeked?.id).toBe(want?.id);
          const got = index.next(now);
          expect(got).toBe(peeked);
          if (!want) break;
          live.delete(want.id);
          if (pick(20) === 0) requeue.push(got as IndexEntry);
        }
        for (const e of requeue) {
          const { id, name, priority, readyAt, seq: s } = e;
          index.add({ id, name, priority, readyAt, seq: s }, now);
          live.set(id, { id, name, priority, readyAt, seq: s });
        }
      } else if (op === 6) {
        now += 5 + pick(10);
      } else if (op === 7 && pick(4) === 0) {
        const ids = index.clear().sort();
        expect(ids).toEqual([...live.keys()].sort());
        live.clear();
      }
      check(`round ${round} op ${op}`);
    }
    now += 1000;
    for (let e = index.next(now); e; e = index.next(now)) {
      expect(e.id).toBe(readyMin()?.id);
      live.delete(e.id);
    }
    expect(live.size).toBe(0);
  }, 120_000);
}
