import { afterEach, expect, test } from 'vitest';
import { ManualClock, type Scheduler, type ScheduleSpec } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler, moduleLoaded, outcome } from './helpers.js';
import { dbName, deleteTestDbs } from './idb-helpers.js';
import { openTab, removeTabs } from './tab-frames.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 0, 0, 1);

afterEach(async () => {
  removeTabs();
  await closeAll();
  await new Promise((r) => setTimeout(r, 50));
  await deleteTestDbs();
});

/** The due times (ms after the hour) of the schedule runs stored in `s`. */
async function runsOf(s: Scheduler<Tasks>, scheduleId: string): Promise<number[]> {
  const tasks = await s.list({ limit: 10_000 });
  return tasks
    .filter((t) => t.id.startsWith(`schedule:${scheduleId}:`))
    .map((t) => Number(t.id.slice(`schedule:${scheduleId}:`.length)) - (T0 - 1_000))
    .sort((a, b) => a - b);
}

/**
 * A cron schedule every 5 minutes, on IndexedDB, with no tab open from 00:02 to 00:31 (a scheduler
 * closed, the clock moved, a new one opened on the same database): six runs fell due meanwhile.
 */
async function closedPeriod(misfire: ScheduleSpec['misfire']) {
  const name = dbName(`sched-${misfire}`);
  const clock = new ManualClock(T0);
  const first = await makeScheduler({ name, store: 'indexeddb', shared: false, clock });
  await first.schedule('report', 'add', { a: 1, b: 2 }, { cron: '*/5 * * * *', misfire });
  clock.advance(2 * MIN);
  await first.close();
  clock.advance(29 * MIN);
  const second = await makeScheduler({ name, store: 'indexeddb', shared: false, clock });
  // schedules() waits for the catch-up the open started.
  const [schedule] = await second.schedules();
  await second.drain();
  return { second, schedule, runs: await runsOf(second, 'report') };
}

test("a cron schedule across a closed period: 'skip' runs none of the missed runs", async () => {
  const { runs, schedule } = await closedPeriod('skip');
  expect(runs).toEqual([]);
  expect(schedule?.next).toBe(T0 - 1_000 + 35 * MIN);
});

test("a cron schedule across a closed period: 'once' runs the latest of them, once", async () => {
  const { runs, schedule, second } = await closedPeriod('once');
  expect(runs).toEqual([30 * MIN]);
  expect(schedule).toMatchObject({ count: 1, next: T0 - 1_000 + 35 * MIN, lastRun: T0 - 1_000 + 30 * MIN });
  const [task] = await second.list({ name: 'add' });
  expect([task?.status, task?.result, task?.key]).toEqual(['completed', 3, task?.id]);
});

test("a cron schedule across a closed period: 'all' runs each of them, and they all complete", async () => {
  const { runs, second } = await closedPeriod('all');
  expect(runs).toEqual([5, 10, 15, 20, 25, 30].map((m) => m * MIN));
  expect((await second.list({ status: 'completed' })).length).toBe(6);
});

test('calling schedule again with the same id, as a page does on each load, updates it and never duplicates it; it survives a reload', async () => {
  const name = dbName('sched-same');
  const clock = new ManualClock(T0);
  const s = await makeScheduler({ name, store: 'indexeddb', shared: false, clock });
  const a = await s.schedule('sync', 'add', { a: 1, b: 1 }, { every: 10_000, limit: 3 });
  clock.advance(10_000);
  await s.schedules();
  const b = await s.schedule('sync', 'add', { a: 2, b: 2 }, { every: 10_000, limit: 3 });
  expect([a.next, b.next, b.count, b.input]).toEqual([T0 + 10_000, T0 + 20_000, 1, { a: 2, b: 2 }]);
  await s.close();
  const reopened = await makeScheduler({ name, store: 'indexeddb', shared: false, clock });
  const listed = await reopened.schedules();
  expect(listed.map((x) => [x.id, x.count, x.next])).toEqual([['sync', 1, T0 + 20_000]]);
  clock.advance(20_000);
  await reopened.schedules();
  await reopened.drain();
  // One run before the reload (the old input), one after: two fell due meanwhile and 'once' (the default) runs the latest.
  expect(await runsOf(reopened, 'sync')).toEqual([11_000, 31_000]);
  const results = (await reopened.list({ name: 'add', limit: 10 })).map((t) => t.result).sort();
  expect(results).toEqual([2, 4]);
  expect((await reopened.schedules()).map((x) => [x.count, x.next])).toEqual([[2, T0 + 40_000]]);
});

test('bad schedule calls are refused with named errors and store nothing', async () => {
  const name = dbName('sched-bad');
  const s = await makeScheduler({ name, store: 'indexeddb', shared: false });
  await moduleLoaded(s);
  const calls: [string, () => Promise<unknown>][] = [
    ['malformed cron', () => s.schedule('x', 'add', { a: 1, b: 1 }, { cron: '99 * * * *' })],
    ['unknown zone', () => s.schedule('x', 'add', { a: 1, b: 1 }, { cron: '* * * * *', tz: 'Nowhere/Land' })],
    ['neither', () => s.schedule('x', 'add', { a: 1, b: 1 }, {})],
    ['negative every', () => s.schedule('x', 'add', { a: 1, b: 1 }, { every: -5 })],
    ['unknown task', () => s.schedule('x', 'nope' as 'add', { a: 1, b: 1 }, { every: 1_000 })],
    ['uncloneable input', () => s.schedule('x', 'add', { a: 1, b: () => 1 } as never, { every: 1_000 })],
    ['a key for its runs', () => s.schedule('x', 'add', { a: 1, b: 1 }, { every: 1_000, options: { key: 'k' } as never })],
    ['an ended window', () => s.schedule('x', 'add', { a: 1, b: 1 }, { every: 1_000, endAt: Date.now() - 1 })],
  ];
  const names: string[] = [];
  for (const [, call] of calls) {
    const r = await outcome(call());
    expect(r.ok).toBe(false);
    if (!r.ok) names.push(r.error.name);
  }
  expect(names).toEqual([
    'TypeError',
    'TypeError',
    'TypeError',
    'TypeError',
    'UnknownTaskError',
    'DataCloneError',
    'TypeError',
    'TypeError',
  ]);
  expect(await s.schedules()).toEqual([]);
  await s.close();
  const reopened = await makeScheduler({ name, store: 'indexeddb', shared: false });
  expect(await reopened.schedules()).toEqual([]);
});

test('two tabs over one queue, both scheduling the same id: each run is enqueued and run once, also across a change of leader', async () => {
  const name = dbName('sched-tabs');
  const channel = `beats-${Math.random().toString(36).slice(2)}`;
  let starts = 0;
  const listen = new BroadcastChannel(channel);
  listen.onmessage = (e: MessageEvent<{ phase: string }>) => {
    if (e.data.phase === 'start') starts++;
  };
  const tabs = [await openTab(), await openTab()];
  const schedulers: Scheduler<Tasks>[] = [];
  for (const tab of tabs) schedulers.push(await tab.api.open({ name }));
  const spec: ScheduleSpec = { every: 250, limit: 8, misfire: 'all' };
  const heard: number[] = [0, 0];
  schedulers.forEach((s, i) => {
    s.addEventListener('schedules', () => {
      heard[i] = (heard[i] ?? 0) + 1;
    });
  });
  for (const s of schedulers) await s.schedule('beat', 'counted', { channel, label: 'beat', ms: 0 }, spec);
  expect(await schedulers[1]?.schedules()).toHaveLength(1);
  // Mid-way the leader's tab closes: the other takes over and goes on from the schedule on disk.
  await new Promise((r) => setTimeout(r, 700));
  const leader = schedulers.findIndex((s) => s.leader.thisTab);
  expect(leader).toBeGreaterThanOrEqual(0);
  tabs[leader]?.frame.remove();
  const other = schedulers[1 - leader] as Scheduler<Tasks>;
  for (let i = 0; i < 200 && (await other.schedules().catch(() => [1])).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await other.schedules()).toEqual([]);
  await other.drain();
  await new Promise((r) => setTimeout(r, 200));
  listen.close();
  const runs = (await other.list({ limit: 100 })).filter((t) => t.id.startsWith('schedule:beat:'));
  expect(runs.length).toBe(8);
  expect(runs.every((t) => t.status === 'completed')).toBe(true);
  // Each run started once (a run cut off in the closed tab would start again, at least once: none was running long enough).
  expect(starts).toBe(8);
  // The follower heard the leader's schedule changes as events.
  expect(heard[1 - leader]).toBeGreaterThan(0);
});

test('a database deleted under the page (another tab, or the user clearing it) gets the schedules back when it is opened again', async () => {
  const name = dbName('sched-lost');
  const clock = new ManualClock(T0);
  const s = await makeScheduler({ name, store: 'indexeddb', shared: false, clock });
  await s.schedule('keep', 'add', { a: 1, b: 1 }, { every: MIN });
  const reopened = new Promise<void>((resolve) =>
    s.addEventListener('warning', (e) => /was lost \(another tab deleted it\): opened it again/.test(e.error.message) && resolve()),
  );
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
  await reopened;
  // A write after the reopen lands on the new database too.
  await s.schedule('later', 'add', { a: 2, b: 2 }, { every: MIN });
  await s.close();
  const fresh = await makeScheduler({ name, store: 'indexeddb', shared: false, clock });
  expect((await fresh.schedules()).map((x) => x.id).sort()).toEqual(['keep', 'later']);
});
