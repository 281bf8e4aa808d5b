import { expect, test } from 'vitest';
import { mintedId } from '../../src/id-run.js';
import { TaskIndex } from '../../src/task-index.js';
import type { PriorityLevel } from '../../src/types.js';

/** JS heap in use after two full GCs (needs --expose-gc and precise memory info: vitest.config.ts sets both). */
function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
  if (!gc || !memory) throw new Error('run with --js-flags=--expose-gc and --enable-precise-memory-info (vitest.config.ts sets them)');
  gc();
  gc();
  return memory.usedJSHeapSize;
}

test('walking entries() (the panel does, every frame) keeps nothing per laned task it visits', () => {
  const n = 200_000;
  const minted = { prefix: 'm-', first: 0 };
  let tasks = Array.from({ length: n }, (_, i) => ({
    id: mintedId(minted, i),
    name: 't',
    priority: (i % 5) as PriorityLevel,
    runAt: 0,
    seq: i,
  }));
  const index = new TaskIndex();
  index.addBatch(tasks, minted, 0);
  tasks = [];
  const before = heapUsed();
  let count = 0;
  for (const _ of index.entries()) count++;
  const after = heapUsed();
  expect(count).toBe(n);
  expect(index.size).toBe(n);
  // An entry kept per task would be over 100 bytes each.
  expect((after - before) / n).toBeLessThan(10);
});
