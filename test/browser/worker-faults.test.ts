import { afterEach, expect, test } from 'vitest';
import { createScheduler, type Scheduler, type WorkerEvent } from '../../src/index.js';
import type { LateTasks } from './fixtures/late-define.worker.js';
import type { ThrownValueTasks } from './fixtures/thrown-values.worker.js';
import { outcome } from './helpers.js';

// Long timeouts throughout: a fault that is not reported at once would end as a TimeoutError or a
// WorkerLoadError, many seconds later, and fail the assertions on the error's name.
const TIMEOUT_MS = 20_000;

const open: Pick<Scheduler<never>, 'close'>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close({ drain: false })));
});

async function thrownValues(): Promise<Scheduler<ThrownValueTasks>> {
  const s = await createScheduler<ThrownValueTasks>({
    worker: () => new Worker(new URL('./fixtures/thrown-values.worker.ts', import.meta.url), { type: 'module' }),
    store: 'memory',
    pool: { max: 1 },
    defaults: { timeoutMs: TIMEOUT_MS, retry: { attempts: 1 } },
  });
  open.push(s);
  return s;
}

test('a thrown or rejected value that cannot be read fails its task at once with HandlerError, and the worker keeps serving', async () => {
  const s = await thrownValues();
  const exits: WorkerEvent[] = [];
  s.addEventListener('worker', (e) => (e as WorkerEvent).state === 'terminated' && exits.push(e as WorkerEvent));
  for (const name of ['throwUnreadable', 'rejectUnreadable', 'rejectProxy'] as const) {
    const r = await outcome((await s.enqueue(name, null)).result);
    expect(r.ok || [name, r.error.name, r.error.code]).toEqual([name, 'HandlerError', 'E_HANDLER']);
    expect(r.ok || r.error.message).toMatch(/^handler threw a value whose "message" could not be read \(reading it threw \w*Error: /);
  }
  const symbol = await outcome((await s.enqueue('throwSymbol', null)).result);
  expect(symbol.ok || [symbol.error.name, symbol.error.code, symbol.error.message]).toEqual([
    'HandlerError',
    'E_HANDLER',
    'handler threw a non-Error value: Symbol(thrown symbol)',
  ]);
  expect(await (await s.enqueue('echo', { value: 'still serving' })).result).toBe('still serving');
  expect(exits).toEqual([]);
  expect(s.workers()).toHaveLength(1);
});

test('a thrown object that is not an Error keeps its own name, code, message and stack; a nameless one becomes HandlerError', async () => {
  const s = await thrownValues();
  const thrown = await outcome((await s.enqueue('throwFault', null)).result);
  expect(thrown.ok || [thrown.error.name, thrown.error.code, thrown.error.message]).toEqual([
    'Fault',
    'E_FAULT',
    'the fault of a class that is not an Error',
  ]);
  // The worker's stack, not one made on the main thread when the error was rebuilt.
  expect(thrown.ok || thrown.error.stack).toContain('thrown-values.worker');
  const rejected = await outcome((await s.enqueue('rejectFault', null)).result);
  expect(rejected.ok || [rejected.error.name, rejected.error.code, rejected.error.message]).toEqual([
    'Fault',
    'E_FAULT',
    'rejected with a Fault',
  ]);
  const nameless = await outcome((await s.enqueue('throwNameless', null)).result);
  expect(nameless.ok || [nameless.error.name, nameless.error.code, nameless.error.message]).toEqual([
    'HandlerError',
    'E_HANDLER',
    'a Failure has a message and no name',
  ]);
  expect(nameless.ok || nameless.error.stack).toContain('thrown-values.worker');
  const literal = await outcome((await s.enqueue('throwNamelessLiteral', null)).result);
  expect(literal.ok || [literal.error.name, literal.error.code, literal.error.message]).toEqual([
    'HandlerError',
    'E_HANDLER',
    'an object with a message and no name',
  ]);
});

const lateModules = {
  'a top-level await': () => new Worker(new URL('./fixtures/late-define.worker.ts', import.meta.url), { type: 'module' }),
  'async work after the module loaded': () =>
    new Worker(new URL('./fixtures/late-define-async.worker.ts', import.meta.url), { type: 'module' }),
};

test.each(Object.entries(lateModules))(
  'a worker module that calls defineTasks() after %s answers the handshake and runs its tasks',
  async (_, worker) => {
    // One spawn failure opens the breaker: a handshake that is never answered fails the task with
    // WorkerLoadError after TIMEOUT_MS instead of leaving it queued.
    const s = await createScheduler<LateTasks>({
      worker,
      store: 'memory',
      pool: { max: 1, spawnTimeoutMs: TIMEOUT_MS, maxSpawnFailures: 1 },
    });
    open.push(s);
    const r = await outcome((await s.enqueue('where', null)).result);
    expect(r.ok ? r.value : `${r.error.name}: ${r.error.message}`).toMatch(/^defined after /);
    expect(s.workers().map((w) => w.state)).toEqual(['idle']);
  },
  TIMEOUT_MS + 10_000,
);
