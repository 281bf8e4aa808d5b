/** Case 15: what limits groups cost the dispatcher, and whether a rate limit holds. */
import type { EnqueueItem, Scheduler, TaskEvent } from '../src/index.js';
import { now } from './floors.js';
import { type BenchCase, interleavedPairs, memScheduler, repeat, warm } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

const GROUPS = 50;
/** Interleaved limited / plain pairs per run (15a), each side's figure for the run their median. */
const PAIRS = 9;

/** `n` no-ops spread over `GROUPS` groups, in one enqueueMany; ms to drain. */
async function spread(s: Scheduler<Tasks>, items: EnqueueItem<Tasks>[]): Promise<number> {
  const t0 = now();
  await s.enqueueMany(items);
  await s.drain();
  return now() - t0;
}

/** The most starts in any window of `perMs` (a window opening at each start). */
export function maxInWindow(starts: readonly number[], perMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= perMs) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return most;
}

export const case15: BenchCase = {
  id: '15',
  title: 'Limits groups',
  async run(ctx) {
    const n = ctx.quick ? 2_000 : 10_000;
    const items = Array.from({ length: n }, (_, i) => ({
      name: 'noop',
      input: null,
      options: { group: `g${i % GROUPS}` },
    })) as EnqueueItem<Tasks>[];
    // Limits that every group has and none reaches: what is measured is the asking, not the waiting.
    const limits = Object.fromEntries(
      Array.from({ length: GROUPS }, (_, g) => [`g${g}`, { rate: { max: 1_000_000, perMs: 1_000 }, concurrency: 1_000 }]),
    );
    const r = { limited: [] as number[], plain: [] as number[], most: [] as number[], rate: [] as number[] };
    const limited = await memScheduler({ limits });
    const plain = await memScheduler();
    try {
      await warm(limited, 2);
      await warm(plain, 2);
      await repeat(ctx, 'case 15', async (record, run) => {
        const pair = await interleavedPairs(
          PAIRS,
          run,
          () => spread(limited, items),
          () => spread(plain, items),
        );
        if (record) {
          r.limited.push(pair.a);
          r.plain.push(pair.b);
        }
      });
    } finally {
      await Promise.all([limited.close({ drain: false }), plain.close({ drain: false })]);
    }
    // Accuracy: 5 starts per 200 ms over 50 tasks, starts read off the 'started' events' startedAt.
    const rate = { max: 5, perMs: 200 };
    const tasks = ctx.quick ? 25 : 50;
    await repeat(ctx, 'case 15 rate', async (record) => {
      const s = await memScheduler({ limits: { api: { rate } }, pool: { max: 2 } });
      try {
        const starts: number[] = [];
        s.addEventListener('started', (e: TaskEvent) => starts.push(e.task.startedAt as number));
        const t0 = now();
        await s.enqueueMany(
          Array.from({ length: tasks }, () => ({ name: 'noop', input: null, options: { group: 'api' } })) as EnqueueItem<Tasks>[],
        );
        await s.drain();
        const elapsed = now() - t0;
        if (record) {
          r.most.push(maxInWindow(starts, rate.perMs));
          // The achieved rate against the allowed one: a limiter that holds by starving the group fails here.
          r.rate.push(tasks / ((Math.max(elapsed, 1) / rate.perMs) * rate.max));
        }
      } finally {
        await s.close({ drain: false });
      }
    });
    return [
      makeRow({
        id: '15a',
        title: `${n / 1000}k no-ops over ${GROUPS} groups, each with a rate and a concurrency limit none reaches, to drain`,
        unit: 'ms',
        baselineName: `the same ${n / 1000}k over the same groups, no limits`,
        target: { kind: 'cost', max: 1.2 },
        note: `each run: the median of ${PAIRS} interleaved pairs (which goes first alternates)`,
        ours: r.limited,
        baseline: r.plain,
      }),
      makeRow({
        id: '15b',
        title: `rate limit ${rate.max} per ${rate.perMs} ms, ${tasks} tasks: most starts in any ${rate.perMs} ms window`,
        unit: 'starts',
        baselineName: `the limit, ${rate.max}`,
        target: { kind: 'max', max: rate.max },
        // The worst run, not the median: the limit must hold in every one.
        ours: r.most.length ? [Math.max(...r.most)] : [],
        baseline: [rate.max],
        note: `worst of the runs (each: ${r.most.join(', ')}); starts are when a task reaches the head of its worker (its startedAt)`,
      }),
      makeRow({
        id: '15c',
        title: `the same: achieved rate as a share of the allowed ${rate.max} per ${rate.perMs} ms`,
        unit: '×',
        baselineName: 'the allowed rate',
        target: { kind: 'info' },
        ours: r.rate,
        baseline: [],
        note: `a perfect limiter shows ${(tasks / rate.max / (tasks / rate.max - 1)).toFixed(2)} here: the first window opens at once, so ${tasks} tasks take ${tasks / rate.max - 1} windows`,
      }),
    ];
  },
};
