import { afterEach, describe, expect, test } from 'vitest';
import { createScheduler, type TaskEvent, type TaskRecord } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { tasksWorker } from './helpers.js';
import { closeAfter, closeOpened, completedAt, dbName, openTestStore, rawPut, rawSegments, rawTx, record } from './idb-helpers.js';

afterEach(closeOpened);

/** Runs `fn` on the `summary` store of `name` and waits for the transaction. */
const onSummaries = <T>(name: string, mode: IDBTransactionMode, fn: (os: IDBObjectStore) => IDBRequest<T> | undefined) =>
  rawTx(name, mode, fn, 'summary');

/** The values of the `summary` store: each group's key and the segment keys of its parts. */
async function groupsOf(name: string): Promise<{ key: string; parts: string[] | undefined }[]> {
  const keys = (await onSummaries(name, 'readonly', (os) => os.getAllKeys())) ?? [];
  const values = (await onSummaries(name, 'readonly', (os) => os.getAll())) ?? [];
  return keys.map((key, i) => {
    const v = values[i] as { v?: number; parts?: [IDBValidKey, unknown][] };
    return { key: String(key), parts: v?.v === 2 && Array.isArray(v.parts) ? v.parts.map(([k]) => String(k)) : undefined };
  });
}
/** Segment keys some stored group holds a summary of. */
const covered = async (name: string) => [...new Set((await groupsOf(name)).flatMap((g) => g.parts ?? []))].sort();
const segmentKeys = async (name: string) => (await rawSegments(name)).map((s) => String(s.key)).sort();
/** Every segment has a summary in a group, and every group holds one of a segment still there. */
async function summariesTrue(name: string): Promise<boolean> {
  const segments = await segmentKeys(name);
  const groups = await groupsOf(name);
  const cover = new Set(groups.flatMap((g) => g.parts ?? []));
  return segments.every((k) => cover.has(k)) && groups.every((g) => g.parts?.some((k) => segments.includes(k)));
}

/** Every id a `recoverRuns` answer names, records and runs together. */
async function recoveredIds(found: { records: TaskRecord[]; runs: { tasks: { size: number; id(i: number): string } }[] }) {
  const ids = found.records.map((r) => r.id);
  for (const run of found.runs) for (let i = 0; i < run.tasks.size; i++) ids.push(run.tasks.id(i));
  return ids.sort();
}

/** Waits until `f()` holds, for at most `ms`. */
async function until(f: () => Promise<boolean>, ms = 5_000) {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('segment summaries (schema v4)', () => {
  test('the segments of a commit that hold queued tasks have their summaries in one group; a group goes with its last segment', async () => {
    const name = dbName('sum-pair');
    const s = await openTestStore(name);
    await s.write(Array.from({ length: 1200 }, (_, i) => record({ id: `t${i}` })));
    expect(await covered(name)).toEqual(await segmentKeys(name));
    expect((await groupsOf(name)).length).toBe(1);
    const firstCommit = (await groupsOf(name))[0]?.key;
    // All of the first segment's versions superseded by finished ones: it goes, its group stays for
    // the other two. A segment of state changes only (no queued task) gets no summary: an open reads
    // it whole, as it must a running task's anyway.
    await s.write(Array.from({ length: 512 }, (_, i) => completedAt(record({ id: `t${i}` }), 1)));
    await until(async () => (await segmentKeys(name)).length === 3);
    expect((await groupsOf(name)).map((g) => g.key)).toEqual([firstCommit]);
    const segments = await segmentKeys(name);
    // Its two segments still there are covered; the new one of finished tasks is not.
    expect((await covered(name)).filter((k) => segments.includes(k)).length).toBe(2);
    // Every task of the first commit finished: its segments all go, and its group with them.
    await s.write(Array.from({ length: 688 }, (_, i) => completedAt(record({ id: `t${512 + i}` }), 1)));
    await until(async () => (await groupsOf(name)).length === 0);
    expect((await segmentKeys(name)).length).toBe(3);
    // 40 commits of a queued task each: 40 groups, and a reopen reads the finished ones whole, once.
    for (let i = 0; i < 40; i++) await s.write([record({ id: `solo${i}` })]);
    expect((await groupsOf(name)).length).toBe(40);
    await s.close();
    const again = await openTestStore(name);
    const found = await again.recoverRuns();
    expect(found.records).toEqual([]);
    expect(found.runs.reduce((n, r) => n + r.tasks.size, 0)).toBe(40);
    await until(() => summariesTrue(name));
  });

  test('reopening: queued tasks come as runs without their records; running, keyed and tagged ones are right too', async () => {
    const name = dbName('sum-runs');
    const first = await openTestStore(name);
    const plain = Array.from({ length: 1000 }, (_, i) => record({ id: `q-${i.toString(36)}`, seq: 10_000 + i, runAt: 5 }));
    await first.write(plain);
    await first.write([
      record({ id: 'keyed', key: 'k1', group: 'api', seq: 1 }),
      record({ id: 'ghost', status: 'running', attempt: 1, lease: { owner: 'gone', until: 0 }, seq: 2 }),
      completedAt(record({ id: 'fin', seq: 3 }), 9),
    ]);
    await first.close();
    const second = await openTestStore(name);
    const found = await second.recoverRuns();
    expect(await recoveredIds(found)).toEqual([...plain.map((r) => r.id), 'ghost', 'keyed'].sort());
    // Only the running one is read whole; the rest are known from summaries, minted runs included.
    expect(found.records.map((r) => r.id)).toEqual(['ghost']);
    const run = found.runs.find((r) => r.tasks.id(0) === 'q-0');
    expect(run?.minted).toEqual({ prefix: 'q-', first: 0 });
    expect([run?.tasks.seq(999), run?.tasks.runAt(3), run?.tasks.name(7), run?.tasks.priority(0)]).toEqual([10_999, 5, 'echo', 2]);
    const keyedRun = found.runs.find((r) => r.tasks.id(0) === 'keyed');
    expect(keyedRun?.extras).toEqual([[0, { key: 'k1', group: 'api' }]]);
    // Their records are all still there for dispatch to read.
    expect(((await second.read([`q-${(999).toString(36)}`, 'keyed'])) as TaskRecord[]).map((r) => r?.input)).toEqual([
      { value: `q-${(999).toString(36)}` },
      { value: 'keyed' },
    ]);
  });

  test('a scheduler opening a queue known from summaries runs every task once, in order, and a stored key still dedupes', async () => {
    const name = dbName('sum-sched');
    const store = await openTestStore(name);
    await store.write(Array.from({ length: 1500 }, (_, i) => record({ id: `p-${i.toString(36)}`, input: { value: i }, seq: 100 + i })));
    await store.write([
      record({ id: 'high', input: { value: 'high' }, priority: 1, seq: 5000 }),
      record({ id: 'keyed', input: { value: 'keyed' }, key: 'once', seq: 6000 }),
    ]);
    await store.close();
    const b = closeAfter(await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 1 } }));
    const order: string[] = [];
    b.addEventListener('started', (e) => order.push((e as TaskEvent).task.id));
    const again = await b.enqueue('echo', { value: 'keyed again' }, { key: 'once' });
    expect(again.id).toBe('keyed');
    expect(await again.result).toBe('keyed');
    await until(async () => order.length === 1502, 30_000);
    expect(order).toEqual(['high', ...Array.from({ length: 1500 }, (_, i) => `p-${i.toString(36)}`), 'keyed']);
    // A new task is minted after every recovered seq: it runs last.
    const late = await b.enqueue('echo', { value: 'late' });
    expect(await late.result).toBe('late');
    expect(order.at(-1)).toBe(late.id);
  });

  test('tasks recovered from summaries keep their limits group: a concurrency 1 group on a pool of 3 runs one at a time', async () => {
    const name = dbName('sum-group');
    const channel = `sum-group-${Math.random()}`;
    const store = await openTestStore(name);
    // One minted run, so it comes back by position; every other task in the group "g".
    await store.write(
      Array.from({ length: 12 }, (_, i) =>
        record({
          id: `g-${i.toString(36)}`,
          name: 'counted',
          input: { channel, label: `t${i}`, ms: 30 },
          seq: 100 + i,
          ...(i % 2 ? {} : { group: 'g' }),
        }),
      ),
    );
    await store.close();
    const bc = new BroadcastChannel(channel);
    const running = new Map<string, number>();
    let now = 0;
    let maxInGroup = 0;
    let maxAll = 0;
    let ends = 0;
    bc.onmessage = (e: MessageEvent<{ phase: string; label: string }>) => {
      if (e.data.phase === 'start') {
        running.set(e.data.label, 1);
        now++;
        maxAll = Math.max(maxAll, now);
        maxInGroup = Math.max(maxInGroup, [...running.keys()].filter((l) => Number(l.slice(1)) % 2 === 0).length);
      } else {
        running.delete(e.data.label);
        now--;
        ends++;
      }
    };
    try {
      closeAfter(await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 3, min: 3 }, limits: { g: { concurrency: 1 } } }));
      await until(async () => ends === 12, 20_000);
      expect(maxInGroup).toBe(1);
      // The ungrouped half used the other workers meanwhile.
      expect(maxAll).toBeGreaterThan(1);
    } finally {
      bc.close();
    }
  });

  test('a version 3 database (segments, no summaries) opens whole once, then gets summaries: the next open reads none whole', async () => {
    const name = dbName('sum-v3');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 3);
      request.onupgradeneeded = () => {
        const db = request.result;
        const log = db.createObjectStore('log');
        db.createObjectStore('schedules', { keyPath: 'id' });
        log.put({ records: Array.from({ length: 300 }, (_, i) => record({ id: `v3-${i}` })) }, [1, 0]);
        log.put({ records: [record({ id: 'v3-running', status: 'running', attempt: 1, lease: { owner: 'gone', until: 0 } })] }, [1, 1]);
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    const first = await openTestStore(name);
    const whole = await first.recoverRuns();
    expect(whole.runs).toEqual([]);
    expect(whole.records.length).toBe(301);
    await until(async () => (await covered(name)).length === 2);
    expect((await groupsOf(name)).length).toBe(1);
    await first.close();
    const second = await openTestStore(name);
    const lean = await second.recoverRuns();
    expect(await recoveredIds(lean)).toEqual(await recoveredIds(whole));
    expect(lean.records.map((r) => r.id)).toEqual(['v3-running']);
  });

  test('an unreadable summary is passed over (its segment is read whole) and a summary whose segment is gone is deleted', async () => {
    const name = dbName('sum-bad');
    const s = await openTestStore(name);
    await s.write(Array.from({ length: 10 }, (_, i) => record({ id: `b${i}` })));
    await s.close();
    const [key] = (await onSummaries(name, 'readonly', (os) => os.getAllKeys())) ?? [];
    await onSummaries(name, 'readwrite', (os) =>
      os.put({ v: 2, parts: [[(key as number[]).slice(), { v: 1, n: 'ten' }]] }, key as IDBValidKey),
    );
    await onSummaries(name, 'readwrite', (os) => os.put({ v: 1, n: 0 }, [0.5, 7]));
    await onSummaries(name, 'readwrite', (os) => os.put({ v: 2, parts: [[[0.25, 1], { v: 1, n: 0 }]] }, [0.25, 1]));
    // A segment planted by hand has no summary either.
    await rawPut(name, [record({ id: 'planted' })]);
    const again = await openTestStore(name);
    const found = await again.recoverRuns();
    expect(found.records.map((r) => r.id).sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `b${i}`), 'planted'].sort());
    // The bad summary is replaced, the planted segment gets one, the strays go.
    await until(async () => (await summariesTrue(name)) && (await groupsOf(name)).every((g) => !g.key.startsWith('0.')));
    await again.close();
    const third = await openTestStore(name);
    expect((await third.recoverRuns()).records).toEqual([]);
  });
});
