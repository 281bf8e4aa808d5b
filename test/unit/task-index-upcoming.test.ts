import { expect, test } from 'vitest';
import { TaskIndex } from '../../src/task-index.js';
import type { PriorityLevel } from '../../src/types.js';

let seq = 0;
const entry = (id: string, priority: PriorityLevel, readyAt = 0) => ({ id, name: 't', priority, readyAt, seq: seq++ });

test('upcoming(k) is the next k ready entries in dispatch order, skips removed and delayed ones, and takes nothing', () => {
  const index = new TaskIndex();
  let state = 7;
  const random = () => (state = (state * 48271) % 2147483647) / 2147483647;
  for (let i = 0; i < 2000; i++) index.add(entry(`t${i}`, Math.floor(random() * 5) as PriorityLevel, random() < 0.1 ? 1_000 : 0), 0);
  for (let i = 0; i < 2000; i += 7) index.remove(`t${i}`);
  const size = index.size;
  const upcoming = index.upcoming(50, 0).map((e) => e.id);
  expect(index.size).toBe(size);
  const order: string[] = [];
  for (let e = index.next(0); e && order.length < 50; e = index.next(0)) order.push(e.id);
  expect(upcoming).toEqual(order);
});

test('upcoming on an empty index, or with limit 0, is empty', () => {
  const index = new TaskIndex();
  expect(index.upcoming(10, 0)).toEqual([]);
  index.add(entry('a', 2), 0);
  expect(index.upcoming(0, 0)).toEqual([]);
  expect(index.upcoming(5, 0).map((e) => e.id)).toEqual(['a']);
});
