import { afterEach, expect, test } from 'vitest';
import { createScheduler, ManualClock, type TaskEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler, nextEvent, outcome, tasksWorker } from './helpers.js';
import { closeAfter, closeOpened, completedAt, dbName, openTestStore, rawAll, record } from './idb-helpers.js';
import { openTab, removeTabs } from './tab-frames.js';

/**
 * Idempotency modes on real workers and real IndexedDB: `keyTtlMs` keeps a finished task's key
 * deduping (in the page, and after the queue is opened again from disk) until it runs out, and
 * `onDuplicate: 'replace'` changes the input a task that has not started runs with, on disk before
 * `enqueue` resolves. Bad options are refused with nothing stored.
 */

// biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls
type Loose = any;

afterEach(async () => {
  await closeAll();
  await closeOpened();
  removeTabs();
});

test('keyTtlMs: a finished task keeps deduping its key for that long, then the key is free', async () => {
  const clock = new ManualClock(1_000_000);
  const s = await makeScheduler({ clock });
  const first = await s.enqueue('echo', { value: 'first' }, { key: 'report', keyTtlMs: 5_000 });
  expect(await first.result).toBe('first');
  expect(first.status).toBe('completed');
  clock.advance(4_999);
  const again = await s.enqueue('echo', { value: 'second' }, { key: 'report', keyTtlMs: 5_000 });
  expect(again.id).toBe(first.id);
  expect(await again.result).toBe('first');
  expect(s.metrics().submitted).toBe(1);
  clock.advance(1);
  const fresh = await s.enqueue('echo', { value: 'third' }, { key: 'report' });
  expect(fresh.id).not.toBe(first.id);
  expect(await fresh.result).toBe('third');
  expect(s.metrics().submitted).toBe(2);

  // A discarded task frees its key at once.
  const held = await s.enqueue('echo', { value: 'held' }, { key: 'other', keyTtlMs: 60_000 });
  await held.result;
  expect((await s.enqueue('echo', { value: 'dup' }, { key: 'other' })).id).toBe(held.id);
  expect(await s.discard(held.id)).toBe(true);
  const afterDiscard = await s.enqueue('echo', { value: 'after discard' }, { key: 'other' });
  expect(afterDiscard.id).not.toBe(held.id);
  expect(await afterDiscard.result).toBe('after discard');
});

test('without keyTtlMs a finished task frees its key at once; a cancelled one frees it even with keyTtlMs', async () => {
  const s = await makeScheduler();
  const first = await s.enqueue('echo', { value: 1 }, { key: 'k' });
  await first.result;
  const second = await s.enqueue('echo', { value: 2 }, { key: 'k' });
  expect(second.id).not.toBe(first.id);
  expect(await second.result).toBe(2);

  s.pause();
  const cancelled = await s.enqueue('echo', { value: 3 }, { key: 'c', keyTtlMs: 60_000 });
  expect(await cancelled.cancel()).toBe(true);
  const after = await s.enqueue('echo', { value: 4 }, { key: 'c', keyTtlMs: 60_000 });
  expect(after.id).not.toBe(cancelled.id);
  s.resume();
  expect(await after.result).toBe(4);
});

test('keyTtlMs holds after the queue is opened again from IndexedDB, and runs out by the stored finish time', async () => {
  const name = dbName('key-ttl');
  const open = async (at: number) =>
    closeAfter(await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 1 }, clock: new ManualClock(at) }));
  const a = await open(1_000_000);
  const first = await a.enqueue('echo', { value: 'stored' }, { key: 'sync:1', keyTtlMs: 10_000 });
  expect(await first.result).toBe('stored');
  const other = await a.enqueue('echo', { value: 'no ttl' }, { key: 'sync:2' });
  await other.result;
  await a.close();
  const onDisk = (await rawAll(name)).find((r) => r.id === first.id);
  expect([onDisk?.status, onDisk?.keyTtlMs, onDisk?.finishedAt]).toEqual(['completed', 10_000, 1_000_000]);

  // Opened again 9,999 ms after it finished: the key still names the finished task.
  const b = await open(1_009_999);
  const again = await b.enqueue('echo', { value: 'not run' }, { key: 'sync:1', keyTtlMs: 10_000 });
  expect(again.id).toBe(first.id);
  expect(again.status).toBe('completed');
  expect(await again.result).toBe('stored');
  // A key stored without keyTtlMs dedupes only while its task is live.
  const two = await b.enqueue('echo', { value: 'ran' }, { key: 'sync:2' });
  expect(two.id).not.toBe(other.id);
  expect(await two.result).toBe('ran');
  expect(b.metrics().submitted).toBe(1);
  await b.close();

  // Opened again 10,000 ms after: the hold has run out, a new task runs.
  const c = await open(1_010_000);
  const fresh = await c.enqueue('echo', { value: 'new' }, { key: 'sync:1' });
  expect(fresh.id).not.toBe(first.id);
  expect(await fresh.result).toBe('new');
});

test("onDuplicate 'replace': a queued task runs with the new input, stored before enqueue resolves", async () => {
  const name = dbName('replace');
  const s = closeAfter(await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 1 }, shared: false }));
  s.pause();
  const original = await s.enqueue('echo', { value: 'old' }, { key: 'draft', priority: 'high' });
  const replaced = await s.enqueue('echo', { value: 'new' }, { key: 'draft', onDuplicate: 'replace', priority: 'low' });
  expect(replaced.id).toBe(original.id);
  // On disk already, before anything else happens.
  const onDisk = (await rawAll(name)).filter((r) => r.id === original.id);
  expect(onDisk.map((r) => [r.status, r.input, r.priority])).toEqual([['queued', { value: 'new' }, 1]]);
  // The default, 'return', leaves it as it is.
  const returned = await s.enqueue('echo', { value: 'ignored' }, { key: 'draft' });
  expect(returned.id).toBe(original.id);
  expect((await s.inspect(original.id))?.input).toEqual({ value: 'new' });
  expect(s.metrics().submitted).toBe(1);
  s.resume();
  expect(await original.result).toBe('new');
});

test("onDuplicate 'replace' and reprioritize of one task at once: both changes are kept", async () => {
  for (const store of ['memory', 'indexeddb'] as const) {
    const name = dbName('replace-reprioritize');
    const s = closeAfter(await createScheduler<Tasks>({ name, store, worker: tasksWorker, pool: { max: 1 }, shared: false }));
    s.pause();
    const task = await s.enqueue('echo', { value: 'old' }, { key: 'both' });
    const [replaced, moved] = await Promise.all([
      s.enqueue('echo', { value: 'new' }, { key: 'both', onDuplicate: 'replace' }),
      s.reprioritize(task.id, 'low'),
      s.reprioritize(task.id, 'background'),
    ]);
    expect([replaced.id, moved]).toEqual([task.id, true]);
    const info = await s.inspect(task.id);
    expect([store, info?.input, info?.priority]).toEqual([store, { value: 'new' }, 4]);
    s.resume();
    expect(await task.result).toBe('new');
  }
});

test("onDuplicate 'replace' leaves a running or finished task as it is, and refuses a task of another name", async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  const started = nextEvent<TaskEvent>(s, 'started');
  const running = await s.enqueue('sleep', { ms: 100, label: 'as enqueued' }, { key: 'job', keyTtlMs: 60_000 });
  await started;
  const whileRunning = await s.enqueue('sleep', { ms: 1, label: 'replacement' }, { key: 'job', onDuplicate: 'replace' });
  expect(whileRunning.id).toBe(running.id);
  expect(await running.result).toBe('as enqueued');
  const afterFinish = await s.enqueue('sleep', { ms: 1, label: 'too late' }, { key: 'job', onDuplicate: 'replace' });
  expect(afterFinish.id).toBe(running.id);
  expect((await s.inspect(running.id))?.input).toEqual({ ms: 100, label: 'as enqueued' });

  s.pause();
  const queued = await s.enqueue('echo', { value: 'x' }, { key: 'named' });
  const wrong = await outcome(s.enqueue('sleep', { ms: 1 }, { key: 'named', onDuplicate: 'replace' }));
  expect(wrong.ok ? 'accepted' : [wrong.error.name, wrong.error.message]).toEqual([
    'TypeError',
    `Expected enqueue("sleep") with onDuplicate 'replace' to name the task that holds its key, got task ${queued.id} of "echo"`,
  ]);
  expect((await s.inspect(queued.id))?.input).toEqual({ value: 'x' });
  expect(s.metrics().submitted).toBe(2);
});

test('bad keyTtlMs or onDuplicate is refused with a TypeError, and nothing is stored', async () => {
  const name = dbName('bad-key-options');
  const s = closeAfter(await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 1 }, shared: false }));
  const enqueue = s.enqueue.bind(s) as Loose;
  const cases: [Record<string, unknown>, string][] = [
    [{ keyTtlMs: 1_000 }, 'Expected key with keyTtlMs (it says what a key does), got no key'],
    [{ onDuplicate: 'replace' }, 'Expected key with onDuplicate (it says what a key does), got no key'],
    [{ key: 'k', keyTtlMs: -5 }, 'Expected keyTtlMs to be a finite number >= 0, got -5'],
    [{ key: 'k', keyTtlMs: Number.NaN }, 'Expected keyTtlMs to be a finite number >= 0, got NaN'],
    [{ key: 'k', keyTtlMs: Number.POSITIVE_INFINITY }, 'Expected keyTtlMs to be a finite number >= 0, got Infinity'],
    [{ key: 'k', keyTtlMs: '60s' }, 'Expected keyTtlMs to be a finite number >= 0, got "60s"'],
    [{ key: 'k', onDuplicate: 'merge' }, "Expected onDuplicate to be 'return' or 'replace', got \"merge\""],
    [{ key: 'k', onDupliate: 'replace' }, 'Expected no option "onDupliate" (did you mean "onDuplicate"?)'],
  ];
  for (const [options, message] of cases) {
    const got = await outcome(enqueue('echo', { value: 1 }, options));
    expect(got.ok ? 'accepted' : [got.error.name, got.error.message]).toEqual(['TypeError', message]);
  }
  const many = await outcome(s.enqueueMany([{ name: 'echo', input: { value: 1 }, options: { keyTtlMs: 5 } as Loose }]));
  expect(many.ok ? 'accepted' : [many.error.name, many.error.message]).toEqual([
    'TypeError',
    'Expected items[0].options.key with items[0].options.keyTtlMs (it says what a key does), got no key',
  ]);
  expect(s.metrics().submitted).toBe(0);
  expect(await s.list()).toEqual([]);
  expect(await rawAll(name)).toEqual([]);
});

test('IndexedDB retention passes over a finished task whose key is held, and a reopened store hands it to recovery', async () => {
  const name = dbName('key-retention');
  const store = await openTestStore(name);
  const held = completedAt(record({ id: 'held', key: 'k', keyTtlMs: 10_000 }), 1_000);
  const others = Array.from({ length: 4 }, (_, i) => completedAt(record({ id: `x${i}` }), 1_001 + i));
  await store.write([held, ...others]);
  // Five completed, one kept: the four oldest go, but the held one is passed over, so the others go.
  expect(await store.trim({ completed: 1, failed: 0, now: 5_000 })).toBe(4);
  expect((await rawAll(name)).map((r) => r.id)).toEqual(['held']);
  await store.close();

  const reopened = await openTestStore(name);
  expect((await reopened.recoverKeys()).map((r) => [r.id, r.key, r.keyTtlMs])).toEqual([['held', 'k', 10_000]]);
  // Once the hold has run out, it is trimmed like any other.
  expect(await reopened.trim({ completed: 0, failed: 0, now: 10_999 })).toBe(0);
  expect(await reopened.trim({ completed: 0, failed: 0, now: 11_000 })).toBe(1);
  expect(await rawAll(name)).toEqual([]);
});

test("across tabs: a follower's keyTtlMs and onDuplicate calls are applied by the leader", async () => {
  const name = dbName('key-tabs');
  const leader = closeAfter(await createScheduler<Tasks>({ name, worker: tasksWorker, pool: { max: 1 } }));
  expect(leader.leader.thisTab).toBe(true);
  const { api } = await openTab();
  const follower = closeAfter(await api.open({ name }));
  expect(follower.leader.thisTab).toBe(false);

  const first = await follower.enqueue('echo', { value: 'once' }, { key: 'tab-key', keyTtlMs: 60_000 });
  expect(await first.result).toBe('once');
  const again = await follower.enqueue('echo', { value: 'twice' }, { key: 'tab-key' });
  expect(again.id).toBe(first.id);
  expect(await again.result).toBe('once');
  // The leader's own call finds the key the follower's task holds.
  expect((await leader.enqueue('echo', { value: 'leader' }, { key: 'tab-key' })).id).toBe(first.id);

  await follower.pause();
  const queued = await follower.enqueue('echo', { value: 'old' }, { key: 'tab-replace' });
  const replaced = await follower.enqueue('echo', { value: 'new' }, { key: 'tab-replace', onDuplicate: 'replace' });
  expect(replaced.id).toBe(queued.id);
  await follower.resume();
  expect(await queued.result).toBe('new');

  const bad = await outcome(follower.enqueue('echo', { value: 1 }, { keyTtlMs: 5 } as Loose));
  expect(bad.ok ? 'accepted' : [bad.error.name, bad.error.message]).toEqual([
    'TypeError',
    'Expected key with keyTtlMs (it says what a key does), got no key',
  ]);
  expect(leader.metrics().submitted).toBe(2);
});
