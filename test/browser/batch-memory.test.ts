import { afterEach, expect, test } from 'vitest';
import type { EnqueueItem } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler } from './helpers.js';

afterEach(closeAll);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a 5,000-task batch to the end and reports how many of its first 50 inputs are still reachable once retention dropped those tasks. */
async function inputsKeptAfterTrim(listenEnqueued: boolean): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --js-flags=--expose-gc (vitest.config.ts sets it)');
  // 300 completed kept: the batch's run keeps more than RUN_FOLD (256) tasks, so it is never folded.
  const s = await makeScheduler({ pool: { max: 2 }, retention: { completed: 300 } });
  if (listenEnqueued) s.addEventListener('enqueued', () => {});
  // The task that finished last, which retention keeps whatever else it trims. Not the batch's last
  // task: each of the two workers holds up to 512 calls (PIPELINE_MAX), so when one lags behind (a
  // loaded machine) the batch's last task can finish hundreds of tasks before the end.
  let lastDone: string | undefined;
  s.addEventListener('completed', (e) => {
    lastDone = e.task.id;
  });
  const n = 5_000;
  let refs: WeakRef<object>[] = [];
  const ids = await (() => {
    const items = Array.from({ length: n }, (_, i): EnqueueItem<Tasks> => ({ name: 'add', input: { a: i, b: 1 } }));
    refs = items.slice(0, 50).map((item) => new WeakRef(item.input as object));
    return s.enqueueMany(items);
  })();
  await s.drain();
  for (let i = 0; i < 50 && (await s.inspect(ids[0] as string)) !== undefined; i++) await sleep(20);
  expect(await s.inspect(ids[0] as string)).toBeUndefined();
  expect(lastDone).toBeDefined();
  expect(await s.inspect(lastDone as string)).toBeDefined();
  // At least the limit kept (more while a trim is due): the run stays a run, as the test needs.
  const kept = (await Promise.all(ids.map((id) => s.inspect(id)))).filter((info) => info !== undefined).length;
  expect(kept).toBeGreaterThanOrEqual(300);
  for (let i = 0; i < 5 && refs.some((r) => r.deref()); i++) {
    await sleep(20);
    gc();
  }
  return refs.filter((r) => r.deref() !== undefined).length;
}

test('with an enqueued listener (each event made as it is delivered): a trimmed task of a big batch keeps no input alive', async () => {
  expect(await inputsKeptAfterTrim(true)).toBe(0);
});

test('records made on demand (LazyRun): a trimmed task of a big batch keeps no input alive', async () => {
  expect(await inputsKeptAfterTrim(false)).toBe(0);
});
