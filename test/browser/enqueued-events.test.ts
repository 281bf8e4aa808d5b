import { afterEach, expect, test } from 'vitest';
import type { EnqueueItem, Scheduler, TaskEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { busyFor, closeAll, makeScheduler, sliceCounter } from './helpers.js';
import { dbName, deleteTestDbs } from './idb-helpers.js';

afterEach(async () => {
  await closeAll();
  await deleteTestDbs();
});

/** Every task event, as `type:id`, in delivery order; the batch's `enqueued` events kept whole. */
function record(s: Scheduler<Tasks>) {
  const log: string[] = [];
  const enqueued: TaskEvent[] = [];
  for (const type of ['enqueued', 'started', 'completed', 'cancelled'] as const)
    s.addEventListener(type, (e) => {
      log.push(`${type}:${e.task.id}`);
      if (type === 'enqueued') enqueued.push(e);
    });
  return { log, enqueued };
}

/** A big enqueueMany, running as it is announced: with a task enqueued and one cancelled while its events are delivered. */
async function bigBatch(s: Scheduler<Tasks>, n: number) {
  // Workers up first, so that tasks of the batch start while it is announced.
  await (await s.enqueue('noop', null)).result;
  const { log, enqueued } = record(s);
  const items = Array.from({ length: n }, (_, i): EnqueueItem<Tasks> => ({ name: 'add', input: { a: i, b: 1 } }));
  let extra: Promise<{ id: string }> | undefined;
  let cancelled: Promise<boolean> | undefined;
  // At the batch's first event, the rest of it still to be announced: a new task, and the first cancelled.
  const first = (e: TaskEvent) => {
    s.removeEventListener('enqueued', first);
    extra = s.enqueue('noop', null);
    cancelled = s.cancel(e.task.id);
  };
  s.addEventListener('enqueued', first);
  const ids = await s.enqueueMany(items);
  const late = await (extra as Promise<{ id: string }>);
  expect(await cancelled).toBe(true);
  await s.drain();
  return { ids, log, enqueued, late: late.id };
}

function expectInOrder(run: Awaited<ReturnType<typeof bigBatch>>) {
  const { ids, log, enqueued, late } = run;
  const batch = new Set(ids);
  // Every task of the batch announced once, in item order, as it was stored.
  const ofBatch = enqueued.filter((e) => batch.has(e.task.id));
  expect(ofBatch.map((e) => e.task.id)).toEqual(ids);
  expect(ofBatch.every((e) => e.task.status === 'queued' && e.task.name === 'add' && !('input' in e.task))).toBe(true);
  const at = new Map<string, number>();
  log.forEach((entry, i) => {
    if (!at.has(entry)) at.set(entry, i);
  });
  // What happened while the batch was announced is heard after all of it.
  const last = at.get(`enqueued:${ids[ids.length - 1]}`) as number;
  expect(at.get(`enqueued:${late}`)).toBeGreaterThan(last);
  expect(at.get(`cancelled:${ids[0]}`)).toBeGreaterThan(last);
  // No task is heard of starting, ending or being cancelled before it is heard of being enqueued.
  for (const [entry, i] of at) {
    const [type, id] = entry.split(':') as [string, string];
    if (type !== 'enqueued') expect(at.get(`enqueued:${id}`), entry).toBeLessThan(i);
  }
  expect(log.filter((entry) => entry.startsWith('enqueued:'))).toHaveLength(ids.length + 1);
}

test('a big persisted enqueueMany is announced whole and in order, what happens meanwhile heard after it', async () => {
  const s = await makeScheduler({ store: 'indexeddb', name: dbName('enqueued-events'), shared: false });
  expectInOrder(await bigBatch(s, 30_000));
});

test('the same on the memory store, where a later enqueue is stored at once', async () => {
  const s = await makeScheduler();
  expectInOrder(await bigBatch(s, 30_000));
});

test('a listener added while a big batch is announced hears the rest of it, in order', async () => {
  const s = await makeScheduler();
  s.pause();
  const n = 30_000;
  const late: string[] = [];
  const lateListener = (e: TaskEvent) => late.push(e.task.id);
  let seen = 0;
  s.addEventListener('enqueued', () => {
    if (seen++ === 0) s.addEventListener('enqueued', lateListener);
  });
  const ids = await s.enqueueMany(Array.from({ length: n }, () => ({ name: 'noop' as const, input: null })));
  expect(seen).toBe(n);
  // Added during the first event's dispatch: it hears from the second on.
  expect(late).toEqual(ids.slice(1));
});

test('a graph enqueueMany of 20k is announced in slices, one task each: every task once, in order, as stored', async () => {
  const s = await makeScheduler();
  s.pause();
  const n = 20_000;
  // Pairs: a root (queued) and a task that depends on it (waiting).
  const items = Array.from(
    { length: n },
    (_, i): EnqueueItem<Tasks> =>
      i % 2 === 0 ? { ref: `r${i}`, name: 'noop', input: null } : { name: 'noop', input: null, options: { dependsOn: [`r${i - 1}`] } },
  );
  const heard: TaskEvent[] = [];
  const slices = sliceCounter(s, 'enqueued');
  // A listener with work to do (10 µs an event, 200 ms in all): all of them in one task would be a long one.
  const work = busyFor(10);
  s.addEventListener('enqueued', (e) => {
    heard.push(e);
    work();
  });
  const ids = await s.enqueueMany(items);
  expect(heard.map((e) => e.task.id)).toEqual(ids);
  expect(heard.every((e, i) => e.task.status === (i % 2 === 0 ? 'queued' : 'waiting') && !('input' in e.task))).toBe(true);
  // Slices of about 8 ms: some 25 of them. Structural, not timed, so a busy machine cannot fail it:
  // before the graph's events were sliced, all 20,000 came in one task.
  expect(slices.reduce((a, b) => a + b, 0)).toBe(n);
  expect(slices.length, `events per slice: ${slices.join(', ')}`).toBeGreaterThan(3);
  expect(Math.max(...slices)).toBeLessThanOrEqual(n / 4);
});
