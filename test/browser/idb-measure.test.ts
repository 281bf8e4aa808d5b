import { expect, test } from 'vitest';
import { createScheduler, openIdbStore } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { tasksWorker } from './helpers.js';
import { dbName, deleteTestDbs, record } from './idb-helpers.js';

/**
 * Quick figures for the IndexedDB store, next to the raw IndexedDB floor measured in the same run.
 * Not a test of anything: skipped unless VITE_MEASURE=1 (`VITE_MEASURE=1 npx vitest run test/browser/idb-measure.test.ts`).
 */
test.skipIf(!import.meta.env.VITE_MEASURE)(
  'measure: per-task cost of the IndexedDB store vs the raw put floor',
  async () => {
    const N = 10_000;
    const us = (ms: number) => `${((ms * 1000) / N).toFixed(1)} µs/task`;
    const figures: Record<string, string> = {};

    // Raw floor: one transaction of N puts, then one of N deletes, same record shape.
    const floorDb = dbName('floor');
    await (await openIdbStore(floorDb)).close();
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(floorDb);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const records = Array.from({ length: N }, (_, i) => record({ id: `r${i}`, name: 'noop', input: null }));
    const txDone = (tx: IDBTransaction) =>
      new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onabort = () => reject(tx.error);
      });
    let t = performance.now();
    let tx = db.transaction('tasks', 'readwrite', { durability: 'relaxed' });
    for (const r of records) tx.objectStore('tasks').put(r);
    await txDone(tx);
    const put = performance.now() - t;
    t = performance.now();
    tx = db.transaction('tasks', 'readwrite', { durability: 'relaxed' });
    for (const r of records) tx.objectStore('tasks').delete(r.id);
    await txDone(tx);
    const del = performance.now() - t;
    db.close();
    figures['raw floor: batched put'] = us(put);
    figures['raw floor: batched put + delete'] = us(put + del);

    // The store's write of one batch (what enqueueMany does).
    const storeDb = dbName('store');
    const store = await openIdbStore(storeDb);
    t = performance.now();
    await store.write(records.map((r) => ({ ...r, id: `s${r.id}` })));
    figures['IdbStore.write(N records)'] = us(performance.now() - t);
    await store.close();

    // Through the scheduler: enqueueMany, N concurrent enqueue, and a persisted no-op run.
    const name = dbName('sched');
    const runStore = await openIdbStore(name);
    const s = await createScheduler<Tasks>({ name, store: runStore, worker: tasksWorker, pool: { max: 2 } });
    await (await s.enqueue('noop', null)).result;
    s.pause();
    t = performance.now();
    await s.enqueueMany(Array.from({ length: N }, () => ({ name: 'noop' as const, input: null })));
    figures['scheduler.enqueueMany(N)'] = us(performance.now() - t);
    t = performance.now();
    await Promise.all(Array.from({ length: N }, () => s.enqueue('noop', null)));
    figures['N × scheduler.enqueue (concurrent)'] = us(performance.now() - t);
    t = performance.now();
    const stats0 = { ...runStore.stats };
    s.resume();
    await s.drain();
    figures['persisted no-op run: transactions / reads / prefetch hits'] =
      `${runStore.stats.transactions - stats0.transactions} / ${runStore.stats.reads - stats0.reads} / ${runStore.stats.prefetchHits - stats0.prefetchHits}`;
    figures['persisted no-op run (2N tasks, 2 workers)'] = `${(((performance.now() - t) * 1000) / (2 * N)).toFixed(1)} µs/task`;
    await s.close();

    const m = await createScheduler<Tasks>({ store: 'memory', worker: tasksWorker, pool: { max: 2 } });
    await (await m.enqueue('noop', null)).result;
    m.pause();
    t = performance.now();
    await m.enqueueMany(Array.from({ length: 2 * N }, () => ({ name: 'noop' as const, input: null })));
    figures['memory: enqueueMany(2N)'] = `${(((performance.now() - t) * 1000) / (2 * N)).toFixed(1)} µs/task`;
    t = performance.now();
    m.resume();
    await m.drain();
    figures['memory: no-op run (2N tasks, 2 workers)'] = `${(((performance.now() - t) * 1000) / (2 * N)).toFixed(1)} µs/task`;
    await m.close();
    await deleteTestDbs();
    console.log(JSON.stringify(figures, null, 2));
    expect(true).toBe(true);
  },
  120_000,
);
