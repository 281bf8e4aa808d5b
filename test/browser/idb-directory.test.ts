import { afterEach, describe, expect, test } from 'vitest';
import type { TaskRecord } from '../../src/index.js';
import { closeOpened, completedAt, dbName, openTestStore, rawPutSegment, rawSegments, rawTx, record } from './idb-helpers.js';

afterEach(closeOpened);

const dirKeys = async (name: string) => ((await rawTx(name, 'readonly', (os) => os.getAllKeys(), 'dir')) ?? []).map(String).sort();
const logKeys = async (name: string) => (await rawSegments(name)).map((s) => String(s.key)).sort();

/** Every id a `recoverRuns` answer names, records and runs together. */
function recoveredIds(found: { records: TaskRecord[]; runs: { tasks: { size: number; id(i: number): string } }[] }) {
  const ids = found.records.map((r) => r.id);
  for (const run of found.runs) for (let i = 0; i < run.tasks.size; i++) ids.push(run.tasks.id(i));
  return ids.sort();
}

async function until(f: () => Promise<boolean>, ms = 5_000) {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('segment directory (schema v5)', () => {
  test('lists exactly the segments on disk through puts, supersedes, removes and segment deletions', async () => {
    const name = dbName('dir-same');
    const s = await openTestStore(name);
    await s.write(Array.from({ length: 1200 }, (_, i) => record({ id: `t${i}` })));
    expect(await dirKeys(name)).toEqual(await logKeys(name));
    expect((await dirKeys(name)).length).toBe(3);
    // Every version of the first segment superseded: the segment goes, and its entry with it.
    await s.write(Array.from({ length: 512 }, (_, i) => completedAt(record({ id: `t${i}` }), 1)));
    await until(async () => (await logKeys(name)).length === 3);
    expect(await dirKeys(name)).toEqual(await logKeys(name));
    await s.remove(Array.from({ length: 512 }, (_, i) => `t${i}`));
    await s.write(Array.from({ length: 688 }, (_, i) => completedAt(record({ id: `t${512 + i}` }), 1)));
    for (let i = 0; i < 20; i++) await s.write([record({ id: `solo${i}` })]);
    await s.close();
    expect(await dirKeys(name)).toEqual(await logKeys(name));
    const again = await openTestStore(name);
    expect(await again.checkDirectory()).toEqual({ missing: 0, stale: 0 });
    const found = await again.recoverRuns();
    expect(recoveredIds(found)).toEqual(Array.from({ length: 20 }, (_, i) => `solo${i}`).sort());
  });

  test('a version 4 database (no directory) gets one filled from its segments on open', async () => {
    const name = dbName('dir-v4');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 4);
      request.onupgradeneeded = () => {
        const db = request.result;
        const log = db.createObjectStore('log');
        db.createObjectStore('schedules', { keyPath: 'id' });
        db.createObjectStore('summary');
        log.put({ records: [record({ id: 'v4-a' }), record({ id: 'v4-b' })] }, [1, 0]);
        log.put({ records: [record({ id: 'v4-c' })] }, [1, 1]);
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    const s = await openTestStore(name);
    expect(recoveredIds(await s.recoverRuns())).toEqual(['v4-a', 'v4-b', 'v4-c']);
    expect(await dirKeys(name)).toEqual(['1,0', '1,1']);
  });

  test('a segment missing from the directory is not lost: the check lists it, warns, and the next open recovers it', async () => {
    const name = dbName('dir-missing');
    const s = await openTestStore(name);
    await s.write([record({ id: 'listed' })]);
    await s.close();
    // A segment on disk with no directory entry (a broken invariant), and an entry with no segment.
    await rawTx(name, 'readwrite', (os) => os.put({ records: [record({ id: 'unlisted' })] }, [9, 0]));
    await rawTx(name, 'readwrite', (os) => os.put(0, [9, 5]), 'dir');
    const warnings: Error[] = [];
    const first = await openTestStore(name, { onWarning: (e) => warnings.push(e) });
    expect(recoveredIds(await first.recoverRuns())).toEqual(['listed']);
    expect(await first.checkDirectory()).toEqual({ missing: 1, stale: 1 });
    expect(warnings.map((w) => [w.name, (w as { code?: string }).code])).toEqual([['StorageError', 'E_STORAGE']]);
    expect(warnings[0]?.message).toMatch(/1 missing, 1 stale/);
    expect(await dirKeys(name)).toEqual(await logKeys(name));
    expect(await first.checkDirectory()).toEqual({ missing: 0, stale: 0 });
    await first.close();
    const second = await openTestStore(name);
    expect(recoveredIds(await second.recoverRuns())).toEqual(['listed', 'unlisted']);
  });

  test('a corrupt value under a listed key is reported as an unreadable segment, as before', async () => {
    const name = dbName('dir-corrupt');
    const s = await openTestStore(name);
    await s.write([record({ id: 'fine' })]);
    await s.close();
    await rawPutSegment(name, [0.5, 0], 'not a segment');
    const warnings: Error[] = [];
    const again = await openTestStore(name, { onWarning: (e) => warnings.push(e) });
    expect(recoveredIds(await again.recoverRuns())).toEqual(['fine']);
    await new Promise((r) => setTimeout(r, 0));
    expect(warnings.map((w) => w.name)).toContain('CorruptRecordError');
  });
});
