import { afterEach, expect, test } from 'vitest';
import { MemoryStore, type TaskEvent, type WorkerEvent } from '../../src/index.js';
import { busyFor, closeAll, makeScheduler, nextEvent, outcome, sliceCounter } from './helpers.js';

afterEach(closeAll);

test('cancelling a queued task removes it at once; it never runs', async () => {
  const s = await makeScheduler({ store: 'memory' });
  s.pause();
  const t = await s.enqueue('echo', { value: 'never' });
  const started: string[] = [];
  s.addEventListener('started', (e) => started.push((e as TaskEvent).task.id));
  expect(await t.cancel()).toBe(true);
  expect(t.status).toBe('cancelled');
  const r = await outcome(t.result);
  expect(r.ok || [r.error.name, r.error.code]).toEqual(['CancelledError', 'E_CANCELLED']);
  s.resume();
  await s.drain();
  expect(started).toEqual([]);
  expect(s.metrics()).toMatchObject({ queued: 0, cancelled: 1 });
});

test('cancelling a running task aborts its signal with a CancelledError reason; a cooperative worker is kept', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1, graceMs: 5_000 } });
  const started = nextEvent<TaskEvent>(s, 'started');
  const t = await s.enqueue('cooperative', { ms: 60_000 });
  await started;
  expect(await s.cancel(t.id, 'user changed their mind')).toBe(true);
  const r = await outcome(t.result);
  expect(r.ok || r.error.message).toMatch(/cancelled: user changed their mind/);
  const next = await s.enqueue('echo', { value: 'next' });
  expect(await next.result).toBe('next');
  expect(s.workers()).toHaveLength(1);
});

test('cancelling a running task that ignores its signal terminates and replaces the worker after the grace period', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1, graceMs: 100 } });
  const started = nextEvent<TaskEvent>(s, 'started');
  const terminated = nextEvent<WorkerEvent>(s, 'worker', (e) => e.state === 'terminated');
  const t = await s.enqueue('hang', { ms: 60_000 });
  await started;
  const t0 = performance.now();
  expect(await t.cancel()).toBe(true);
  expect(t.status).toBe('cancelled');
  await terminated;
  expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
  expect(await (await s.enqueue('echo', { value: 'replaced' })).result).toBe('replaced');
});

test('cancelling a finished or unknown task is a no-op that says so', async () => {
  const s = await makeScheduler({ store: 'memory' });
  const t = await s.enqueue('echo', { value: 1 });
  await t.result;
  expect(await t.cancel()).toBe(false);
  expect(t.status).toBe('completed');
  expect(await s.cancel('no-such-id')).toBe(false);
});

test("the caller's AbortSignal cancels the task; an already aborted signal is refused and stores nothing", async () => {
  const s = await makeScheduler({ store: 'memory' });
  s.pause();
  const controller = new AbortController();
  const t = await s.enqueue('echo', { value: 1 }, { signal: controller.signal });
  const cancelled = nextEvent<TaskEvent>(s, 'cancelled');
  controller.abort();
  expect((await cancelled).task.id).toBe(t.id);
  expect((await outcome(t.result)).ok).toBe(false);
  const before = s.metrics().submitted;
  await expect(s.enqueue('echo', { value: 2 }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'CancelledError' });
  expect(s.metrics().submitted).toBe(before);
});

test('close({ drain: false }) of a big memory queue with a slow cancelled listener: every task cancelled, told and settled, in slices, retention kept up', async () => {
  const store = new MemoryStore();
  const s = await makeScheduler({ store, retention: { failed: 1_000 } });
  s.pause();
  const handles = await Promise.all(Array.from({ length: 20 }, () => s.enqueue('noop', null)));
  const n = 10_000;
  const ids = await s.enqueueMany(Array.from({ length: n }, () => ({ name: 'noop' as const, input: null })));
  const outcomes = handles.map((h) => outcome(h.result));
  let heard = 0;
  const slices = sliceCounter(s, 'cancelled');
  // A listener with work to do (50 µs an event, the panel's kind): a chunk of 1,024 between two looks at the clock was a 50 ms task.
  const work = busyFor(50);
  s.addEventListener('cancelled', (e) => {
    if ((e as TaskEvent).error?.name === 'CancelledError') heard++;
    work();
  });
  await s.close({ drain: false });
  // Resolved after all of them: every handle has its CancelledError, every task its event.
  expect(heard).toBe(n + handles.length);
  expect(handles.every((h) => h.status === 'cancelled')).toBe(true);
  for (const r of await Promise.all(outcomes)) expect(r.ok || r.error.name).toBe('CancelledError');
  // About 8 ms of them per task (some 160 events), however fast or busy the machine: never a whole chunk.
  expect(slices.reduce((a, b) => a + b, 0)).toBe(n + handles.length);
  expect(Math.max(...slices), `events per slice: ${slices.join(', ')}`).toBeLessThan(1_000);
  // Retention trimmed while the close went on (not on a timer, which waits behind it): far fewer than all are kept.
  const kept = (await store.list({ status: 'cancelled', limit: n })).length;
  expect(kept).toBeLessThan(n / 4);
  expect((await store.read([ids[n - 1] as string]))[0]?.status).toBe('cancelled');
});
