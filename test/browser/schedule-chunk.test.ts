import { afterEach, expect, test } from 'vitest';
import { closeAll, makeScheduler, moduleLoaded } from './helpers.js';
import { dbName, deleteTestDbs } from './idb-helpers.js';

afterEach(async () => {
  await closeAll();
  await deleteTestDbs();
});

/** Whether this page has fetched the repeat-schedule code (engine/repeat, engine/schedule-spec, croner). */
const scheduleCodeLoaded = () =>
  performance.getEntriesByType('resource').some((e) => /croner|engine\/repeat|engine\/schedule-spec/.test(e.name));

// One test, in order: the page's module graph is shared, so once the chunk is loaded it stays.
test('the schedule code loads only once there is a schedule: not for tasks, an empty list, an unschedule or a store with none', async () => {
  const memory = await makeScheduler();
  await moduleLoaded(memory);
  const idb = await makeScheduler({ name: dbName('chunk'), store: 'indexeddb', shared: false });
  expect(await (await memory.enqueue('add', { a: 1, b: 2 })).result).toBe(3);
  expect(await memory.schedules()).toEqual([]);
  expect(await idb.schedules()).toEqual([]);
  expect(await memory.unschedule('nope')).toBe(false);
  await expect(memory.unschedule('')).rejects.toThrow(TypeError);
  expect(scheduleCodeLoaded()).toBe(false);

  const info = await memory.schedule('beat', 'add', { a: 1, b: 1 }, { every: 60_000 });
  expect(info).toMatchObject({ id: 'beat', name: 'add', every: 60_000, count: 0 });
  expect(scheduleCodeLoaded()).toBe(true);
  expect((await memory.schedules()).map((s) => s.id)).toEqual(['beat']);
  expect(await memory.unschedule('beat')).toBe(true);
  expect(await memory.schedules()).toEqual([]);
});
