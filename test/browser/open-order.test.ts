import { afterEach, describe, expect, test } from 'vitest';
import { createScheduler } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { tasksWorker } from './helpers.js';
import { closeOpened, dbName } from './idb-helpers.js';

afterEach(closeOpened);

/** A worker factory that counts its workers and whether each was terminated. */
function countingWorkers() {
  const made: { terminated: boolean }[] = [];
  const factory = () => {
    const worker = tasksWorker();
    const seen = { terminated: false };
    made.push(seen);
    const terminate = worker.terminate.bind(worker);
    worker.terminate = () => {
      seen.terminated = true;
      terminate();
    };
    return worker;
  };
  return { made, factory };
}

/** Creates database `name` at `version` with the stores version 4 had, and keeps it open (blocking any upgrade) until `close`. */
function holdAtVersion4(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 4);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('log');
      db.createObjectStore('schedules', { keyPath: 'id' });
      db.createObjectStore('summary');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

describe('open order', () => {
  test.each([false, true])('the worker module starts loading before storage has opened (shared: %s)', async (shared) => {
    const name = dbName(`early-pool-${shared}`);
    const held = await holdAtVersion4(name);
    const { made, factory } = countingWorkers();
    let opened = false;
    const warnings: Error[] = [];
    const creating = createScheduler<Tasks>({ name, worker: factory, pool: { max: 1 }, shared }).then((s) => {
      opened = true;
      return s;
    });
    // The upgrade to version 5 waits for `held` to close: the scheduler cannot have read storage yet.
    await new Promise((r) => setTimeout(r, 300));
    expect(opened).toBe(false);
    expect(made.length).toBe(1);
    held.close();
    const s = await creating;
    s.addEventListener('warning', (e) => warnings.push((e as unknown as { error: Error }).error));
    try {
      const task = await s.enqueue('echo', { value: 'hi' });
      expect(await task.result).toBe('hi');
      // The worker made early is the one that ran it.
      expect(made.length).toBe(1);
      expect(made[0]?.terminated).toBe(false);
    } finally {
      await s.close({ drain: false });
    }
  });

  test('a bad store option rejects with a TypeError before any worker starts', async () => {
    const { made, factory } = countingWorkers();
    await expect(
      createScheduler<Tasks>({ worker: factory, store: 'bogus' as unknown as 'memory', name: dbName('bad-store') }),
    ).rejects.toThrow(TypeError);
    await expect(
      createScheduler<Tasks>({ worker: factory, durability: 'eventual' as unknown as 'strict', name: dbName('bad-durability') }),
    ).rejects.toThrow(/options\.durability/);
    expect(made.length).toBe(0);
  });

  test('an open that fails after the worker started terminates that worker', async () => {
    const name = dbName('newer-db');
    // A database made by a newer tasklane: opening it at our version fails (VersionError).
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 99);
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    const { made, factory } = countingWorkers();
    await expect(createScheduler<Tasks>({ name, worker: factory, shared: false })).rejects.toMatchObject({ name: 'StorageError' });
    expect(made.length).toBe(1);
    expect(made[0]?.terminated).toBe(true);
  });
});
