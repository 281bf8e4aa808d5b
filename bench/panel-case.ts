/** Case 12: a persisted enqueueMany of 100k with a `<tasklane-panel>` attached, against the same without one. */
import type { EnqueueItem, Scheduler } from '../src/index.js';
import '../src/panel.js';
import type { TasklanePanel } from '../src/panel.js';
import { deleteDb, now } from './floors.js';
import { type BenchCase, idbScheduler, repeat, warm, withLongTasks } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

let dbCounter = 0;

const frame = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => resolve()));

/** Resolves once the panel has rendered a snapshot that shows `queued` tasks, then one frame more. */
async function shown(panel: TasklanePanel, queued: number): Promise<void> {
  for (;;) {
    await frame();
    await panel.updateComplete;
    if (panel.controller.snapshot?.metrics.queued === queued) break;
  }
  await frame();
}

/** The enqueueMany and, with a panel, everything until the panel shows it: ms, and the longest task. */
async function enqueueWithPanel(
  s: Scheduler<Tasks>,
  items: EnqueueItem<Tasks, 'small'>[],
  panelled: boolean,
): Promise<{ ms: number; longest: number; count: number }> {
  let panel: TasklanePanel | undefined;
  if (panelled) {
    panel = document.createElement('tasklane-panel');
    panel.scheduler = s;
    document.body.append(panel);
    await shown(panel, 0);
  }
  try {
    const run = await withLongTasks(async () => {
      const t0 = now();
      await s.enqueueMany(items);
      if (panel) await shown(panel, items.length);
      return now() - t0;
    });
    return { ms: run.value, longest: run.longest, count: run.count };
  } finally {
    panel?.remove();
  }
}

export const case12: BenchCase = {
  id: '12',
  title: 'Persisted enqueueMany with a panel attached',
  async run(ctx) {
    const n = ctx.quick ? 5_000 : 100_000;
    const k = `${n / 1000}k`;
    const items: EnqueueItem<Tasks, 'small'>[] = Array.from({ length: n }, (_, i) => ({ name: 'small', input: { i } }));
    const r = { long: [] as number[], longBase: [] as number[], ms: [] as number[], msBase: [] as number[], counts: [] as number[] };
    await repeat(ctx, 'case 12', async (record, run) => {
      const size = record ? n : Math.min(n, 10_000);
      const batch = size === n ? items : items.slice(0, size);
      // Which goes first alternates by run: drift hits both alike.
      for (const panelled of run % 2 === 0 ? [true, false] : [false, true]) {
        const name = `tasklane-bench-12-${Date.now()}-${dbCounter++}`;
        const s = await idbScheduler(name);
        try {
          await warm(s, 1);
          s.pause();
          await ctx.gc();
          const { ms, longest, count } = await enqueueWithPanel(s, batch, panelled);
          if (!record) continue;
          (panelled ? r.long : r.longBase).push(longest);
          (panelled ? r.ms : r.msBase).push(ms);
          if (panelled) r.counts.push(count);
        } finally {
          // Untimed; see case 4.
          await deleteDb(name);
          await s.close({ drain: false });
          await deleteDb(name);
        }
      }
    });
    const baselineName = 'the same, no panel';
    return [
      makeRow({
        id: '12a',
        title: `${k} persisted enqueueMany with a panel attached: longest main-thread task (0 = none over 50 ms)`,
        unit: 'ms',
        baselineName,
        target: { kind: 'max', max: 50 },
        ours: r.long,
        baseline: r.longBase,
        note: `from the call until the panel shows all ${k} queued (PerformanceObserver 'longtask'); long tasks per run: ${r.counts.join(', ')}`,
      }),
      makeRow({
        id: '12b',
        title: `${k} persisted enqueueMany with a panel attached: until the panel shows them`,
        unit: 'ms',
        baselineName: 'the same, no panel (until enqueueMany resolves)',
        target: { kind: 'info' },
        ours: r.ms,
        baseline: r.msBase,
      }),
    ];
  },
};
