/**
 * Case 14: reopening a big persisted queue. A same-origin frame fills the queue (paused) and is
 * removed, as a tab that closes: the tasks stay on disk. This page then opens a scheduler on it.
 */
import { createScheduler, type EnqueueItem, type Scheduler } from '../src/index.js';
import { deleteDb, now } from './floors.js';
import { type BenchCase, heapUsed, idbScheduler, repeat, sleep, tasksWorker, withLongTasks } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

let counter = 0;

const small = (n: number): EnqueueItem<Tasks, 'small'>[] => Array.from({ length: n }, (_, i) => ({ name: 'small', input: { i } }));

/** Leaves `n` queued tasks in database `name`, written by a frame that is then removed. */
async function leaveQueued(name: string, n: number): Promise<void> {
  const frame = document.createElement('iframe');
  frame.src = `${location.pathname}?frame=reopen-${counter++}`;
  document.body.append(frame);
  try {
    const win = frame.contentWindow as unknown as { tasklaneBench?: { openShared?: (name: string) => Promise<Scheduler<Tasks>> } };
    for (let i = 0; i < 600 && !win.tasklaneBench?.openShared; i++) await sleep(10);
    const open = win.tasklaneBench?.openShared;
    if (!open) throw new Error('case 14: the bench frame did not load');
    const s = await open(name);
    s.pause();
    for (let from = 0; from < n; from += 100_000) await s.enqueueMany(small(Math.min(100_000, n - from)));
  } finally {
    frame.remove();
  }
}

/** Opens the queue left in `name`: ms to `createScheduler` resolving and to the first task started, the longest task, heap per task. */
async function reopen(name: string, n: number, gc: () => Promise<void>) {
  await gc();
  const before = heapUsed();
  const run = await withLongTasks(async () => {
    const t0 = now();
    let first = Number.NaN;
    let heard!: () => void;
    const started = new Promise<void>((resolve) => (heard = resolve));
    const s = await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 2 } });
    const opened = now() - t0;
    // The queue stays as it was opened: paused at the first task started.
    s.addEventListener('started', () => {
      if (!Number.isNaN(first)) return;
      first = now() - t0;
      s.pause();
      heard();
    });
    await Promise.race([started, sleep(60_000)]);
    if (Number.isNaN(first)) throw new Error('case 14: no task started within 60 s of the open');
    return { s, opened, first };
  });
  await gc();
  const after = heapUsed();
  const bytes = before !== undefined && after !== undefined ? (after - before) / n : undefined;
  return { ...run.value, longest: run.longest, bytes };
}

export const case14: BenchCase = {
  id: '14',
  title: 'Reopen a big persisted queue',
  async run(ctx) {
    const big = ctx.quick ? 20_000 : 1_000_000;
    const base = 1_000;
    const r = {
      big: [] as number[],
      base: [] as number[],
      opened: [] as number[],
      long: [] as number[],
      bytes: [] as number[],
      fresh: [] as number[],
    };
    await repeat(ctx, 'case 14', async (record) => {
      for (const n of record ? [base, big] : [base]) {
        const name = `tasklane-bench-14-${Date.now()}-${counter++}`;
        try {
          ctx.log(`case 14: leaving ${n} queued`);
          await leaveQueued(name, n);
          ctx.log(`case 14: reopening ${n}`);
          const got = await reopen(name, n, ctx.gc);
          await deleteDb(name);
          await got.s.close({ drain: false });
          if (!record) continue;
          if (n === base) r.base.push(got.first);
          else {
            r.big.push(got.first);
            r.opened.push(got.opened);
            r.long.push(got.longest);
            if (got.bytes !== undefined) r.bytes.push(got.bytes);
          }
        } finally {
          await deleteDb(name);
        }
      }
      if (!record) return;
      // The same queue enqueued in this page instead: its heap per task, the figure reopening is held to.
      const name = `tasklane-bench-14-fresh-${Date.now()}-${counter++}`;
      const s = await idbScheduler(name);
      try {
        s.pause();
        await ctx.gc();
        const before = heapUsed();
        for (let from = 0; from < big; from += 100_000) await s.enqueueMany(small(Math.min(100_000, big - from)));
        await ctx.gc();
        const after = heapUsed();
        if (before !== undefined && after !== undefined) r.fresh.push((after - before) / big);
      } finally {
        await deleteDb(name);
        await s.close({ drain: false });
        await deleteDb(name);
      }
    });
    const k = big >= 1_000_000 ? `${big / 1_000_000}M` : `${big / 1000}k`;
    return [
      makeRow({
        id: '14a',
        title: `reopen with ${k} queued: createScheduler -> first task started`,
        unit: 'ms',
        baselineName: `the same with ${base.toLocaleString('en-US')} queued`,
        target: { kind: 'cost', max: 2 },
        ours: r.big,
        baseline: r.base,
        note: `createScheduler resolved after ${r.opened.map((x) => x.toFixed(0)).join(', ')} ms; the queue was left by a frame (removed, as a tab that closes), 'small' tasks with 1-key inputs`,
      }),
      makeRow({
        id: '14b',
        title: `reopen with ${k} queued: longest main-thread task until the first task started`,
        unit: 'ms',
        baselineName: '-',
        target: { kind: 'max', max: 50 },
        ours: r.long,
        baseline: [],
      }),
      makeRow({
        id: '14c',
        title: `reopen with ${k} queued: JS heap per queued task once a task started`,
        unit: 'B/task',
        baselineName: `after enqueueMany of ${k} in this page`,
        target: { kind: 'cost', max: 1.2 },
        ours: r.bytes,
        baseline: r.fresh,
        note: 'usedJSHeapSize after - before, both after a forced GC; the fresh enqueue holds the inputs in the caller, so it is all beyond the input as well',
      }),
    ];
  },
};
