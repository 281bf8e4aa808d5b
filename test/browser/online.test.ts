import { afterEach, expect, test } from 'vitest';
import { closeAll, makeScheduler, moduleLoaded } from './helpers.js';
import { dbName, deleteTestDbs, rawAll } from './idb-helpers.js';

/**
 * The browser going offline and back, as the page sees it: `navigator.onLine` and the `offline` /
 * `online` events. (CDP's network emulation would also cut this test page off from Vitest's server.)
 */
async function network(offline: boolean): Promise<void> {
  Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => !offline });
  if (!offline) delete (navigator as { onLine?: boolean }).onLine;
  window.dispatchEvent(new Event(offline ? 'offline' : 'online'));
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

afterEach(async () => {
  await network(false);
  await closeAll();
  await deleteTestDbs();
});

test("an online-only task waits through an offline period holding no worker, and starts on the 'online' event", async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  await moduleLoaded(s);
  await network(true);
  await until(() => navigator.onLine === false);
  const online = await s.enqueue('add', { a: 1, b: 2 }, { requires: 'online', priority: 'critical' });
  // The only worker is not held by it: a plain task behind it runs.
  const plain = await s.enqueue('add', { a: 2, b: 2 }, { priority: 'low' });
  expect(await plain.result).toBe(4);
  await new Promise((r) => setTimeout(r, 200));
  expect(online.status).toBe('queued');
  const back = performance.now();
  await network(false);
  expect(await online.result).toBe(3);
  // On the event, not at the next 5 s recheck.
  expect(performance.now() - back).toBeLessThan(2_000);
});

test('an attempt that fails while offline is not counted: the task waits for the network and runs again', async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  await moduleLoaded(s);
  const retry = { attempts: 1 };
  // Control: the same failure while online is counted, and one attempt is all it has.
  const counted = await s.enqueue('failOnce', { key: 'online', ms: 0 }, { requires: 'online', retry });
  await expect(counted.result).rejects.toThrow(/network went away/);
  const task = await s.enqueue('failOnce', { key: 'offline', ms: 300 }, { requires: 'online', retry });
  await until(() => task.status === 'running');
  await network(true);
  await until(() => task.status === 'retrying');
  await new Promise((r) => setTimeout(r, 200));
  expect(task.status).toBe('retrying');
  await network(false);
  expect(await task.result).toBe(1);
  const record = await s.inspect(task.id);
  expect(record?.attempt).toBe(1);
  expect(record?.errors).toHaveLength(1);
});

test("online already: an online-only task runs as any other; a bad 'requires' is refused, nothing stored", async () => {
  const s = await makeScheduler();
  expect(await (await s.enqueue('add', { a: 1, b: 1 }, { requires: 'online' })).result).toBe(2);
  const settle = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: Error) => e,
    );
  const bad = await settle(s.enqueue('add', { a: 1, b: 1 }, { requires: 'wifi' as never }));
  expect(bad).toBeInstanceOf(TypeError);
  expect(bad?.message).toMatch(/requires to be 'online', got "wifi"/);
  const badItem = await settle(s.enqueueMany([{ name: 'add', input: { a: 1, b: 1 }, options: { requires: 5 as never } }]));
  expect(badItem?.message).toMatch(/items\[0\]\.options\.requires/);
  expect(await s.list({ limit: 100 })).toHaveLength(1);
});

test('requires is stored with the task (IndexedDB), for a batch too, so it holds after a reload', async () => {
  const name = dbName('online');
  const s = await makeScheduler({ name, store: 'indexeddb', shared: false });
  s.pause();
  const one = await s.enqueue('add', { a: 1, b: 1 }, { requires: 'online' });
  const many = await s.enqueueMany(
    Array.from({ length: 5000 }, (_, i) => ({
      name: 'add' as const,
      input: { a: i, b: 0 },
      options: i % 2 ? { requires: 'online' as const } : undefined,
    })),
  );
  expect((await s.inspect(one.id))?.requires).toBe('online');
  await s.close({ drain: false });
  const stored = new Map((await rawAll(name)).map((r) => [r.id, r]));
  expect(stored.get(one.id)?.requires).toBe('online');
  expect(stored.get(many[1] as string)?.requires).toBe('online');
  expect(stored.get(many[0] as string)?.requires).toBeUndefined();
});
