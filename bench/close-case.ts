/** Case 13: close({ drain: false }) of a big queue, with a `<tasklane-panel>` attached: the longest main-thread task. */
import type { EnqueueItem, Scheduler } from '../src/index.js';
import '../src/panel.js';
import { deleteDb, now } from './floors.js';
import { type BenchCase, idbScheduler, memScheduler, repeat, warm, withLongTasks } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

let dbCounter = 0;

/** Fills `s` (paused) with `items`, attaches a panel, closes without draining; the close's ms and longest task. */
async function closeBig(s: Scheduler<Tasks>, items: EnqueueItem<Tasks, 'small'>[]): Promise<{ ms: number; longest: number }> {
  await warm(s, 1);
  s.pause();
  await s.enqueueMany(items);
  const panel = document.createElement('tasklane-panel');
  panel.scheduler = s;
  document.body.append(panel);
  try {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    await panel.updateComplete;
    const run = await withLongTasks(async () => {
      const t0 = now();
      await s.close({ drain: false });
      const t1 = now();
      // A span for --trace: which GCs and tasks fell inside the close.
      performance.measure('case 13: close', { start: t0, end: t1 });
      return t1 - t0;
    });
    return { ms: run.value, longest: run.longest };
  } finally {
    panel.remove();
  }
}

export const case13: BenchCase = {
  id: '13',
  title: 'Close of a big queue with a panel attached',
  async run(ctx) {
    const nMem = ctx.quick ? 50_000 : 1_000_000;
    const nIdb = ctx.quick ? 5_000 : 100_000;
    const small = (n: number): EnqueueItem<Tasks, 'small'>[] => Array.from({ length: n }, (_, i) => ({ name: 'small', input: { i } }));
    const memItems = small(nMem);
    const idbItems = small(nIdb);
    const r = { mem: [] as number[], memMs: [] as number[], idb: [] as number[], idbMs: [] as number[] };
    await repeat(ctx, 'case 13', async (record) => {
      await ctx.gc();
      const mem = await closeBig(await memScheduler(), record ? memItems : memItems.slice(0, 10_000));
      if (record) {
        r.mem.push(mem.longest);
        r.memMs.push(mem.ms);
      }
      const name = `tasklane-bench-13-${Date.now()}-${dbCounter++}`;
      try {
        await ctx.gc();
        const idb = await closeBig(await idbScheduler(name), record ? idbItems : idbItems.slice(0, 5_000));
        if (record) {
          r.idb.push(idb.longest);
          r.idbMs.push(idb.ms);
        }
      } finally {
        await deleteDb(name);
      }
    });
    const k = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    return [
      makeRow({
        id: '13a',
        title: `close({ drain: false }) of ${k(nMem)} queued, memory store, panel attached: longest main-thread task`,
        unit: 'ms',
        baselineName: '-',
        target: { kind: 'max', max: 50 },
        ours: r.mem,
        baseline: [],
        note: `close took ${ms(r.memMs)} ms per run; the queue is a single enqueueMany, paused`,
      }),
      makeRow({
        id: '13b',
        title: `close({ drain: false }) of ${k(nIdb)} queued, IndexedDB, panel attached: longest main-thread task`,
        unit: 'ms',
        baselineName: '-',
        target: { kind: 'max', max: 50 },
        ours: r.idb,
        baseline: [],
        note: `close took ${ms(r.idbMs)} ms per run (every queued task written cancelled)`,
      }),
    ];
  },
};
