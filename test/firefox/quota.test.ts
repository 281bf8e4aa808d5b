import { afterEach, expect, test } from 'vitest';
import { createScheduler, openIdbStore, type WarningEvent } from '../../src/index.js';
import type { Tasks } from '../browser/fixtures/tasks.worker.js';
import { nextEvent, outcome, tasksWorker } from '../browser/helpers.js';

// Firefox's side of idb-store.test.ts's QuotaExceededError test, which needs Chromium's Storage Buckets.
// Here the quota is Firefox's own: scripts/test-firefox.mjs runs this file in a browser of its own whose
// temporary storage is limited (dom.quotaManager.temporaryStorage.fixedLimit, FIREFOX_QUOTA_KB).
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

test('a failed commit (QuotaExceededError, Firefox quota) rejects every write in it with StorageError, stores none, and the scheduler runs on', async () => {
  const name = `quota-${Date.now().toString(36)}`;
  const s = await openIdbStore(name);
  const sched = await createScheduler<Tasks>({ name, worker: tasksWorker, store: s, pool: { max: 2 } });
  closers.push(() => sched.close({ drain: false }));
  const warnings: Error[] = [];
  sched.addEventListener('warning', (e: WarningEvent) => warnings.push(e.error));
  const running = await sched.enqueue('sleep', { ms: 150, label: 'survived' });
  await nextEvent(sched, 'started');

  const noise = new Uint8Array(16 * 1024 * 1024); // incompressible, well above the limit
  for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
  const big = outcome(sched.enqueue('sumBytes', { bytes: noise.buffer }));
  const small = outcome(sched.enqueue('add', { a: 1, b: 2 })); // same commit as the big one
  for (const r of await Promise.all([big, small])) {
    expect(r.ok || [r.error.name, r.error.code]).toEqual(['StorageError', 'E_STORAGE']);
    expect(r.ok || (r.error.cause as DOMException).name).toBe('QuotaExceededError');
  }
  expect(s.stats.aborts).toBe(1);

  expect(await running.result).toBe('survived');
  expect(sched.metrics().health).toBe('ok');
  await sched.close();
  const check = await openIdbStore(name);
  const stored = await check.list({ limit: 10 });
  await check.close();
  expect(stored.map((r) => r.name)).toEqual(['sleep']);
  for (const w of warnings)
    expect([w.name, ((w.cause as Error).cause as DOMException).name]).toEqual(['StorageError', 'QuotaExceededError']);
  indexedDB.deleteDatabase(name);
});
