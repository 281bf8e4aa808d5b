import { describe, expect, test } from 'vitest';
import { TaskIndex } from '../../src/task-index.js';
import type { PriorityLevel } from '../../src/types.js';

let seq = 0;
const entry = (id: string, priority: PriorityLevel, readyAt = 0) => ({ id, name: 't', priority, readyAt, seq: seq++ });

function drain(index: TaskIndex, now: number): string[] {
  const out: string[] = [];
  for (let e = index.next(now); e; e = index.next(now)) out.push(e.id);
  return out;
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

  test('100,000 random adds come out ordered', () => {
    const index = new TaskIndex();
    for (let i = 0; i < 100_000; i++) index.add(entry(`t${i}`, Math.floor(Math.random() * 5) as PriorityLevel), 0);
    let last = { p: -1, s: -1 };
    let n = 0;
    for (let e = index.next(0); e; e = index.next(0)) {
      const ok = e.priority > last.p || (e.priority === last.p && e.seq > last.s);
      if (!ok) throw new Error(`out of order at ${n}`);
      last = { p: e.priority, s: e.seq };
      n++;
    }
    expect(n).toBe(100_000);
  });
});
