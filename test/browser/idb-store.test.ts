import { afterEach, describe, expect, test } from 'vitest';
import { createScheduler, type IdbStore, openIdbStore, SCHEMA_VERSION, type Scheduler, type WarningEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { nextEvent, outcome, tasksWorker } from './helpers.js';
import { closeAfter, closeOpened, dbName, openTestStore, rawAll, rawPut, record } from './idb-helpers.js';

afterEach(closeOpened);

async function scheduler(name: string, s?: IdbStore, options: { maxStalls?: number } = {}): Promise<Scheduler<Tasks>> {
  const sched = await createScheduler<Tasks>({ name, worker: tasksWorker, store: s ?? 'indexeddb', pool: { max: 2 }, ...options });
  closeAfter({ close: () => sched.close({ drain: false }) });
  return sched;
}

/** The Storage Buckets API (Chromium 122+), not yet in TypeScript's DOM types. */
interface StorageBuckets {
  open(name: string, options?: { quota?: number }): Promise<{ indexedDB: IDBFactory }>;
  delete(name: string): Promise<void>;
}

const bytesOf = async (blob: Blob) => [...new Uint8Array(await blob.arrayBuffer())];

describe('IdbStore', () => {
  test('a write is read back as a copy: later mutation of the written object changes nothing stored', async () => {
    const s = await openTestStore(dbName('copy'));
    const r = record({ id: 'a' });
    const write = s.write([r]);
    r.status = 'failed';
    const [back] = await s.read(['a', 'missing']);
    await write;
    expect(back?.status).toBe('queued');
    expect(await s.read(['missing'])).toEqual([undefined]);
  });

  test('Blob and ArrayBuffer inputs round-trip through the store and a reopen, and a worker gets them whole', async () => {
    const name = dbName('blob');
    const blob = new Blob([new Uint8Array([1, 2, 3, 250])], { type: 'application/x-test' });
    const buffer = new Uint8Array([5, 6, 7]).buffer;
    const first = await openIdbStore(name);
    await first.write([
      record({ id: 'blob', name: 'sumBytes', input: { bytes: blob } }),
      record({ id: 'buf', name: 'sumBytes', input: { bytes: buffer } }),
    ]);
    await first.close();

    const again = await openTestStore(name);
    const [b, a] = (await again.read(['blob', 'buf'])) as unknown as [{ input: { bytes: Blob } }, { input: { bytes: ArrayBuffer } }];
    expect(b.input.bytes).toBeInstanceOf(Blob);
    expect(b.input.bytes.type).toBe('application/x-test');
    expect(await bytesOf(b.input.bytes)).toEqual([1, 2, 3, 250]);
    expect(a.input.bytes).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(a.input.bytes)]).toEqual([5, 6, 7]);
    await again.close();

    // A scheduler opening the database runs them: the worker sees the Blob's size and the buffer's bytes.
    const sched = await scheduler(name);
    const [hb, ha] = await Promise.all([sched.get('blob'), sched.get('buf')]);
    expect(await hb?.result).toBe(4);
    expect(await ha?.result).toBe(18);
  });

  test('group commit: 1,000 concurrent enqueues share a handful of transactions, not 1,000', async () => {
    const name = dbName('group');
    const s = await openTestStore(name);
    const sched = await scheduler(name, s);
    await sched.enqueue('noop', null); // the worker module is loaded: task names are known
    sched.pause();
    const before = s.stats.transactions;
    const handles = await Promise.all(Array.from({ length: 1000 }, (_, i) => sched.enqueue('add', { a: i, b: 1 })));
    const used = s.stats.transactions - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThanOrEqual(3);
    expect((await s.list({ status: 'queued', limit: 5000 })).length).toBeGreaterThanOrEqual(999);
    sched.resume();
    const results = await Promise.all(handles.map((h) => h.result));
    expect(results[999]).toBe(1000);
  });

  test('enqueueMany writes in one transaction, all or nothing; a bad record aborts only its own write', async () => {
    const name = dbName('many');
    const s = await openTestStore(name);
    const sched = await scheduler(name, s);
    await (await sched.enqueue('noop', null)).result;
    sched.pause();

    let before = s.stats.transactions;
    const ids = await sched.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ name: 'add' as const, input: { a: i, b: 0 } })));
    // At most one: it may share the transaction of the turn it lands in.
    expect(s.stats.transactions - before).toBeLessThanOrEqual(1);
    expect(ids).toHaveLength(500);

    // A WebAssembly.Module passes structuredClone (so enqueue's check) but IndexedDB refuses to store
    // it: a DataCloneError from one put, which Chromium does not turn into an abort by itself.
    const module = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    before = s.stats.transactions;
    const bystander = sched.enqueue('add', { a: 40, b: 2 }); // same turn, same transaction
    const bad = outcome(
      sched.enqueueMany([
        { name: 'add', input: { a: 1, b: 1 } },
        { name: 'add', input: { a: 2, b: 2 } },
        { name: 'echo', input: { value: module } },
      ]),
    );
    const r = await bad;
    expect(r.ok || [r.error.name, r.error.code]).toEqual(['StorageError', 'E_STORAGE']);
    expect(r.ok || (r.error.cause as DOMException).name).toBe('DataCloneError');
    const ok = await bystander;
    expect(s.stats.transactions - before).toBe(2); // the aborted one and its replay
    const stored = await rawAll(name);
    expect(stored).toHaveLength(502); // the first noop, the 500, the bystander: nothing of the failed batch
    expect(stored.some((rec) => rec.name === 'echo')).toBe(false);
    sched.resume();
    expect(await ok.result).toBe(42);
  });

  test('a failed commit (QuotaExceededError) rejects every write in it with StorageError, stores none, and the scheduler runs on', async () => {
    // A real quota: a Storage Bucket of its own, limited to 1 MB.
    const buckets = (navigator as unknown as { storageBuckets: StorageBuckets }).storageBuckets;
    const bucketName = `tasklane-quota-${Date.now().toString(36)}`;
    const bucket = await buckets.open(bucketName, { quota: 1024 * 1024 });
    try {
      const name = 'quota';
      const s = await openIdbStore(name, { factory: bucket.indexedDB });
      const sched = await scheduler(name, s);
      const warnings: Error[] = [];
      sched.addEventListener('warning', (e) => warnings.push(e.error));
      const running = await sched.enqueue('sleep', { ms: 150, label: 'survived' });
      await nextEvent(sched, 'started');

      const noise = new Uint8Array(4 * 1024 * 1024); // incompressible: Chromium compresses large values
      for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
      const big = outcome(sched.enqueue('sumBytes', { bytes: noise.buffer }));
      const small = outcome(sched.enqueue('add', { a: 1, b: 2 })); // same commit as the big one
      for (const r of await Promise.all([big, small])) {
        expect(r.ok || [r.error.name, r.error.code]).toEqual(['StorageError', 'E_STORAGE']);
        expect(r.ok || (r.error.cause as DOMException).name).toBe('QuotaExceededError');
      }
      expect(s.stats.aborts).toBe(1);

      // The scheduler runs on with what it had.
      expect(await running.result).toBe('survived');
      expect(sched.metrics().health).toBe('ok');
      await sched.close();
      // Nothing half-written: no record of the failed commit is stored. (Chromium may keep counting
      // the aborted 4 MB against the bucket for a moment, so later small commits can fail too: those
      // are state changes, reported as warnings, never thrown.)
      const check = await openIdbStore(name, { factory: bucket.indexedDB });
      const stored = await check.list({ limit: 10 });
      await check.close();
      expect(stored.map((r) => r.name)).toEqual(['sleep']);
      for (const w of warnings)
        expect([w.name, ((w.cause as Error).cause as DOMException).name]).toEqual(['StorageError', 'QuotaExceededError']);
    } finally {
      await buckets.delete(bucketName);
    }
  });

  test('versionchange: an old connection closes itself and warns instead of blocking the new one; the scheduler runs on', async () => {
    const name = dbName('version');
    const sched = await scheduler(name);
    const warning = nextEvent<WarningEvent>(sched, 'warning');
    const running = await sched.enqueue('sleep', { ms: 100, label: 'still ran' });
    await nextEvent(sched, 'started');

    let blocked = false;
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, SCHEMA_VERSION + 1);
      request.onblocked = () => (blocked = true);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    upgraded.close();
    expect(blocked).toBe(false);
    const w = await warning;
    expect(w.error.name).toBe('StorageError');
    expect(w.error.message).toContain(`another tab is opening it at version ${SCHEMA_VERSION + 1}`);

    const r = await outcome(sched.enqueue('noop', null));
    expect(r.ok || [r.error.name, r.error.message]).toEqual(['StorageError', expect.stringMatching(/is closed/)]);
    expect(await running.result).toBe('still ran');
  });

  test('close({ drain: false }) after the database was taken away still stops the workers and resolves', async () => {
    const name = dbName('gone');
    const sched = await scheduler(name);
    sched.pause();
    await sched.enqueue('noop', null);
    await sched.enqueue('noop', null);
    const warned = nextEvent<WarningEvent>(sched, 'warning');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
    await warned;
    await sched.close({ drain: false });
    expect(sched.workers()).toEqual([]);
    expect(sched.metrics().health).toBe('closed');
  });

  test('a corrupt or unknown-schema record is moved to failed with CorruptRecordError; recovery goes on', async () => {
    const name = dbName('corrupt');
    await (await openIdbStore(name)).close();
    await rawPut(name, [
      record({ id: 'good', name: 'add', input: { a: 1, b: 1 } }),
      { ...record({ id: 'bad-priority' }), priority: 9 },
      { ...record({ id: 'bad-status' }), status: 'zombie' },
      { id: 'no-status', name: 'echo', input: { value: 1 } },
      { ...record({ id: 'numeric-status' }), status: 7, errors: 'nope' },
      { id: 'v99', schema: 99, payload: [1, 2, 3] },
    ]);
    const sched = await scheduler(name);
    const warning = await nextEvent<WarningEvent>(sched, 'warning');
    expect([warning.error.name, (warning.error as { code?: string }).code]).toEqual(['CorruptRecordError', 'E_CORRUPT_RECORD']);
    expect(warning.error.message).toMatch(/^5 stored record/);

    expect(await (await sched.get('good'))?.result).toBe(2);
    for (const id of ['bad-priority', 'bad-status', 'no-status', 'numeric-status', 'v99']) {
      const handle = await sched.get(id);
      const r = await outcome(handle?.result as Promise<unknown>);
      expect(r.ok || [r.error.name, r.error.code]).toEqual(['CorruptRecordError', 'E_CORRUPT_RECORD']);
      expect(handle?.status).toBe('failed');
    }
    const info = await sched.inspect('bad-priority');
    expect(info?.errors.at(-1)?.message).toMatch(/priority is 9, expected an integer 0\.\.4/);
    expect(info?.input).toEqual({ value: 'bad-priority' });
    expect((await sched.list({ status: 'failed' })).length).toBe(5);
  });

  test('a task left running by a dead owner is re-queued with a stalled error and runs again; one stalled too often fails', async () => {
    const name = dbName('stall');
    await (await openIdbStore(name)).close();
    const lease = (owner: string) => ({ owner, until: Date.now() + 60_000 }); // an unexpired lease: the lock decides
    // An owner that is still alive: this page holds its lock.
    let releaseAlive!: () => void;
    const aliveLock = `tasklane:${name}:owner:alive`;
    await new Promise<void>((held) => {
      void navigator.locks.request(aliveLock, () => {
        held();
        return new Promise<void>((r) => (releaseAlive = r));
      });
    });
    await rawPut(name, [
      record({ id: 'ghost', name: 'flaky', input: { succeedOn: 1 }, status: 'running', attempt: 1, lease: lease('ghost-owner') }),
      record({
        id: 'twice',
        name: 'flaky',
        input: { succeedOn: 1 },
        status: 'running',
        attempt: 2,
        stalls: 1,
        lease: lease('ghost-owner'),
      }),
      record({ id: 'alive', name: 'flaky', input: { succeedOn: 1 }, status: 'running', attempt: 1, lease: lease('alive') }),
    ]);
    try {
      const sched = await scheduler(name);
      const ghost = await sched.get('ghost');
      expect(await ghost?.result).toBe(2); // ctx.attempt: the stalled run counted
      const info = await sched.inspect('ghost');
      expect(info?.attempt).toBe(2);
      expect(info?.stalls).toBe(1);
      expect(info?.errors.map((e) => [e.name, e.code, e.attempt])).toEqual([['StalledError', 'E_STALLED', 1]]);

      const twice = await sched.get('twice');
      const r = await outcome(twice?.result as Promise<unknown>);
      expect(r.ok || [r.error.name, r.error.code]).toEqual(['StalledError', 'E_STALLED']);
      expect((await sched.inspect('twice'))?.status).toBe('failed');

      // The live owner's task is not touched.
      const alive = await sched.inspect('alive');
      expect([alive?.status, alive?.attempt, alive?.errors.length]).toEqual(['running', 1, 0]);
    } finally {
      releaseAlive();
    }
  });

  test('maxStalls: 0 fails a stalled task at once', async () => {
    const name = dbName('stall0');
    await (await openIdbStore(name)).close();
    await rawPut(name, [record({ id: 'ghost', status: 'running', attempt: 1, lease: { owner: 'gone', until: 0 } })]);
    const sched = await scheduler(name, undefined, { maxStalls: 0 });
    const r = await outcome((await sched.get('ghost'))?.result as Promise<unknown>);
    expect(r.ok || r.error.name).toBe('StalledError');
    expect(sched.metrics().failed).toBe(1);
  });

  test('retention deletes the oldest terminal records beyond the limits, in batches, and never a live one', async () => {
    const name = dbName('trim');
    const s = await openTestStore(name);
    const terminal = [];
    for (let i = 0; i < 1200; i++) terminal.push(record({ id: `c${i}`, status: 'completed', finishedAt: 10_000 + i }));
    const others = ['failed', 'cancelled', 'skipped'] as const;
    for (let i = 0; i < 30; i++) terminal.push(record({ id: `f${i}`, status: others[i % 3], finishedAt: 20_000 + i }));
    await s.write([...terminal, record({ id: 'live' }), record({ id: 'live-run', status: 'running', attempt: 1 })]);

    expect(await s.trim({ completed: 100, failed: 10 })).toBe(1100 + 20);
    const left = await rawAll(name);
    const ids = new Set(left.map((r) => r.id));
    expect(left.filter((r) => r.status === 'completed').map((r) => r.id)).toHaveLength(100);
    expect(ids.has('c1100') && ids.has('c1199') && !ids.has('c1099')).toBe(true);
    expect([...ids].filter((id) => id.startsWith('f')).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `f${20 + i}`).sort());
    expect(ids.has('live') && ids.has('live-run')).toBe(true);
    expect(await s.trim({ completed: 100, failed: 10 })).toBe(0);
  });

  test('dispatch reads ahead: most tasks are dispatched from prefetched records', async () => {
    const name = dbName('prefetch');
    const s = await openTestStore(name);
    const sched = await scheduler(name, s);
    await sched.enqueue('noop', null);
    sched.pause();
    await sched.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ name: 'add' as const, input: { a: i, b: 0 } })));
    const reads = s.stats.reads;
    sched.resume();
    await sched.drain();
    expect(s.stats.prefetchHits).toBeGreaterThan(200);
    expect(s.stats.reads - reads).toBeLessThan(50);
  });

  test('falls back to memory, with a warning, where IndexedDB is unavailable', async () => {
    const own = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB');
    Object.defineProperty(globalThis, 'indexedDB', {
      configurable: true,
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
    let sched: Scheduler<Tasks>;
    try {
      sched = await scheduler(dbName('fallback'));
    } finally {
      if (own) Object.defineProperty(globalThis, 'indexedDB', own);
      else delete (globalThis as { indexedDB?: unknown }).indexedDB;
    }
    const warning = await nextEvent<WarningEvent>(sched, 'warning');
    expect(warning.error.name).toBe('StorageError');
    expect(warning.error.message).toMatch(/kept in memory only/);
    expect(((warning.error.cause as Error).cause as DOMException).name).toBe('SecurityError');
    const t = await sched.enqueue('add', { a: 1, b: 1 });
    expect(await t.result).toBe(2);
  });

  test("durability 'strict' commits too", async () => {
    const name = dbName('strict');
    const sched = await createScheduler<Tasks>({ name, worker: tasksWorker, durability: 'strict', pool: { max: 1 } });
    closeAfter({ close: () => sched.close() });
    const t = await sched.enqueue('add', { a: 3, b: 4 });
    expect(await t.result).toBe(7);
    await expect(createScheduler({ name, worker: tasksWorker, durability: 'fast' as 'strict' })).rejects.toThrow(
      "Expected options.durability to be 'relaxed' or 'strict', got \"fast\"",
    );
  });
});
