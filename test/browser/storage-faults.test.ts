import { afterEach, expect, test } from 'vitest';
import { cdp } from 'vitest/browser';
import { SCHEMA_VERSION } from '../../src/index.js';
import { dbName, deleteDb, deleteTestDbs, rawAll } from './idb-helpers.js';

afterEach(deleteTestDbs);

type HostState = {
  accepted: number;
  completed: number;
  settled: number;
  wrong: number;
  failed: string[];
  failedCount: number;
  warnings: string[];
  health: string;
  healthReason?: string;
  queued: number;
  running: number;
  ok?: boolean;
  error?: string;
};

const hosts: Worker[] = [];
afterEach(() => {
  for (const w of hosts.splice(0)) w.terminate();
});

/**
 * A scheduler in a thread of its own (fixtures/storage-host.worker.ts). `ask` rejects when that
 * thread does not answer in time: a scheduler that never gives its thread back fails the test
 * instead of hanging the page the test runs in.
 */
function host() {
  const worker = new Worker(new URL('./fixtures/storage-host.worker.ts', import.meta.url), { type: 'module' });
  hosts.push(worker);
  let seq = 0;
  const waiting = new Map<number, (m: HostState) => void>();
  worker.onmessage = (e: MessageEvent<HostState & { seq: number }>) => {
    waiting.get(e.data.seq)?.(e.data);
    waiting.delete(e.data.seq);
  };
  const ask = (command: Record<string, unknown>, timeoutMs = 5_000) =>
    new Promise<HostState>((resolve, reject) => {
      const n = ++seq;
      const timer = setTimeout(() => {
        waiting.delete(n);
        reject(new Error(`the scheduler's thread did not answer "${command.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(n, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.postMessage({ ...command, seq: n });
    });
  return { ask };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the database deleted by another page mid-run (600 tasks of 5–15 ms, pool of 2): the page stays responsive, the live queue is stored again, no task is lost', async () => {
  const db = dbName('deleted');
  const h = host();
  await h.ask({ type: 'start', db, n: 600, poolMax: 2 }, 20_000);
  while ((await h.ask({ type: 'ping' })).completed < 20) await sleep(10);

  // Another page deletes the database: this one lets it go at once (the delete is not blocked) …
  await deleteDb(db);
  // … and its thread keeps answering, promptly, while it opens the database again.
  const pings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await h.ask({ type: 'ping' }, 1_000);
    pings.push(performance.now() - t0);
    await sleep(20);
  }
  expect(Math.max(...pings)).toBeLessThan(250);

  // Calls keep working: a new task is stored in the new database and runs.
  const added = await h.ask({ type: 'enqueue' });
  expect(added.ok || added.error).toBe(true);

  const end = await h.ask({ type: 'drain' }, 30_000);
  expect(end).toMatchObject({ accepted: 601, settled: 601, wrong: 0, failedCount: 0, health: 'ok' });
  const reopened = end.warnings.filter((w) => /was lost \(another tab deleted it\): opened it again/.test(w));
  expect(reopened).toHaveLength(1);
  console.log(`[storage-faults] deleted mid-run: pings ${pings.map(Math.round).join('/')} ms; ${reopened[0]}`);

  // What the page announced after the delete is on disk: nothing is left queued or running.
  const onDisk = await rawAll(db);
  expect(onDisk.filter((r) => r.status !== 'completed')).toEqual([]);
  expect(onDisk.length).toBeGreaterThan(500);
  await h.ask({ type: 'close' });
});

test('the browser closes the connection mid-run (site data cleared: CDP Storage.clearDataForOrigin): responsive, reopened, what the page held is stored again, every other task fails with StorageError', async () => {
  const db = dbName('cleared');
  const h = host();
  await h.ask({ type: 'start', db, n: 600, poolMax: 2 }, 20_000);
  while ((await h.ask({ type: 'ping' })).completed < 20) await sleep(10);

  // Clearing the site's IndexedDB closes every connection to it (a `close` event) and deletes the data.
  await cdp().send('Storage.clearDataForOrigin', { origin: location.origin, storageTypes: 'indexeddb' });
  const pings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await h.ask({ type: 'ping' }, 1_000);
    pings.push(performance.now() - t0);
    await sleep(20);
  }
  expect(Math.max(...pings)).toBeLessThan(250);
  const added = await h.ask({ type: 'enqueue' }, 15_000);
  expect(added.ok || added.error).toBe(true);

  const end = await h.ask({ type: 'drain' }, 30_000);
  // Every task settles: the ones whose records this page held (read ahead for dispatch, running,
  // state changes not yet committed) run; those whose records were only on disk fail, by name.
  expect(end).toMatchObject({ accepted: 601, settled: 601, wrong: 0, health: 'ok' });
  expect(end.completed).toBeGreaterThan(300);
  for (const f of end.failed) expect(f).toMatch(/^StorageError: the stored record of task "sleep" \(.*\) is gone/);
  const reopened = end.warnings.filter((w) => /was lost \(the browser closed the connection.*\): opened it again/.test(w));
  expect(reopened).toHaveLength(1);
  console.log(
    `[storage-faults] cleared mid-run: pings ${pings.map(Math.round).join('/')} ms; ${end.completed} completed, ${end.failedCount} failed (records gone with the data); ${reopened[0]}`,
  );
  const onDisk = await rawAll(db);
  expect(onDisk.filter((r) => r.status !== 'completed' && r.status !== 'failed')).toEqual([]);
  await h.ask({ type: 'close' });
});

test('the database upgraded by a newer version in another page mid-run: it cannot be reopened, so the queue runs on from memory, health says so, and new tasks are refused by name', async () => {
  const db = dbName('upgraded');
  const h = host();
  await h.ask({ type: 'start', db, n: 300, poolMax: 2 }, 20_000);
  while ((await h.ask({ type: 'ping' })).completed < 20) await sleep(10);
  let blocked = false;
  const newer = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(db, SCHEMA_VERSION + 1);
    request.onblocked = () => (blocked = true);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  newer.close();
  expect(blocked).toBe(false);
  const t0 = performance.now();
  await h.ask({ type: 'ping' }, 1_000);
  expect(performance.now() - t0).toBeLessThan(250);
  const refused = await h.ask({ type: 'enqueue' });
  expect(refused.ok || refused.error).toMatch(
    /^StorageError: could not store 1 record\(s\): database ".*" is closed \(another tab is opening it at version 3/,
  );
  const end = await h.ask({ type: 'drain' }, 30_000);
  expect(end).toMatchObject({ accepted: 300, settled: 300, wrong: 0, failedCount: 0, health: 'degraded' });
  expect(end.healthReason).toMatch(/kept in memory only and will not survive a reload; new tasks are refused/);
  expect(end.warnings.filter((w) => /run on from memory/.test(w))).toHaveLength(1);
  console.log(`[storage-faults] upgraded mid-run: all 300 settled from memory; ${end.healthReason}`);
  await h.ask({ type: 'close' });
});
