/** Case 8: CPU-bound tasks drained by pools of 1, 2 and every core. */
import type { EnqueueItem, Scheduler } from '../src/index.js';
import { now } from './floors.js';
import { type BenchCase, memScheduler, repeat, warm } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

// ── 8. scaling ─────────────────────────────────────────────────────────────────────────────────────

export const case8: BenchCase = {
  id: '8',
  title: 'Scaling with pool size',
  async run(ctx) {
    const n = ctx.quick ? 150 : 2_000;
    const ms = 5;
    const cores = navigator.hardwareConcurrency || 2;
    const sizes = [...new Set([1, 2, cores])];
    const schedulers = new Map<number, Scheduler<Tasks>>();
    const times = new Map<number, number[]>(sizes.map((k) => [k, []]));
    const items: EnqueueItem<Tasks, 'spin'>[] = Array.from({ length: n }, () => ({ name: 'spin', input: { ms } }));
    try {
      for (const k of sizes) {
        const s = await memScheduler({ pool: { max: k, min: k } });
        await warm(s, k);
        schedulers.set(k, s);
      }
      await repeat(ctx, 'case 8', async (record) => {
        for (const k of sizes) {
          const s = schedulers.get(k) as Scheduler<Tasks>;
          await ctx.gc();
          const t0 = now();
          await s.enqueueMany(record ? items : items.slice(0, 200));
          await s.drain();
          if (record) times.get(k)?.push(now() - t0);
        }
      });
    } finally {
      for (const s of schedulers.values()) await s.close({ drain: false });
    }
    const one = times.get(1) as number[];
    const rows = [
      makeRow({
        id: '8a',
        title: `${n} CPU-bound tasks of ~${ms} ms, pool of 1`,
        unit: 'ms',
        baselineName: `ideal: ${n} x ${ms} ms`,
        target: { kind: 'info' },
        ours: one,
        baseline: [n * ms],
      }),
    ];
    for (const k of sizes.slice(1)) {
      rows.push(
        makeRow({
          id: `8${String.fromCharCode(97 + rows.length)}`,
          title: `${n} CPU-bound tasks of ~${ms} ms, pool of ${k} (${cores} cores): speed-up over 1 worker (ideal ${Math.min(k, cores)}x)`,
          unit: 'ms',
          baselineName: 'tasklane, pool of 1',
          target: { kind: 'info', ratio: 'speedup' },
          ours: times.get(k) as number[],
          baseline: one,
        }),
      );
    }
    return rows;
  },
};
