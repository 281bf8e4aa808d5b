import { expect, test } from 'vitest';
import { mintedId } from '../../src/id-run.js';
import { TaskIndex } from '../../src/task-index.js';
import type { PriorityLevel } from '../../src/types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Weak references, not the heap's size: other test files share this page's heap and allocate while
 * this one measures, so a heap delta is not this test's alone.
 */
test('walking entries() (the panel does, every frame) keeps nothing per laned task it visits', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --js-flags=--expose-gc (vitest.config.ts sets it)');
  const n = 20_000;
  const minted = { prefix: 'm-', first: 0 };
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: mintedId(minted, i),
    name: 't',
    priority: (i % 5) as PriorityLevel,
    runAt: 0,
    seq: i,
  }));
  const index = new TaskIndex();
  index.addBatch(tasks, minted, 0);
  const refs: WeakRef<object>[] = [];
  let count = 0;
  for (const entry of index.entries()) if (count++ % 100 === 0) refs.push(new WeakRef(entry));
  expect(count).toBe(n);
  for (let i = 0; i < 5 && refs.some((r) => r.deref()); i++) {
    await sleep(10);
    gc();
  }
  // The index is still in use: only what it keeps could keep an entry alive.
  expect(index.size).toBe(n);
  expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
});
