import { afterEach, expect, test } from 'vitest';
import { createScheduler, type TaskEvent } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler, nextEvent, outcome, tasksWorker } from './helpers.js';

afterEach(closeAll);

test('progress reaches the handle and the scheduler as events', async () => {
  const s = await makeScheduler({ store: 'memory' });
  const onScheduler: number[] = [];
  s.addEventListener('progress', (e) => onScheduler.push((e as TaskEvent).progress ?? -1));
  const t = await s.enqueue('progress', { steps: 4 });
  const onHandle: number[] = [];
  t.addEventListener('progress', (e) => onHandle.push((e as Event & { progress: number }).progress));
  expect(await t.result).toBe(4);
  expect(onScheduler).toEqual([0.25, 0.5, 0.75, 1]);
  expect(onHandle).toEqual([0.25, 0.5, 0.75, 1]);
  expect(t.progress).toBe(1);
});

test('transferables: a result buffer is transferred; Blob and ArrayBuffer inputs arrive intact', async () => {
  const s = await makeScheduler({ store: 'memory' });
  const out = await (await s.enqueue('buffer', { size: 1 << 20 })).result;
  expect(out).toBeInstanceOf(ArrayBuffer);
  expect((out as ArrayBuffer).byteLength).toBe(1 << 20);
  expect(new Uint8Array(out as ArrayBuffer)[12345]).toBe(7);
  const bytes = new Uint8Array([1, 2, 3, 4]).buffer;
  expect(await (await s.enqueue('sumBytes', { bytes })).result).toBe(10);
  expect(await (await s.enqueue('sumBytes', { bytes: new Blob(['hello']) })).result).toBe(5);
});

test('pause stops dispatch (running work finishes), resume restarts it, drain waits for everything', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  const started = nextEvent<TaskEvent>(s, 'started');
  const running = await s.enqueue('sleep', { ms: 50, label: 'running' });
  await started;
  s.pause();
  const waiting = await s.enqueue('echo', { value: 'waiting' });
  expect(await running.result).toBe('running');
  await new Promise((r) => setTimeout(r, 50));
  expect(waiting.status).toBe('queued');
  expect(s.metrics().health).toBe('paused');
  let drained = false;
  const drain = s.drain().then(() => (drained = true));
  await new Promise((r) => setTimeout(r, 20));
  expect(drained).toBe(false);
  s.resume();
  await drain;
  expect(waiting.status).toBe('completed');
});

test('close({ drain: true }) finishes queued and running work, then refuses new work', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  const a = await s.enqueue('sleep', { ms: 30, label: 'a' });
  const b = await s.enqueue('sleep', { ms: 1, label: 'b' });
  await s.close();
  expect(a.status).toBe('completed');
  expect(b.status).toBe('completed');
  await expect(s.enqueue('echo', { value: 1 })).rejects.toMatchObject({ name: 'SchedulerClosedError', code: 'E_CLOSED' });
  expect(s.workers()).toEqual([]);
});

test('close({ drain: false }) cancels queued and running work', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  const started = nextEvent<TaskEvent>(s, 'started');
  const running = await s.enqueue('hang', { ms: 60_000 });
  const queued = await s.enqueue('echo', { value: 1 });
  await started;
  await s.close({ drain: false });
  for (const t of [running, queued]) {
    const r = await outcome(t.result);
    expect(r.ok || r.error.name).toBe('CancelledError');
    expect(t.status).toBe('cancelled');
  }
  expect(s.workers()).toEqual([]);
});

test('close({ drain: false }) of a big queue cancels the running task first, then every queued one, chunk by chunk', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  const started = nextEvent<TaskEvent>(s, 'started');
  const running = await s.enqueue('hang', { ms: 60_000 });
  await started;
  const n = 10_000; // several chunks, held lazily by the memory store
  const ids = await s.enqueueMany(Array.from({ length: n }, (_, i) => ({ name: 'echo' as const, input: { value: i } })));
  const last = await s.get(ids[n - 1] as string);
  const cancelled: string[] = [];
  const errors: (Error & { code?: string })[] = [];
  s.addEventListener('cancelled', (e) => {
    cancelled.push((e as TaskEvent).task.id);
    errors.push((e as TaskEvent).error as Error);
  });
  await s.close({ drain: false });
  expect(cancelled).toEqual([running.id, ...ids]);
  // Tasks cancelled together share one CancelledError (one made per chunk, not one per task).
  expect(errors.every((e) => e?.name === 'CancelledError' && e.code === 'E_CANCELLED')).toBe(true);
  for (const t of [running, last]) {
    const r = await outcome((t as NonNullable<typeof t>).result);
    expect(r.ok || r.error.name).toBe('CancelledError');
  }
  expect(s.metrics().cancelled).toBe(n + 1);
});

test('metrics count what happened', async () => {
  const s = await makeScheduler({ store: 'memory' });
  await Promise.all([1, 2, 3].map(async (n) => (await s.enqueue('add', { a: n, b: n }, { priority: 'low' })).result));
  await outcome((await s.enqueue('fatal', null)).result);
  const m = s.metrics();
  expect(m).toMatchObject({ submitted: 4, completed: 3, failed: 1, cancelled: 0, queued: 0, running: 0, health: 'ok' });
  expect(m.successRate).toBeCloseTo(0.75);
  expect(m.queuedByPriority).toEqual([0, 0, 0, 0, 0]);
  expect(m.runMs.p95).toBeGreaterThanOrEqual(m.runMs.p50);
  expect(m.workers.total).toBeGreaterThan(0);
});

test('idle workers above min are reaped after idleMs, and spawned again on demand', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 2, min: 0, idleMs: 50 } });
  await (await s.enqueue('echo', { value: 1 })).result;
  const reaped = nextEvent(s, 'worker', (e: Event & { state?: string }) => e.state === 'terminated');
  await reaped;
  await expect.poll(() => s.workers().length).toBe(0);
  expect(await (await s.enqueue('echo', { value: 2 })).result).toBe(2);
});

test('an idempotency key returns the live task instead of adding another', async () => {
  const s = await makeScheduler({ store: 'memory' });
  s.pause();
  const a = await s.enqueue('echo', { value: 'first' }, { key: 'sync-42' });
  const b = await s.enqueue('echo', { value: 'second' }, { key: 'sync-42' });
  expect(b.id).toBe(a.id);
  s.resume();
  expect(await b.result).toBe('first');
  const c = await s.enqueue('echo', { value: 'third' }, { key: 'sync-42' });
  expect(c.id).not.toBe(a.id);
  expect(await c.result).toBe('third');
});

test('resize grows the pool at run time and shrinks it by retiring workers as they go idle', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  s.resize({ max: 2 });
  const bothStarted = new Promise<void>((resolve) => {
    let n = 0;
    s.addEventListener('started', () => ++n === 2 && resolve());
  });
  const retired = nextEvent<Event & { state?: string; error?: Error }>(s, 'worker', (e) => e.state === 'terminated');
  const both = [await s.enqueue('sleep', { ms: 150 }), await s.enqueue('sleep', { ms: 150 })];
  await bothStarted;
  expect(s.workers().filter((w) => w.taskId)).toHaveLength(2);
  s.resize({ max: 1 });
  await Promise.all(both.map((t) => t.result));
  expect((await retired).error?.message).toBe('pool resized');
  expect(s.workers()).toHaveLength(1);
  expect(await (await s.enqueue('echo', { value: 'still works' })).result).toBe('still works');
  expect(() => s.resize({ max: 0 })).toThrow('Expected pool.max to be a finite integer >= 1, got 0');
});

test('a closed scheduler is garbage-collected, whether its workers had started, run tasks or were still starting', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --js-flags=--expose-gc (vitest.config.ts sets it)');
  const collected = async (make: () => Promise<WeakRef<object>>) => {
    const ref = await make();
    for (let i = 0; i < 5 && ref.deref(); i++) {
      // A WeakRef's target is kept for the rest of the job that read it: collect in a later task.
      await new Promise((resolve) => setTimeout(resolve, 20));
      gc();
    }
    return ref.deref() === undefined;
  };
  const ran = collected(async () => {
    const s = await createScheduler<Tasks>({ worker: tasksWorker, store: 'memory', pool: { max: 2 } });
    await s.enqueueMany(Array.from({ length: 100 }, () => ({ name: 'noop' as const, input: null })));
    await s.drain();
    await s.close();
    return new WeakRef(s);
  });
  expect(await ran).toBe(true);
  // Closed at once: its first worker is still answering the handshake.
  const starting = collected(async () => {
    const s = await createScheduler<Tasks>({ worker: tasksWorker, store: 'memory', pool: { max: 2 } });
    await s.close({ drain: false });
    return new WeakRef(s);
  });
  expect(await starting).toBe(true);
});

test('a step tells in order: each listener sees the handle as of its event', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1 } });
  s.pause();
  const handles = await Promise.all(Array.from({ length: 8 }, (_, i) => s.enqueue('echo', { value: i })));
  const byId = new Map(handles.map((h) => [h.id, h]));
  const seen: string[] = [];
  for (const type of ['started', 'completed'] as const)
    s.addEventListener(type, (e) => seen.push(`${type}:${byId.get((e as TaskEvent).task.id)?.status}`));
  // Quick tasks pipelined to one worker come back in one report: one step starts, settles and tells several.
  s.resume();
  expect(await Promise.all(handles.map((h) => h.result))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  // A handle settles just before its 'completed' event, never before a 'started' heard in the same step.
  expect(seen.filter((x) => x.startsWith('started'))).toEqual(Array(8).fill('started:running'));
  expect(seen.filter((x) => x.startsWith('completed'))).toEqual(Array(8).fill('completed:completed'));
  for (const h of handles) expect(h.status).toBe('completed');
});
