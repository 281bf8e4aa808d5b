/** A plain model of the index's order for model-based tests: a map of live tasks, scanned. */
import { expect } from 'vitest';
import type { TaskIndex } from '../../src/task-index.js';

export interface Model {
  id: string;
  priority: number;
  readyAt: number;
  seq: number;
}

/** Ready order: priority, then readyAt, then seq. */
export const before = (a: Model, b: Model): boolean =>
  a.priority !== b.priority ? a.priority < b.priority : a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq;

/** A seeded `pick(n)`: 0..n-1, the same sequence for the same seed. */
export function seededPick(seed: number): (n: number) => number {
  let rng = seed;
  return (n) => {
    rng = (rng * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((rng / 0x7fffffff) * n);
  };
}

/** The model's next ready task at `now` (a linear scan), or undefined. */
export function modelNext<M extends Model>(live: Map<string, M>, now: number): M | undefined {
  let best: M | undefined;
  for (const m of live.values()) if (m.readyAt <= now && (!best || before(m, best))) best = m;
  return best;
}

/** The index's size, counts per priority, ready count and next wake time match the model's. */
export function expectBookkeeping(index: TaskIndex, live: Map<string, Model>, now: number, where?: string): void {
  expect(index.size, where).toBe(live.size);
  const counts = [0, 0, 0, 0, 0];
  for (const m of live.values()) counts[m.priority] = (counts[m.priority] ?? 0) + 1;
  expect(index.countsByPriority(), where).toEqual(counts);
  expect(index.readyCount(now), where).toBe([...live.values()].filter((m) => m.readyAt <= now).length);
  const wakes = [...live.values()].filter((m) => m.readyAt > now).map((m) => m.readyAt);
  expect(index.nextWakeAt(), where).toBe(wakes.length ? Math.min(...wakes) : undefined);
}
