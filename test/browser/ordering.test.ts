import { afterEach, expect, test } from 'vitest';
import { type EnqueueItem, ManualClock, type TaskEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler, nextEvent } from './helpers.js';

afterEach(closeAll);

function startedLog(target: EventTarget): string[] {
  const log: string[] = [];
  target.addEventListener('started', (e) => log.push(String((e as TaskEvent).task.id)));
  return log;
}

test('one worker runs ready tasks by priority, FIFO within a priority', async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  s.pause();
  const order: [string, 'critical' | 'high' | 'normal' | 'low' | 'background' | 0 | 1 | 2 | 3 | 4][] = [
    ['bg-1', 'background'],
    ['n-1', 'normal'],
    ['c-1', 'critical'],
    ['low-1', 3],
    ['n-2', 2],
    ['h-1', 'high'],
    ['c-2', 0],
    ['bg-2', 4],
  ];
  const ids = new Map<string, string>();
  for (const [label, priority] of order) {
    const t = await s.enqueue('sleep', { ms: 1, label }, { priority });
    ids.set(t.id, label);
  }
  const log = startedLog(s);
  s.resume();
  await s.drain();
  expect(log.map((id) => ids.get(id))).toEqual(['c-1', 'c-2', 'h-1', 'n-1', 'n-2', 'low-1', 'bg-1', 'bg-2']);
});

test('a delayed task waits for its time without blocking ready ones, then runs by priority', async () => {
  const clock = new ManualClock(1_000_000);
  const s = await makeScheduler({ pool: { max: 1 }, clock });
  s.pause();
  const delayed = await s.enqueue('echo', { value: 'delayed' }, { priority: 'critical', delayMs: 150 });
  const ready = await s.enqueue('echo', { value: 'ready' }, { priority: 'background' });
  const log = startedLog(s);
  s.resume();
  expect(await ready.result).toBe('ready');
  clock.advance(149);
  await new Promise((r) => setTimeout(r, 20));
  expect(delayed.status).toBe('queued');
  clock.advance(1);
  expect(await delayed.result).toBe('delayed');
  expect(log).toEqual([ready.id, delayed.id]);
});

test('runAt as a Date and as epoch ms are honoured', async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  const at = Date.now() + 100;
  const started = nextEvent<TaskEvent>(s, 'started');
  const a = await s.enqueue('echo', { value: 1 }, { runAt: new Date(at) });
  const b = await s.enqueue('echo', { value: 2 }, { runAt: at });
  expect((await started).task.startedAt).toBeGreaterThanOrEqual(at - 5);
  expect(await a.result).toBe(1);
  expect(await b.result).toBe(2);
});

test('the claim priority exists for: with 2 workers busy and 100 background tasks queued, a critical task starts as soon as a worker frees', async () => {
  const s = await makeScheduler({ pool: { max: 2 } });
  const bothBusy = new Promise<void>((resolve) => {
    let n = 0;
    s.addEventListener('started', () => ++n === 2 && resolve());
  });
  await s.enqueue('sleep', { ms: 300 }, { priority: 'background' });
  await s.enqueue('sleep', { ms: 300 }, { priority: 'background' });
  await bothBusy;
  const queued = await s.enqueueMany(
    Array.from({ length: 100 }, () => ({ name: 'sleep' as const, input: { ms: 20 }, options: { priority: 'background' as const } })),
  );
  const log = startedLog(s);
  const critical = await s.enqueue('sleep', { ms: 1, label: 'critical' }, { priority: 'critical' });
  expect(await critical.result).toBe('critical');
  expect(log[0]).toBe(critical.id);
  expect(queued).not.toContain(log[0]);
  await s.drain();
  expect(log).toHaveLength(101);
});

test('a big enqueueMany keeps priority, then FIFO order; a task enqueued while it is prepared orders after all of it', async () => {
  const s = await makeScheduler({ store: 'memory' });
  s.pause();
  const n = 60_000;
  const lane = (i: number) => (i % 2 ? 'low' : 'normal') as 'low' | 'normal';
  const many = s.enqueueMany(Array.from({ length: n }, (_, i) => ({ name: 'noop' as const, input: null, options: { priority: lane(i) } })));
  const later = s.enqueue('noop', null, { priority: 'normal' });
  const ids = await many;
  const late = await later;
  expect(ids).toHaveLength(n);
  expect(new Set(ids).size).toBe(n);
  const { lanes } = s.peekLanes(2);
  expect(lanes[2]?.count).toBe(n / 2 + 1);
  expect(lanes[2]?.top.map((p) => p.id)).toEqual([ids[0], ids[2]]);
  expect(lanes[3]?.top.map((p) => p.id)).toEqual([ids[1], ids[3]]);
  const [first, last, lateInfo] = await Promise.all([s.inspect(ids[0] as string), s.inspect(ids[n - 2] as string), s.inspect(late.id)]);
  expect((last?.seq ?? 0) - (first?.seq ?? 0)).toBe(n - 2);
  expect(lateInfo?.seq).toBeGreaterThan(last?.seq ?? Number.POSITIVE_INFINITY);
  expect(lateInfo?.runAt).toBeGreaterThanOrEqual(last?.runAt ?? Number.POSITIVE_INFINITY);
});

test('a big batch in the memory store (held by position, not by id) runs to the end: records move on, a cancel sticks, retention trims', async () => {
  const s = await makeScheduler({ store: 'memory', retention: { completed: 1_000, failed: 10 } });
  s.pause();
  const n = 6_000;
  const ids = await s.enqueueMany(Array.from({ length: n }, () => ({ name: 'noop' as const, input: null })));
  expect((await s.inspect(ids[4_321] as string))?.status).toBe('queued');
  expect(await s.cancel(ids[3_000] as string)).toBe(true);
  const handle = await s.get(ids[n - 1] as string);
  s.resume();
  await s.drain();
  await expect(handle?.result).resolves.toBeNull();
  expect(s.metrics()).toMatchObject({ completed: n - 1, cancelled: 1, queued: 0 });
  expect((await s.inspect(ids[3_000] as string))?.status).toBe('cancelled');
  expect((await s.inspect(ids[n - 1] as string))?.status).toBe('completed');
  // Retention trims the oldest completed records, at most 256 terminal tasks behind. (The last task
  // enqueued need not be the last to finish, two workers each having a few queued: it is among the newest 1,000.)
  await expect.poll(async () => (await s.list({ status: 'completed', limit: n })).length).toBeLessThanOrEqual(1_000 + 256);
  expect(await s.inspect(ids[0] as string)).toBeUndefined();
});

test('a runAt beyond what setTimeout can hold waits (re-armed), it does not fire at once', async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  const far = await s.enqueue('echo', { value: 'far' }, { delayMs: 2 ** 31 + 60_000 });
  const near = await s.enqueue('echo', { value: 'near' }, { delayMs: 20 });
  expect(await near.result).toBe('near');
  await new Promise((r) => setTimeout(r, 50));
  expect(far.status).toBe('queued');
  expect(s.metrics().queued).toBe(1);
});

test('reprioritize moves a waiting task to another lane; running or finished tasks are not moved', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  s.pause();
  const a = await s.enqueue('echo', { value: 'a' }, { priority: 'low' });
  const b = await s.enqueue('echo', { value: 'b' }, { priority: 'low' });
  const c = await s.enqueue('echo', { value: 'c' }, { priority: 'normal' });
  const moved = nextEvent<TaskEvent>(s, 'reprioritized');
  expect(await s.reprioritize(b.id, 'critical')).toBe(true);
  expect((await moved).task).toMatchObject({ id: b.id, priority: 0 });
  expect(await s.reprioritize(a.id, 3)).toBe(true);
  await expect(s.reprioritize(a.id, 'urgent' as 'low')).rejects.toThrow(TypeError);
  const log = startedLog(s);
  s.resume();
  await s.drain();
  expect(log).toEqual([b.id, c.id, a.id]);
  expect(await s.reprioritize(a.id, 'critical')).toBe(false);
  expect((await s.inspect(b.id))?.priority).toBe(0);
});

test('a big enqueueMany (held as lanes) runs in priority order through cancels, reprioritizations and a delay', async () => {
  const clock = new ManualClock(1_000_000);
  const s = await makeScheduler({ pool: { max: 1 }, clock });
  s.pause();
  const n = 5_000;
  const levels = [4, 2, 0, 3, 1] as const;
  const ids = await s.enqueueMany(
    Array.from({ length: n }, (_, i): EnqueueItem<Tasks> => {
      const options = i % 10 === 9 ? { priority: levels[i % 5], delayMs: 50 } : { priority: levels[i % 5] };
      return i % 2 ? { name: 'noop', input: null, options } : { name: 'echo', input: { value: i }, options };
    }),
  );
  expect(s.metrics().queued).toBe(n);
  const cancelled = new Set([ids[0], ids[2], ids[4_999], ids[1_234]]);
  for (const id of cancelled) expect(await s.cancel(id as string)).toBe(true);
  // Task 1 (priority 2) moves to critical; task 3 (priority 3) to background.
  expect(await s.reprioritize(ids[1] as string, 'critical')).toBe(true);
  expect(await s.reprioritize(ids[3] as string, 4)).toBe(true);
  expect((await s.get(ids[7] as string))?.status).toBe('queued');
  expect(s.metrics().queued).toBe(n - cancelled.size);
  // The panel's summary: counts per priority, each lane's next two, the delayed ones counted.
  const priorityOf = (i: number): number => (i === 1 ? 0 : i === 3 ? 4 : (levels[i % 5] as number));
  const waitingIdx = ids.map((_, i) => i).filter((i) => i % 10 === 9 && !cancelled.has(ids[i]));
  const peek = s.peekLanes(2);
  expect(peek.waitingCount).toBe(waitingIdx.length);
  expect(peek.waiting.map((t) => t.id)).toEqual(waitingIdx.slice(0, 2).map((i) => ids[i]));
  for (let p = 0; p < 5; p++) {
    const mine = ids.map((_, i) => i).filter((i) => priorityOf(i) === p && !cancelled.has(ids[i]));
    const ready = mine.filter((i) => i % 10 !== 9);
    expect(peek.lanes[p]?.count).toBe(mine.length);
    expect(peek.lanes[p]?.top.map((t) => t.id)).toEqual(ready.slice(0, 2).map((i) => ids[i]));
  }
  const log = startedLog(s);
  s.resume();
  // The delayed tasks become due only once every ready one has started.
  const readyCount = ids.filter((id, i) => i % 10 !== 9 && !cancelled.has(id)).length;
  while (log.length < readyCount) await new Promise((r) => setTimeout(r, 5));
  clock.advance(50);
  await s.drain();
  const position = new Map(ids.map((id, i) => [id, i]));
  const ran = log.map((id) => position.get(id) as number);
  expect(ran.length).toBe(n - cancelled.size);
  expect(ran.some((i) => cancelled.has(ids[i]))).toBe(false);
  // Every ready task first, by priority then enqueue order; the delayed ones after, the same way.
  const sorted = (xs: number[]) => [...xs].sort((a, b) => priorityOf(a) - priorityOf(b) || a - b);
  const ready = ran.filter((i) => i % 10 !== 9);
  const delayed = ran.filter((i) => i % 10 === 9);
  expect(ran).toEqual([...sorted(ready), ...sorted(delayed)]);
});

test('a big enqueueMany on the memory store, its records made on demand: a late enqueued listener, retries and results all see the same tasks', async () => {
  const s = await makeScheduler({ pool: { max: 2 } });
  s.pause();
  const n = 5_000;
  const items = Array.from(
    { length: n },
    (_, i): EnqueueItem<Tasks> =>
      i % 100 === 0
        ? { name: 'flaky', input: { succeedOn: 2 }, options: { retry: { attempts: 3, backoff: { kind: 'fixed', delayMs: 1 } } } }
        : { name: 'add', input: { a: i, b: 1 } },
  );
  const enqueued: string[] = [];
  const pending = s.enqueueMany(items);
  // Added while the batch is being stored: it still hears every task of it.
  s.addEventListener('enqueued', (e) => enqueued.push(e.task.id));
  const ids = await pending;
  expect(enqueued).toEqual(ids);
  // A handle made now reads the stored record; the same record is read again when it runs.
  const probe = await s.get(ids[1] as string);
  expect(probe?.status).toBe('queued');
  // Listed by name, from the batch's names column (its records not made yet are not made to be filtered).
  const flaky = ids.filter((_, i) => i % 100 === 0);
  expect((await s.list({ name: 'flaky', limit: 1000 })).map((t) => t.id)).toEqual(flaky);
  expect((await s.list({ name: 'add', limit: 3 })).map((t) => t.id)).toEqual(ids.slice(1, 4));
  expect(await s.list({ name: 'echo' })).toEqual([]);
  const retried: string[] = [];
  s.addEventListener('retrying', (e) => retried.push(e.task.id));
  s.resume();
  await s.drain();
  expect(probe?.status).toBe('completed');
  expect(await probe?.result).toBe(2);
  // The last 300 (retention keeps the newest 1,000 completed).
  const results = await Promise.all(ids.slice(n - 300).map(async (id) => (await s.get(id))?.result));
  expect(results).toEqual(Array.from({ length: 300 }, (_, k) => ((n - 300 + k) % 100 === 0 ? 2 : n - 300 + k + 1)));
  expect(retried.sort()).toEqual(ids.filter((_, i) => i % 100 === 0).sort());
  expect(s.metrics().completed).toBe(n);
});
