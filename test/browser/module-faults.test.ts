import { afterEach, expect, test } from 'vitest';
import { ManualClock, type WarningEvent, type WorkerEvent } from '../../src/index.js';
import { closeAll, makeScheduler, nextEvent, outcome, tasksWorker } from './helpers.js';

afterEach(closeAll);

const throwsAtLoad = () => new Worker(new URL('./fixtures/throws-at-load.worker.ts', import.meta.url), { type: 'module' });
const hangsAtLoad = () => new Worker(new URL('./fixtures/no-define.worker.ts', import.meta.url), { type: 'module' });

test('while the breaker is open queued tasks wait (health degraded, a warning), spawning is retried with a growing delay, and a module that loads later runs them', async () => {
  const clock = new ManualClock();
  let loads = false;
  const s = await makeScheduler({
    clock,
    worker: () => (loads ? tasksWorker() : throwsAtLoad()),
    pool: { max: 1, maxSpawnFailures: 1, breakerMs: 1_000 },
  });
  const opened = nextEvent<WarningEvent>(s, 'warning');
  const t = await s.enqueue('echo', { value: 'waited' });
  const first = (await opened).error;
  expect([first.name, (first as Error & { code?: string }).code]).toEqual(['WorkerLoadError', 'E_WORKER_LOAD']);
  expect(first.message).toMatch(/failed to start 1 time in a row/);
  expect(first.message).toMatch(/queued tasks wait; spawning is tried again in 1000 ms/);
  expect(s.metrics()).toMatchObject({ health: 'degraded', queued: 1, failed: 0 });
  expect(s.metrics().healthReason).toMatch(/^worker module cannot load: .*failed to start 1 time in a row/);
  expect(t.status).toBe('queued');

  // Still failing when the breaker closes: it opens again, for twice as long.
  const reopened = nextEvent<WarningEvent>(s, 'warning');
  clock.advance(1_000);
  expect((await reopened).error.message).toMatch(/failed to start 2 times in a row.*tried again in 2000 ms/);
  expect(clock.pending()).toContain(clock.now() + 2_000);
  expect(t.status).toBe('queued');
  expect(await s.list({ status: 'failed' })).toEqual([]);

  // The module loads now (a deploy finished, the network is back): the waiting task runs.
  loads = true;
  clock.advance(2_000);
  expect(await t.result).toBe('waited');
  expect(s.metrics()).toMatchObject({ health: 'ok', completed: 1, failed: 0 });
  expect(s.metrics().healthReason).toBeUndefined();
});

test("pool.onBreakerOpen: 'fail' fails the ready tasks with WorkerLoadError instead of letting them wait", async () => {
  const s = await makeScheduler({ worker: throwsAtLoad, pool: { max: 1, maxSpawnFailures: 1, breakerMs: 60_000, onBreakerOpen: 'fail' } });
  const t = await s.enqueue('echo', { value: 1 });
  const r = await outcome(t.result);
  expect(r.ok || [r.error.name, r.error.code]).toEqual(['WorkerLoadError', 'E_WORKER_LOAD']);
  expect(s.metrics()).toMatchObject({ health: 'degraded', failed: 1 });
});

test('enqueue and enqueueMany never wait for a worker to load: with the module hanging at load they resolve before its handshake times out', async () => {
  const s = await makeScheduler({ worker: hangsAtLoad, pool: { max: 1, spawnTimeoutMs: 2_000, maxSpawnFailures: 3 } });
  const log: string[] = [];
  s.addEventListener('worker', (e) => log.push((e as WorkerEvent).state));
  const t = await s.enqueue('echo', { value: 1 });
  log.push('enqueue resolved');
  await s.enqueueMany([{ name: 'echo', input: { value: 2 } }]);
  log.push('enqueueMany resolved');
  const withOptions = await s.enqueue('echo', { value: 3 }, { priority: 'high' });
  log.push('enqueue with options resolved');
  // Nothing about the first worker happened yet: its handshake (2 s) is still pending.
  expect(log).toEqual(['enqueue resolved', 'enqueueMany resolved', 'enqueue with options resolved']);
  expect([t.status, withOptions.status]).toEqual(['queued', 'queued']);
  expect(s.metrics().submitted).toBe(3);
});

test('a task whose name is unknown while no worker has loaded is accepted, then fails at dispatch with UnknownTaskError; once the names are known it is rejected at enqueue', async () => {
  const clock = new ManualClock();
  let loads = false;
  const s = await makeScheduler({
    clock,
    worker: () => (loads ? tasksWorker() : hangsAtLoad()),
    pool: { max: 1, spawnTimeoutMs: 200, maxSpawnFailures: 1, breakerMs: 1_000 },
  });
  const opened = nextEvent<WarningEvent>(s, 'warning');
  // biome-ignore lint/suspicious/noExplicitAny: a name the module does not define
  const nope = await (s as any).enqueue('nope', null);
  const ok = await s.enqueue('echo', { value: 'ok' });
  expect((await opened).error.message).toMatch(/handshake within 200 ms/);
  loads = true;
  clock.advance(1_000);
  const r = await outcome(nope.result as Promise<unknown>);
  expect(r.ok || [r.error.name, r.error.code]).toEqual(['UnknownTaskError', 'E_UNKNOWN_TASK']);
  expect(r.ok || r.error.message).toMatch(/no task named "nope"/);
  expect((await s.inspect(nope.id))?.attempt).toBe(1);
  expect(await ok.result).toBe('ok');
  const before = s.metrics().submitted;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  await expect((s as any).enqueue('nope', null)).rejects.toMatchObject({ name: 'UnknownTaskError', code: 'E_UNKNOWN_TASK' });
  expect(s.metrics().submitted).toBe(before);
});
