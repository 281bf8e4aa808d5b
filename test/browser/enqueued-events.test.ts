import { afterEach, expect, test } from 'vitest';
import type { EnqueueItem, Scheduler, TaskEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler } from './helpers.js';
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

test('a graph enqueueMany of 20k is announced in slices: every task once, in order, as stored, no long task from its delivery', async () => {
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
  /** [first, last] time a listener ran in each slice: a run of events with no turn of the microtask queue between them. */
  const slices: [number, number][] = [];
  let inSlice = false;
  let sink = 0;
  s.addEventListener('enqueued', (e) => {
    heard.push(e);
    const now = performance.now();
    if (!inSlice) {
      inSlice = true;
      slices.push([now, now]);
      queueMicrotask(() => {
        inSlice = false;
      });
    } else (slices[slices.length - 1] as [number, number])[1] = now;
    // A listener with work to do (a few µs an event): all 20k in one task would be a long task.
    for (let k = 0; k < 2_000; k++) sink += Math.sqrt(k + sink);
  });
  const long: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => long.push(...list.getEntries()));
  observer.observe({ type: 'longtask', buffered: false });
  await new Promise((r) => setTimeout(r, 0));
  const ids = await s.enqueueMany(items);
  await new Promise((r) => setTimeout(r, 0));
  long.push(...observer.takeRecords());
  observer.disconnect();
  expect(Number.isFinite(sink)).toBe(true);
  expect(heard.map((e) => e.task.id)).toEqual(ids);
  expect(heard.every((e, i) => e.task.status === (i % 2 === 0 ? 'queued' : 'waiting') && !('input' in e.task))).toBe(true);
  expect(slices.length).toBeGreaterThan(3);
  // The first slice runs in the task that admitted the batch (its graph worked out, stored, indexed:
  // that work is not the delivery's); from the second on, each slice is a task of its own.
  const [[, firstEnd], [secondStart]] = slices as [[number, number], [number, number]];
  const last = (slices[slices.length - 1] as [number, number])[1];
  const sliceMs = slices.map(([a, b]) => Math.round(b - a));
  expect(
    sliceMs.filter((ms) => ms > 25),
    `slices: ${sliceMs.join(', ')} ms`,
  ).toEqual([]);
  expect(firstEnd).toBeLessThan(secondStart);
  const during = long.filter((t) => t.startTime < last && t.startTime + t.duration > secondStart).map((t) => Math.round(t.duration));
  expect(during.filter((ms) => ms > 50)).toEqual([]);
});
