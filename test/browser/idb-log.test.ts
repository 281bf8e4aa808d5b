import { afterEach, describe, expect, test } from 'vitest';
import { createScheduler, type IdbStore, openIdbStore, SCHEMA_VERSION, type TaskRecord, type WarningEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { outcome, tasksWorker } from './helpers.js';
import {
  closeAfter,
  closeOpened,
  completedAt,
  dbName,
  openTestStore,
  rawAll,
  rawPut,
  rawPutSegment,
  rawSegments,
  record,
} from './idb-helpers.js';

afterEach(closeOpened);

/** Lets deletions scheduled for "the next commit" (a macrotask later when nothing else writes) commit. */
const settle = async (s: IdbStore) => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
  expect(s.closed).toBe(false);
};

const versionsOf = async (name: string, id: string) => (await rawSegments(name)).flatMap((seg) => seg.records.filter((r) => r.id === id));

describe('IdbStore log', () => {
  test('a commit of many tasks is one value per 512 tasks, not one per task', async () => {
    const name = dbName('pack');
    const s = await openTestStore(name);
    const records = Array.from({ length: 1200 }, (_, i) => record({ id: `t${i}` }));
    await s.write(records);
    const segments = await rawSegments(name);
    expect(segments.map((seg) => seg.records.length)).toEqual([512, 512, 176]);
    expect(s.stats.segmentsWritten).toBe(3);
    expect((await rawAll(name)).length).toBe(1200);
  });

  test('a task written twice in one commit window is stored once, as its last version', async () => {
    const name = dbName('once');
    const s = await openTestStore(name);
    const r = record({ id: 'x' });
    const first = s.write([r]);
    const second = s.write([{ ...r, status: 'cancelled', finishedAt: 1 }]);
    // A read in the same turn sees the last version, before any commit.
    expect((s.read(['x']) as TaskRecord[])[0]?.status).toBe('cancelled');
    await Promise.all([first, second]);
    const versions = await versionsOf(name, 'x');
    expect(versions.map((v) => v.status)).toEqual(['cancelled']);
  });

  test('segments whose versions are all superseded are deleted: after a drain no segment is all stale, and the queued versions are gone', async () => {
    const name = dbName('gc');
    const s = await openTestStore(name);
    const sched = await createScheduler<Tasks>({ name, worker: tasksWorker, store: s, pool: { max: 2 } });
    closeAfter({ close: () => sched.close({ drain: false }) });
    await sched.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ name: 'add' as const, input: { a: i, b: 1 } })));
    await sched.drain();
    await settle(s);
    expect(s.stats.segmentsDeleted).toBeGreaterThan(0);
    const segments = await rawSegments(name);
    const current = new Map<string, number>();
    segments.forEach((seg, i) => {
      for (const r of seg.records) current.set(r.id as string, i);
    });
    // Every segment left holds at least one current version.
    const holding = new Set(current.values());
    for (let i = 0; i < segments.length; i++) expect(holding.has(i)).toBe(true);
    const all = await rawAll(name);
    expect(all).toHaveLength(300);
    expect(all.every((r) => r.status === 'completed')).toBe(true);
    // The segment of the 300 queued versions is gone. Running versions share segments with
    // completions of the batch before, so some stay until compaction (a segment at most 1/4 current).
    const stale = segments.flatMap((seg) => seg.records).filter((r) => r.status !== 'completed');
    expect(stale.filter((r) => r.status === 'queued')).toEqual([]);
    expect(stale.every((r) => r.status === 'running')).toBe(true);
  });

  test('retention removes a task for good: its older version in a segment kept alive by another task never comes back', async () => {
    const name = dbName('tomb');
    let s = await openTestStore(name);
    const x = record({ id: 'x' });
    const y = record({ id: 'y', runAt: Date.now() + 3_600_000 }); // keeps the first segment alive
    await s.write([x, y]);
    await s.write([completedAt(x, 100)]);
    expect(await s.trim({ completed: 0, failed: 0 })).toBe(1);
    expect((await s.read(['x']))[0]).toBeUndefined();
    await s.close();

    s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id)).toEqual(['y']);
    expect((await s.read(['x']))[0]).toBeUndefined();
    expect((await rawAll(name)).map((r) => r.id)).toEqual(['y']);

    // Once y moves on, the first segment goes, and with it the need for x's tombstone.
    await s.write([completedAt(y, 200)]);
    await s.trim({ completed: 0, failed: 0 });
    await settle(s);
    expect(await versionsOf(name, 'x')).toEqual([]);
    expect(await versionsOf(name, 'y')).toEqual([]);
    expect(await rawSegments(name)).toEqual([]);
  });

  test('compaction rewrites the few current versions of a mostly stale segment forward and deletes it', async () => {
    const name = dbName('compact');
    let s = await openTestStore(name);
    const records = Array.from({ length: 100 }, (_, i) => record({ id: `t${i}` }));
    await s.write(records);
    const [firstKey] = (await rawSegments(name)).map((seg) => seg.key);
    // 90 finish one by one (one segment each, so only the first segment goes stale).
    for (let i = 0; i < 90; i++) await s.write([completedAt(records[i] as TaskRecord, i)]);
    await s.trim({ completed: 1000, failed: 1000 });
    await settle(s);
    expect(s.stats.compactions).toBe(1);
    expect((await rawSegments(name)).map((seg) => seg.key)).not.toContainEqual(firstKey);
    await s.close();

    s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `t${90 + i}`).sort());
    expect((await s.read(['t0', 't89'])).map((r) => r?.status)).toEqual(['completed', 'completed']);
  });

  test('a write of thousands of tasks is put one segment per event-loop task: the main thread runs between them, and it stays all or nothing', async () => {
    const name = dbName('spread');
    const s = await openTestStore(name);
    let ticks = 0;
    let ticking = true;
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      ticks++;
      if (ticking) channel.port2.postMessage(0);
    };
    channel.port2.postMessage(0);
    await s.write(Array.from({ length: 5000 }, (_, i) => record({ id: `ok${i}` })));
    ticking = false;
    expect(s.stats.segmentsWritten).toBe(10);
    // Bookkeeping after the commit is sliced too; reads right after it see the write whole.
    expect((await s.read(['ok0', 'ok4095', 'ok4999'])).map((r) => r?.id)).toEqual(['ok0', 'ok4095', 'ok4999']);
    expect(ticks).toBeGreaterThan(3);

    // A value IndexedDB refuses in the last segment: nothing of that write is stored.
    const bad = Array.from({ length: 2000 }, (_, i) => record({ id: `bad${i}` }));
    (bad[1999] as TaskRecord).input = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    const r = await outcome(s.write(bad));
    expect(r.ok || [r.error.name, (r.error.cause as DOMException).name]).toEqual(['StorageError', 'DataCloneError']);
    const ids = (await rawAll(name)).map((rec) => rec.id);
    expect(ids.filter((id) => id.startsWith('bad'))).toEqual([]);
    expect(ids).toHaveLength(5000);
    expect((await s.read(['bad0']))[0]).toBeUndefined();
  });

  test('writes made while a commit is in flight wait for it and then share one transaction (group commit across turns)', async () => {
    const s = await openTestStore(dbName('park'));
    let running = true;
    const big = s.write(Array.from({ length: 4000 }, (_, i) => record({ id: `p${i}` }))).finally(() => (running = false));
    const before = s.stats.transactions;
    const later: Promise<void>[] = [];
    while (running && later.length < 200) {
      await new Promise((r) => setTimeout(r, 0));
      if (running) later.push(s.write([record({ id: `l${later.length}` })]));
    }
    await Promise.all([big, ...later]);
    expect(later.length).toBeGreaterThan(1);
    expect(s.stats.transactions - before).toBe(1);
    const back = await s.read(later.map((_, i) => `l${i}`));
    expect(back.every((r) => r?.status === 'queued')).toBe(true);
  });

  test('a connection the browser closes fails the writes waiting for the next commit, and close() still returns', async () => {
    const s = await openTestStore(dbName('terminated'));
    let running = true;
    const big = s.write(Array.from({ length: 4000 }, (_, i) => record({ id: `t${i}` }))).finally(() => (running = false));
    await new Promise((r) => setTimeout(r, 0));
    expect(running).toBe(true);
    // One write made while that commit is in flight has been flushed and waits (parked) for the
    // next commit; another is made in the very turn the connection goes.
    const parked = s.write([record({ id: 'parked' })]);
    await Promise.resolve();
    const unflushed = s.write([record({ id: 'unflushed' })]);
    s._onTerminated();
    const settled = (p: Promise<void>) =>
      p.then(
        () => 'stored',
        (error: Error) => error.name,
      );
    expect(await Promise.all([settled(parked), settled(unflushed)])).toEqual(['StorageError', 'StorageError']);
    await big.catch(() => {});
    await s.close();
  });

  test('a version 1 database (one record per task) is migrated on open: live tasks recovered, finished ones readable', async () => {
    const name = dbName('v1');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        const tasks = request.result.createObjectStore('tasks', { keyPath: 'id' });
        tasks.createIndex('status', 'status');
        tasks.createIndex('key', 'key');
        tasks.createIndex('finishedAt', ['status', 'finishedAt']);
        tasks.put(record({ id: 'old-queued' }));
        tasks.put(completedAt(record({ id: 'old-done' }), 5));
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    const s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id)).toEqual(['old-queued']);
    expect((await s.read(['old-done']))[0]?.result).toBe('old-done');
    await s.close();
    const db = await new Promise<IDBDatabase>((resolve) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => resolve(request.result);
    });
    expect([db.version, [...db.objectStoreNames]]).toEqual([SCHEMA_VERSION, ['dir', 'log', 'schedules', 'summary']]);
    db.close();
  });

  test('a version 2 database (a log, no schedules) is migrated on open: its tasks recovered, schedules stored from then on', async () => {
    const name = dbName('v2');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 2);
      request.onupgradeneeded = () => {
        request.result.createObjectStore('log').put({ records: [record({ id: 'v2-queued' })] }, [0, 0]);
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    const s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id)).toEqual(['v2-queued']);
    expect(await s.readSchedules()).toEqual([]);
    const schedule = {
      id: 'nightly',
      name: 'echo',
      input: 1,
      cron: '0 3 * * *',
      misfire: 'once' as const,
      next: 5,
      count: 0,
      anchor: 1,
      createdAt: 1,
      updatedAt: 1,
    };
    await s.writeSchedule(schedule);
    await s.close();
    const again = await openTestStore(name);
    expect(await again.readSchedules()).toEqual([schedule]);
    await again.removeSchedule('nightly');
    expect(await again.readSchedules()).toEqual([]);
    await again.close();
  });

  test('an unreadable segment is left alone and reported; a version with no id is moved to failed; the rest recovers', async () => {
    const name = dbName('badseg');
    await (await openIdbStore(name)).close();
    await rawPut(name, [record({ id: 'fine' }), { name: 'echo', status: 'queued' }]);
    await rawPutSegment(name, [0.5, 0], 'not a segment'); // before the one rawPut wrote
    const sched = await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 1 } });
    closeAfter({ close: () => sched.close({ drain: false }) });
    const warnings: Error[] = [];
    sched.addEventListener('warning', (e: WarningEvent) => warnings.push(e.error));
    await (await sched.get('fine'))?.result;
    await sched.drain();
    const failed = await sched.list({ status: 'failed' });
    expect(failed).toHaveLength(1);
    expect(failed[0]?.errors.at(-1)?.name).toBe('CorruptRecordError');
    expect(warnings.map((w) => w.name)).toContain('CorruptRecordError');
    expect((await rawSegments(name)).some((seg) => (seg as unknown as { records?: unknown }).records === undefined)).toBe(true);
  });

  test('a connection opened later writes after every segment it found: its versions win on the next open, and nothing is overwritten', async () => {
    const name = dbName('two');
    const a = await openTestStore(name);
    await a.write([record({ id: 'x' }), record({ id: 'y' })]);
    const b = await openTestStore(name);
    expect((await b.recover()).map((r) => r.id).sort()).toEqual(['x', 'y']);
    await b.write([completedAt(record({ id: 'x' }), 1)]);
    await a.write([record({ id: 'z' })]); // the older connection keeps writing
    await a.close();
    await b.close();
    const c = await openTestStore(name);
    expect((await c.recover()).map((r) => r.id).sort()).toEqual(['y', 'z']);
    expect((await c.read(['x']))[0]?.status).toBe('completed');
  });

  test('tasks queued in a tab that went away are all recovered from their segments and run once', async () => {
    const name = dbName('reopen');
    const gone = await openIdbStore(name);
    const first = await createScheduler<Tasks>({ name, worker: tasksWorker, store: gone, pool: { max: 2 } });
    closeAfter({ close: () => first.close({ drain: false }) });
    first.pause();
    const ids = await first.enqueueMany(Array.from({ length: 700 }, (_, i) => ({ name: 'add' as const, input: { a: i, b: 1 } })));
    await gone.close(); // the tab's connection is gone; its scheduler can change nothing more

    const sched = await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 2 } });
    closeAfter({ close: () => sched.close({ drain: false }) });
    expect(sched.metrics().queued).toBe(700);
    await sched.drain();
    const results = await Promise.all(ids.map(async (id) => (await sched.get(id))?.result));
    expect(results).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
  });
});
