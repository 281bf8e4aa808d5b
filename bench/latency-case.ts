/** Cases 5 to 7: how long a task waits to start: on an idle pool (5), critical behind a backlog (6), after a hung task (7). */
import { wrap } from 'comlink';
import type { EnqueueItem, Scheduler, TaskEvent, WorkerEvent } from '../src/index.js';
import type { WorkerApi } from '../src/protocol.js';
import { echoLatencies, now, rawLatencies, rawPool } from './floors.js';
import { type BenchCase, clock, memScheduler, repeat, sleep, tasksWorker, warm } from './harness.js';
import { makeRow, percentile, type Target } from './stats.js';
import type { Tasks } from './tasks.worker.js';

// ── 5. dispatch latency ────────────────────────────────────────────────────────────────────────────

/** Our tasks' completions so far, per pool worker (by handle id). */
function completedById(s: Scheduler<Tasks>): Map<number, number> {
  return new Map(s.workers().map((w) => [w.id, w.completed]));
}

/**
 * Round trips in case 5's warm-up run, of ours and as many of the floor (in --quick too). V8 compiles
 * the scheduler's hottest methods with TurboFan only after tens of thousands of calls, 5–16 ms each on
 * this machine (`BENCH_JS_FLAGS=--trace-opt`: #pumpStep, #transmit, #applyOutcomes, #onDone), as
 * background tasks that take one of the two cores. After a warm-up of one run's length (2,200) they
 * landed in measured runs 4 and 5 and made most of the p99 there. This case measures dispatch in
 * steady state; a cold page pays those compiles once, over its first tens of thousands of tasks.
 */
const WARM_UP_ROUND_TRIPS = 40_000;

export const case5: BenchCase = {
  id: '5',
  title: 'Dispatch latency, idle pool of 2',
  async run(ctx) {
    // 2,000 a run: a p99 is then the 20th slowest, not the 10th, and settles within a run.
    const m = ctx.quick ? 400 : 2_000;
    const block = 100;
    const raw = await rawPool(2);
    // The pool's workers in spawn order, which is handle id order (no worker dies in this case).
    const created: Worker[] = [];
    const s = await memScheduler({
      worker: () => {
        const worker = tasksWorker();
        created.push(worker);
        return worker;
      },
    });
    await warm(s, 2);
    const r = {
      echoP50: [] as number[],
      echoP99: [] as number[],
      rawP50: [] as number[],
      rawP99: [] as number[],
      p50: [] as number[],
      p99: [] as number[],
    };
    const rawWorker = raw.workers[0] as Worker;
    try {
      // One forced GC, before the warm-up run, and none between runs: a forced GC flushes compiled
      // code that is not running at that moment (V8 ages it through the GCs it forces), and the
      // recompiling and tiering up that follows runs as background JIT tasks on this 2-core machine
      // for thousands of round trips. In a trace, most round trips over 0.4 ms after one overlapped a
      // background Maglev compile. It is a cost of the bench's GC, not of dispatch, and falls on ours
      // (hundreds of functions) far more than on a three-line echo.
      await ctx.gc();
      await repeat(ctx, 'case 5', async (record) => {
        const ours: number[] = [];
        const echo: number[] = [];
        const blocks = (record ? m : WARM_UP_ROUND_TRIPS) / block;
        // Blocks of ours, then the floor on the thread that ran them: drift and thread placement hit
        // both alike. The first two pairs of blocks are not recorded (back from the 5c/5d loop).
        for (let b = -2; b < blocks; b++) {
          const before = completedById(s);
          const oursBlock: number[] = [];
          for (let i = 0; i < block; i++) {
            const t0 = now();
            const task = await s.enqueue('noop', null);
            await task.result;
            oursBlock.push((now() - t0) * 1000);
          }
          const after = completedById(s);
          const ids = [...after.keys()].sort((x, y) => x - y);
          if (ids.length !== created.length) throw new Error('case 5: a pool worker was replaced; cannot pair the floor with it');
          const done = (id: number) => (after.get(id) ?? 0) - (before.get(id) ?? 0);
          let busiest = 0;
          for (let k = 1; k < ids.length; k++) if (done(ids[k] as number) > done(ids[busiest] as number)) busiest = k;
          const echoBlock = await echoLatencies(created[busiest] as Worker, block);
          if (b < 0) continue;
          ours.push(...oursBlock);
          echo.push(...echoBlock);
        }
        // The first floor, for reference: a plain worker of its own (its thread placed wherever the OS put it).
        const rawLat = await rawLatencies(rawWorker, m);
        // --verbose: each run's distribution, where a p99 gap starts.
        const shape = (xs: number[]) => [50, 75, 90, 95, 98, 99, 99.5].map((p) => percentile(xs, p).toFixed(0)).join('/');
        ctx.log(`case 5 p50/75/90/95/98/99/99.5 (µs): ours ${shape(ours)}, floor ${shape(echo)}`);
        if (record) {
          r.echoP50.push(percentile(echo, 50));
          r.echoP99.push(percentile(echo, 99));
          r.rawP50.push(percentile(rawLat, 50));
          r.rawP99.push(percentile(rawLat, 99));
          r.p50.push(percentile(ours, 50));
          r.p99.push(percentile(ours, 99));
        }
      });
    } finally {
      raw.close();
      await s.close({ drain: false });
    }
    const title = `sequential enqueue -> result of a no-op (${m} per run)`;
    const floorName = 'raw postMessage round trip, same worker thread';
    const note = `floor: an echo listener in the bench worker module, ahead of tasklane, on the thread that ran the block just measured (blocks of 100 alternate, the first 2 pairs of each run not recorded; a warm-up run of ${WARM_UP_ROUND_TRIPS} round trips of each, so V8 has tiered up both; one forced GC before it, none between runs); a separate plain worker is in 5c/5d`;
    /** A row of ours at percentile `p` against `baseline`. */
    const row = (id: string, p: 50 | 99, baselineName: string, baseline: number[], target: Target, rowNote?: string) =>
      makeRow({ id, title: `${title}, p${p}`, unit: 'µs', baselineName, target, ours: p === 50 ? r.p50 : r.p99, baseline, note: rowNote });
    return [
      row('5a', 50, `${floorName} p50`, r.echoP50, { kind: 'cost', max: 1.3 }, note),
      row('5b', 99, `${floorName} p99`, r.echoP99, { kind: 'cost', max: 1.3 }),
      row('5c', 50, 'raw round trip p50, a plain worker of its own', r.rawP50, { kind: 'info' }),
      row('5d', 99, 'raw round trip p99, a plain worker of its own', r.rawP99, { kind: 'info' }),
    ];
  },
};

// ── 6. priority under load ─────────────────────────────────────────────────────────────────────────

/** Queues `count` tasks of `ms`, lets the pool settle, then times one marker task's enqueue → start. */
async function markerWait(count: number, ms: number, fifo: boolean): Promise<number> {
  const s = await memScheduler();
  try {
    await warm(s, 2);
    const background: EnqueueItem<Tasks, 'spin'>[] = Array.from({ length: count }, () => ({
      name: 'spin',
      input: { ms },
      options: { priority: fifo ? 'normal' : 'background' },
    }));
    await s.enqueueMany(background);
    // Let the pool reach its steady state (run times learned), at a random phase of the tasks.
    await sleep(100 + Math.random() * 100);
    const t0 = clock();
    const marker = await s.enqueue('stamp', null, { priority: fifo ? 'normal' : 'critical' });
    const startedAt = await marker.result;
    return startedAt - t0;
  } finally {
    await s.close({ drain: false });
  }
}

export const case6: BenchCase = {
  id: '6',
  title: 'Priority under load',
  async run(ctx) {
    const count = 1_000;
    const taskMs = 20;
    const fifoRuns = ctx.quick ? 1 : ctx.runs;
    const r = { critical: [] as number[], fifo: [] as number[], short: [] as number[] };
    await repeat(ctx, 'case 6', async (record, run) => {
      const critical = await markerWait(count, taskMs, false);
      const short = await markerWait(count, 1, false);
      if (record) {
        r.critical.push(critical);
        r.short.push(short);
        if (run <= fifoRuns) r.fifo.push(await markerWait(count, taskMs, true));
      }
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const avgNote = `mean wait: critical ${mean(r.critical).toFixed(1)} ms vs FIFO ${mean(r.fifo).toFixed(0)} ms (${(mean(r.fifo) / mean(r.critical)).toFixed(0)}x less); FIFO runs: ${r.fifo.length}`;
    return [
      makeRow({
        id: '6a',
        title: `critical task behind ${count} background tasks of ${taskMs} ms, 2 workers: wait`,
        unit: 'ms',
        baselineName: 'tasklane FIFO (all one priority)',
        target: { kind: 'max', max: taskMs + 5, ratio: 'speedup' },
        ours: r.critical,
        baseline: r.fifo,
        note: avgNote,
      }),
      makeRow({
        id: '6b',
        title: `critical task behind ${count} background tasks of 1 ms (pipelined): wait`,
        unit: 'ms',
        baselineName: '-',
        target: { kind: 'info' },
        ours: r.short,
        baseline: [],
        note: 'shows what PIPELINE_BUDGET_MS costs a late urgent task when tasks are short enough to be pipelined',
      }),
    ];
  },
};

// ── 7. hung-task recovery ──────────────────────────────────────────────────────────────────────────

/** Time to spawn the bench's tasklane worker module and get a first answer from it. */
async function spawnMs(): Promise<number> {
  const t0 = now();
  const worker = tasksWorker();
  const remote = wrap<WorkerApi>(worker);
  await remote.run([]);
  const ms = now() - t0;
  worker.terminate();
  return ms;
}

export const case7: BenchCase = {
  id: '7',
  title: 'Hung-task recovery',
  async run(ctx) {
    const timeoutMs = 100;
    const graceMs = 100;
    const r = {
      ours: [] as number[],
      bound: [] as number[],
      spawn: [] as number[],
      fired: [] as number[],
      spawned: [] as number[],
      ready: [] as number[],
    };
    await repeat(ctx, 'case 7', async (record) => {
      const spawns = [await spawnMs(), await spawnMs(), await spawnMs()];
      const spawn = percentile(spawns, 50);
      const s = await memScheduler({ pool: { max: 1, graceMs } });
      try {
        await warm(s, 1);
        const first = s.workers()[0]?.id;
        let hangStart: number | undefined;
        let failedAt: number | undefined;
        let spawnedAt: number | undefined;
        let readyAt: number | undefined;
        s.addEventListener('started', (e: TaskEvent) => {
          if (e.task.name === 'hang') hangStart = e.task.startedAt;
        });
        s.addEventListener('failed', (e: TaskEvent) => {
          if (e.task.name === 'hang') failedAt = clock();
        });
        s.addEventListener('worker', (e: WorkerEvent) => {
          if (e.workerId === first) return;
          if (e.state === 'spawned') spawnedAt ??= clock();
          else if (e.state === 'idle') readyAt ??= clock();
        });
        const hang = await s.enqueue('hang', { ms: 10_000 }, { timeoutMs, retry: { attempts: 1 } });
        hang.result.catch(() => {});
        const next = await s.enqueue('stamp', null);
        const nextStart = await next.result;
        if (hangStart === undefined) throw new Error('no started event for the hung task');
        if (record) {
          r.ours.push(nextStart - hangStart);
          r.bound.push(timeoutMs + graceMs + 1.5 * spawn);
          r.spawn.push(spawn);
          if (failedAt !== undefined) r.fired.push(failedAt - hangStart);
          if (spawnedAt !== undefined) r.spawned.push(spawnedAt - hangStart);
          if (readyAt !== undefined) r.ready.push(readyAt - hangStart);
        }
      } finally {
        await s.close({ drain: false });
      }
    });
    const med = (xs: number[]) => (xs.length ? percentile(xs, 50).toFixed(0) : '?');
    return [
      makeRow({
        id: '7',
        title: `busy-loop task, timeoutMs ${timeoutMs}, graceMs ${graceMs}, pool of 1: hung start -> next task starts`,
        unit: 'ms',
        baselineName: 'timeout + grace + 1.5 x spawn',
        target: { kind: 'cost', max: 1 },
        ours: r.ours,
        baseline: r.bound,
        note: `spawn = new Worker of the same module -> first Comlink answer, median ${percentile(r.spawn, 50).toFixed(1)} ms; after the hung start (medians): timeout fired +${med(r.fired)} ms, replacement spawned +${med(r.spawned)} ms, ready +${med(r.ready)} ms, next task started +${med(r.ours)} ms`,
      }),
    ];
  },
};
