/** Case 11: what a dependency edge costs, against the same work without dependencies. */
import type { EnqueueItem, Scheduler } from '../src/index.js';
import { now } from './floors.js';
import { type BenchCase, interleavedPairs, memScheduler, noops, repeat, warm } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

type Item = EnqueueItem<Tasks, 'noop'> & { ref?: string };

/** Interleaved fan-out / plain pairs per run (11a), each side's figure for the run their median. */
const FAN_PAIRS = 9;

/** One root and `n` tasks that each depend on it, in one enqueueMany; ms to drain. */
async function fanOut(s: Scheduler<Tasks>, n: number): Promise<number> {
  const items: Item[] = [{ ref: 'root', name: 'noop', input: null }];
  const options = { dependsOn: ['root'] };
  for (let i = 0; i < n; i++) items.push({ name: 'noop', input: null, options } as Item);
  const t0 = now();
  await s.enqueueMany(items as EnqueueItem<Tasks>[]);
  await s.drain();
  return now() - t0;
}

/** A chain of `n`, each depending on the one before, in one enqueueMany; ms to drain. */
async function chain(s: Scheduler<Tasks>, n: number): Promise<number> {
  const items: Item[] = [];
  for (let i = 0; i < n; i++)
    items.push({ ref: `t${i}`, name: 'noop', input: null, options: i ? { dependsOn: [`t${i - 1}`] } : undefined } as Item);
  const t0 = now();
  await s.enqueueMany(items as EnqueueItem<Tasks>[]);
  await s.drain();
  return now() - t0;
}

/** The same chain by hand: the caller awaits each result before enqueueing the next. */
async function byHand(s: Scheduler<Tasks>, n: number): Promise<number> {
  const t0 = now();
  for (let i = 0; i < n; i++) await (await s.enqueue('noop', null)).result;
  return now() - t0;
}

async function plain(s: Scheduler<Tasks>, n: number): Promise<number> {
  const t0 = now();
  await s.enqueueMany(noops(n));
  await s.drain();
  return now() - t0;
}

export const case11: BenchCase = {
  id: '11',
  title: 'Dependencies',
  async run(ctx) {
    const fan = ctx.quick ? 2_000 : 10_000;
    const length = ctx.quick ? 200 : 1_000;
    const r = { fan: [] as number[], fanBase: [] as number[], chain: [] as number[], chainBase: [] as number[] };
    const s = await memScheduler();
    try {
      await warm(s, 2);
      await repeat(ctx, 'case 11', async (record, run) => {
        const pair = await interleavedPairs(
          FAN_PAIRS,
          run,
          () => fanOut(s, fan),
          () => plain(s, fan + 1),
        );
        // Which goes first alternates by run: drift hits both alike.
        const pairs: [() => Promise<number>, number[]][] =
          run % 2 === 0
            ? [
                [() => chain(s, length), r.chain],
                [() => byHand(s, length), r.chainBase],
              ]
            : [
                [() => byHand(s, length), r.chainBase],
                [() => chain(s, length), r.chain],
              ];
        for (const [fn, into] of pairs) {
          const ms = await fn();
          if (record) into.push(ms);
        }
        if (record) {
          r.fan.push(pair.a);
          r.fanBase.push(pair.b);
        }
      });
    } finally {
      await s.close({ drain: false });
    }
    return [
      makeRow({
        id: '11a',
        title: `fan-out: 1 root + ${fan / 1000}k dependents in one enqueueMany, memory store, to drain`,
        unit: 'ms',
        baselineName: `the same ${fan / 1000}k + 1 no-ops without dependencies`,
        note: `each run: the median of ${FAN_PAIRS} interleaved pairs (which goes first alternates)`,
        target: { kind: 'cost', max: 1.5 },
        ours: r.fan,
        baseline: r.fanBase,
      }),
      makeRow({
        id: '11b',
        title: `chain of ${length} (each depends on the one before) in one enqueueMany, to drain`,
        unit: 'ms',
        baselineName: 'the same chain by hand: await each result, then enqueue the next',
        target: { kind: 'cost', max: 1.5 },
        ours: r.chain,
        baseline: r.chainBase,
      }),
    ];
  },
};
