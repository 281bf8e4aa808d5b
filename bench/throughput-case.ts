/** Cases 1 and 2: no-op throughput through a pool of 2, memory store (1) and IndexedDB store (2), against raw postMessage, Comlink, workerpool and raw IndexedDB floors. */
import {
  comlinkPipelined,
  comlinkPool,
  deleteDb,
  idbDeleteAll,
  idbOneTxnPerRecord,
  idbPutAll,
  now,
  openRawDb,
  rawBatched,
  rawPipelined,
  rawPool,
  taskLikeRecord,
  workerpoolPeer,
} from './floors.js';
import { type BenchCase, idbScheduler, memScheduler, noops, perTaskUs, repeat, warm } from './harness.js';
import { makeRow } from './stats.js';

let dbCounter = 0;

// ── 1. no-op throughput, memory store ──────────────────────────────────────────────────────────────

export const case1: BenchCase = {
  id: '1',
  title: 'No-op throughput, pool of 2, memory store',
  async run(ctx) {
    const n = ctx.quick ? 5_000 : 20_000;
    const batch = 64;
    const raw = await rawPool(2);
    const cl = await comlinkPool(2);
    const wp = await workerpoolPeer(2);
    const s = await memScheduler();
    await warm(s, 2);
    const items = noops(n);
    const r = {
      raw: [] as number[],
      batched: [] as number[],
      comlink: [] as number[],
      wp: [] as number[],
      many: [] as number[],
      loop: [] as number[],
    };
    try {
      await repeat(ctx, 'case 1', async (record) => {
        const keep = (list: number[], ms: number) => record && list.push(perTaskUs(ms, n));
        await ctx.gc();
        keep(r.raw, await rawPipelined(raw, n));
        await ctx.gc();
        keep(r.batched, await rawBatched(raw, n, batch));
        await ctx.gc();
        keep(r.comlink, await comlinkPipelined(cl, n));
        await ctx.gc();
        keep(r.wp, await wp.exec(n));
        await ctx.gc();
        let t0 = now();
        await s.enqueueMany(items);
        await s.drain();
        keep(r.many, now() - t0);
        await ctx.gc();
        t0 = now();
        const handles = await Promise.all(items.map(() => s.enqueue('noop', null)));
        await Promise.all(handles.map((h) => h.result));
        keep(r.loop, now() - t0);
      });
    } finally {
      raw.close();
      cl.close();
      await wp.close();
      await s.close({ drain: false });
    }
    const title = `no-op x ${n / 1000}k, pool 2, memory, enqueueMany + drain`;
    const unit = 'µs/task';
    return [
      makeRow({
        id: '1a',
        title,
        unit,
        baselineName: 'workerpool exec',
        target: { kind: 'speedup', min: 2 },
        ours: r.many,
        baseline: r.wp,
      }),
      makeRow({
        id: '1b',
        title,
        unit,
        baselineName: 'raw Comlink',
        target: { kind: 'cost', max: 1.3 },
        ours: r.many,
        baseline: r.comlink,
      }),
      makeRow({
        id: '1c',
        title: `${title} (stretch)`,
        unit,
        baselineName: 'raw postMessage, 1 msg/task',
        target: { kind: 'cost', max: 1 },
        ours: r.many,
        baseline: r.raw,
      }),
      makeRow({
        id: '1d',
        title,
        unit,
        baselineName: `raw postMessage, ${batch} tasks/msg`,
        target: { kind: 'info' },
        ours: r.many,
        baseline: r.batched,
      }),
      makeRow({
        id: '1e',
        title: `no-op x ${n / 1000}k, pool 2, memory, enqueue() loop + await every result`,
        unit,
        baselineName: 'raw Comlink',
        target: { kind: 'info' },
        ours: r.loop,
        baseline: r.comlink,
      }),
    ];
  },
};

// ── 2. no-op throughput, IndexedDB store ───────────────────────────────────────────────────────────

export const case2: BenchCase = {
  id: '2',
  title: 'No-op throughput, pool of 2, IndexedDB store',
  async run(ctx) {
    const n = ctx.quick ? 2_000 : 20_000;
    const naiveN = ctx.quick ? 100 : 500;
    const floorName = `tasklane-bench-floor-${Date.now()}`;
    await deleteDb(floorName);
    const db = await openRawDb(floorName);
    const at = Date.now();
    const records = Array.from({ length: n }, (_, i) => taskLikeRecord(i, at));
    const ids = records.map((r) => r.id as string);
    const naiveRecords = records.slice(0, naiveN);
    const items = noops(n);
    const r = { floor: [] as number[], naive: [] as number[], ours: [] as number[] };
    try {
      await repeat(ctx, 'case 2', async (record) => {
        // The warm-up run warms the code paths at a fraction of the size.
        const size = record ? n : Math.min(n, 2_000);
        await ctx.gc();
        let t0 = now();
        await idbPutAll(db, record ? records : records.slice(0, size));
        await idbDeleteAll(db, record ? ids : ids.slice(0, size));
        if (record) r.floor.push(perTaskUs(now() - t0, n));
        t0 = now();
        await idbOneTxnPerRecord(db, naiveRecords);
        if (record) r.naive.push(perTaskUs(now() - t0, naiveN));
        const name = `tasklane-bench-2-${Date.now()}-${dbCounter++}`;
        const s = await idbScheduler(name);
        try {
          await warm(s, 2);
          await ctx.gc();
          t0 = now();
          await s.enqueueMany(record ? items : items.slice(0, size));
          await s.drain();
          await s.close();
          if (record) r.ours.push(perTaskUs(now() - t0, n));
        } finally {
          await s.close({ drain: false });
          await deleteDb(name);
        }
      });
    } finally {
      db.close();
      await deleteDb(floorName);
    }
    const title = `no-op x ${n / 1000}k, pool 2, IndexedDB, enqueueMany + drain + close`;
    const unit = 'µs/task';
    const floorName2 = 'raw IDB put+delete, batched';
    const naiveName = 'raw IDB, 1 txn per record';
    const note = 'ours: from enqueueMany to close() resolving (store flushed); floor: one txn puts all, one txn deletes all';
    return [
      makeRow({
        id: '2a',
        title,
        unit,
        baselineName: floorName2,
        target: { kind: 'speedup', min: 1 },
        ours: r.ours,
        baseline: r.floor,
        note,
      }),
      makeRow({
        id: '2b',
        title: `${title} (stretch)`,
        unit,
        baselineName: floorName2,
        target: { kind: 'speedup', min: 5 },
        ours: r.ours,
        baseline: r.floor,
      }),
      makeRow({
        id: '2c',
        title,
        unit,
        baselineName: `${naiveName} (${naiveN} records)`,
        target: { kind: 'info', ratio: 'speedup' },
        ours: r.ours,
        baseline: r.naive,
      }),
    ];
  },
};
