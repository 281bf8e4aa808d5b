/** Cases 3 and 4: what an enqueue costs, into the memory store (3, against a bare heap and p-queue) and persisted (4, against a raw IndexedDB put). */
import type { EnqueueItem } from '../src/index.js';
import { bareHeapPushes, deleteDb, idbPutAll, now, openRawDb, pQueueAdds, taskLikeRecord } from './floors.js';
import { type BenchCase, heapUsed, idbScheduler, memScheduler, randomPriorities, repeat, warm, withLongTasks } from './harness.js';
import { makeRow } from './stats.js';
import type { Tasks } from './tasks.worker.js';

let dbCounter = 0;

// ── 3. enqueue 1M into the memory store ────────────────────────────────────────────────────────────

export const case3: BenchCase = {
  id: '3',
  title: 'Enqueue into the memory store, random priorities',
  async run(ctx) {
    const n = ctx.quick ? 50_000 : 1_000_000;
    const small = ctx.quick ? 20_000 : 100_000;
    const priorities = randomPriorities(n);
    const options = [0, 1, 2, 3, 4].map((priority) => ({ priority: priority as 0 | 1 | 2 | 3 | 4 }));
    const items: EnqueueItem<Tasks, 'noop'>[] = new Array(n);
    for (let i = 0; i < n; i++) items[i] = { name: 'noop', input: null, options: options[priorities[i] as number] };
    const smallItems = items.slice(0, small);
    const r = {
      heap: [] as number[],
      ours: [] as number[],
      bytes: [] as number[],
      pq: [] as number[],
      oursSmall: [] as number[],
      loop: [] as number[],
    };
    let closeMs = 0;
    let closeLongest = 0;
    await repeat(ctx, 'case 3', async (record) => {
      const size = record ? n : Math.min(n, 100_000);
      await ctx.gc();
      const heapMs = bareHeapPushes(priorities, size);
      if (record) r.heap.push(heapMs);

      const s = await memScheduler();
      await warm(s, 1);
      s.pause();
      await ctx.gc();
      const before = heapUsed();
      let t0 = now();
      let ids: string[] | undefined = await s.enqueueMany(record ? items : items.slice(0, size));
      const ms = now() - t0;
      if (ids.length !== size) throw new Error('enqueueMany lost tasks');
      ids = undefined;
      await ctx.gc();
      const after = heapUsed();
      if (record) {
        r.ours.push(ms);
        if (before !== undefined && after !== undefined) r.bytes.push((after - before) / n);
      }
      const closing = await withLongTasks(async () => {
        const c0 = now();
        await s.close({ drain: false });
        return now() - c0;
      });
      closeMs = closing.value;
      closeLongest = closing.longest;

      await ctx.gc();
      const pq = pQueueAdds(priorities, small);
      if (record) r.pq.push(pq);

      const s2 = await memScheduler();
      await warm(s2, 1);
      s2.pause();
      await ctx.gc();
      t0 = now();
      await s2.enqueueMany(smallItems);
      if (record) r.oursSmall.push(now() - t0);
      await s2.close({ drain: false });

      const s3 = await memScheduler();
      await warm(s3, 1);
      s3.pause();
      await ctx.gc();
      t0 = now();
      const pending: Promise<unknown>[] = new Array(small);
      for (let i = 0; i < small; i++) pending[i] = s3.enqueue('noop', null, options[priorities[i] as number]);
      await Promise.all(pending);
      if (record) r.loop.push(now() - t0);
      await s3.close({ drain: false });
    });
    const k = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
    const sk = `${small / 1000}k`;
    return [
      makeRow({
        id: '3a',
        title: `enqueue ${k} no-ops, random priority, enqueueMany (paused)`,
        unit: 'ms',
        baselineName: `bare binary heap, ${k} pushes`,
        target: { kind: 'cost', max: 4 },
        ours: r.ours,
        baseline: r.heap,
        note: `one enqueueMany call of ${k} items; scheduler paused so nothing dispatches; close({ drain: false }) of ${k} queued took ${closeMs.toFixed(0)} ms (untimed; longest main-thread task ${closeLongest.toFixed(0)} ms)`,
      }),
      makeRow({
        id: '3b',
        title: `enqueue ${sk} no-ops, random priority, enqueueMany (paused)`,
        unit: 'ms',
        baselineName: `p-queue, ${sk} prioritised adds`,
        target: { kind: 'info' },
        ours: r.oursSmall,
        baseline: r.pq,
      }),
      makeRow({
        id: '3c',
        title: `enqueue ${sk} no-ops, random priority, enqueue() loop (paused)`,
        unit: 'ms',
        baselineName: `p-queue, ${sk} prioritised adds`,
        target: { kind: 'info' },
        ours: r.loop,
        baseline: r.pq,
      }),
      makeRow({
        id: '3d',
        title: `JS heap per queued task, memory store (${k})`,
        unit: 'B/task',
        baselineName: '-',
        target: { kind: 'info' },
        ours: r.bytes,
        baseline: [],
        note: 'usedJSHeapSize after - before enqueueMany, both after a forced GC; inputs are shared, so this is all beyond the input',
      }),
    ];
  },
};

// ── 4. persisted enqueue of 100k ───────────────────────────────────────────────────────────────────

export const case4: BenchCase = {
  id: '4',
  title: 'Persisted enqueue, IndexedDB store',
  async run(ctx) {
    const n = ctx.quick ? 5_000 : 100_000;
    const k = `${n / 1000}k`;
    const at = Date.now();
    const records = Array.from({ length: n }, (_, i) => ({ ...taskLikeRecord(i, at), name: 'small', input: { i } }));
    const items: EnqueueItem<Tasks, 'small'>[] = Array.from({ length: n }, (_, i) => ({ name: 'small', input: { i } }));
    const r = {
      floor: [] as number[],
      floorLong: [] as number[],
      ours: [] as number[],
      long: [] as number[],
      longCount: [] as number[],
      bytes: [] as number[],
    };
    await repeat(ctx, 'case 4', async (record) => {
      const size = record ? n : Math.min(n, 10_000);
      const floorName = `tasklane-bench-4-floor-${Date.now()}-${dbCounter++}`;
      const db = await openRawDb(floorName);
      await ctx.gc();
      const floor = await withLongTasks(async () => {
        const t0 = now();
        await idbPutAll(db, record ? records : records.slice(0, size));
        return now() - t0;
      });
      db.close();
      await deleteDb(floorName);
      if (record) {
        r.floor.push(floor.value);
        r.floorLong.push(floor.longest);
      }
      const name = `tasklane-bench-4-${Date.now()}-${dbCounter++}`;
      const s = await idbScheduler(name);
      try {
        await warm(s, 1);
        s.pause();
        await ctx.gc();
        const before = heapUsed();
        const ours = await withLongTasks(async () => {
          const t0 = now();
          await s.enqueueMany(record ? items : items.slice(0, size));
          return now() - t0;
        });
        await ctx.gc();
        const after = heapUsed();
        if (record) {
          r.ours.push(ours.value);
          r.long.push(ours.longest);
          r.longCount.push(ours.count);
          if (before !== undefined && after !== undefined) r.bytes.push((after - before) / n);
        }
      } finally {
        // Untimed. Deleting the database first makes the store close itself (versionchange), so
        // close() does not rewrite every queued record as cancelled before it lets go.
        await deleteDb(name);
        await s.close({ drain: false });
        await deleteDb(name);
      }
    });
    const title = `persisted enqueue of ${k} small tasks, enqueueMany`;
    const floorName = `raw IDB put of ${k}, one txn`;
    return [
      makeRow({
        id: '4a',
        title,
        unit: 'ms',
        baselineName: floorName,
        target: { kind: 'cost', max: 1.2 },
        ours: r.ours,
        baseline: r.floor,
      }),
      makeRow({
        id: '4b',
        title: 'longest main-thread task during it (0 = none over 50 ms)',
        unit: 'ms',
        baselineName: floorName,
        target: { kind: 'max', max: 50 },
        ours: r.long,
        baseline: r.floorLong,
        note: `long tasks per run: ${r.longCount.join(', ')}`,
      }),
      makeRow({
        id: '4c',
        title: 'JS heap per queued task beyond the input',
        unit: 'B/task',
        baselineName: '-',
        target: { kind: 'max', max: 200 },
        ours: r.bytes,
        baseline: [],
        note: 'usedJSHeapSize (precise memory info) after - before enqueueMany, both after a forced GC, inputs held by the caller throughout',
      }),
    ];
  },
};
