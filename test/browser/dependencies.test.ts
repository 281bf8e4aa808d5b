import { afterEach, describe, expect, test } from 'vitest';
import {
  createScheduler,
  type Scheduler,
  type SchedulerOptions,
  type TaskEvent,
  type TaskHandle,
  type TaskRecord,
} from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler, moduleLoaded, nextEvent, outcome, tasksWorker } from './helpers.js';
import { closeAfter, closeOpened, dbName, rawAll, rawPut } from './idb-helpers.js';
import { openTab, removeTabs } from './tab-frames.js';

/**
 * Dependencies with data passing, on real workers: chains and diamonds whose results reach their
 * dependents as `ctx.dependencies`, the three conditions, skips that cascade, cancellation, graphs
 * refused before anything is stored, a graph that survives its tab dying, and a graph from a tab
 * that does not lead the queue.
 */

// biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls
type Loose = any;

afterEach(async () => {
  await closeAll();
  removeTabs();
  await closeOpened();
});

/** 'started' and 'completed' (and 'skipped') events in the order they came, as `started:<label>`. */
function eventLog(s: Scheduler<Tasks>, labels: Record<string, string>): string[] {
  const log: string[] = [];
  for (const type of ['started', 'completed', 'skipped'] as const)
    s.addEventListener(type, (e: TaskEvent) => log.push(`${type}:${labels[e.task.id] ?? e.task.id}`));
  return log;
}

const statusOf = async (s: Scheduler<Tasks>, id: string) => (await s.inspect(id))?.status;

/** Resolves once the handle's task runs. */
async function running(s: Scheduler<Tasks>, handle: { id: string; status: string }): Promise<void> {
  if (handle.status !== 'running') await nextEvent<TaskEvent>(s, 'started', (e) => e.task.id === handle.id);
}

for (const store of ['memory', 'indexeddb'] as const) {
  /** The store's options: IndexedDB in this tab alone, on a database of its own. */
  const storeOptions = (): Partial<SchedulerOptions> =>
    store === 'memory' ? { store: 'memory' } : { store: 'indexeddb', name: dbName('deps'), shared: false };
  const open = (options: Partial<SchedulerOptions> = {}) => makeScheduler({ ...storeOptions(), ...options });

  describe(`on the ${store} store`, () => {
    describe('results flow forward', () => {
      test('a chain a → b → c from one enqueueMany with refs: each starts once the one before completed, and gets its result', async () => {
        const s = await open({ pool: { max: 2 } });
        s.pause();
        const [a, b, c] = (await s.enqueueMany([
          { ref: 'a', name: 'sum', input: { add: 1 } },
          { ref: 'b', name: 'sum', input: { add: 10 }, options: { dependsOn: ['a'] } },
          { ref: 'c', name: 'sum', input: { add: 100 }, options: { dependsOn: ['b'] } },
        ])) as [string, string, string];
        expect([await statusOf(s, a), await statusOf(s, b), await statusOf(s, c)]).toEqual(['queued', 'waiting', 'waiting']);
        expect((await s.inspect(c))?.dependsOn).toEqual([{ id: b, on: 'success' }]);
        expect(s.metrics()).toMatchObject({ queued: 1, waiting: 2 });
        const log = eventLog(s, { [a]: 'a', [b]: 'b', [c]: 'c' });
        const handles = (await Promise.all([a, b, c].map((id) => s.get(id)))) as TaskHandle[];
        expect(handles.map((h) => h.status)).toEqual(['queued', 'waiting', 'waiting']);
        s.resume();
        expect(await Promise.all(handles.map((h) => h.result))).toEqual([1, 11, 111]);
        expect(log).toEqual(['started:a', 'completed:a', 'started:b', 'completed:b', 'started:c', 'completed:c']);
        expect((await s.inspect(c))?.dependencyOutcomes).toEqual({ [b]: { status: 'completed', result: 11 } });
        expect(s.metrics()).toMatchObject({ completed: 3, waiting: 0, skipped: 0 });
      });

      test('a diamond a → (b, c) → d by ids: d waits for both and gets both results, keyed by id in dependsOn order', async () => {
        const s = await open({ pool: { max: 2 } });
        const a = await s.enqueue('sum', { add: 1 });
        const b = await s.enqueue('sum', { add: 10 }, { dependsOn: [a.id] });
        const c = await s.enqueue('sum', { add: 100 }, { dependsOn: [a.id] });
        const d = await s.enqueue('sum', { add: 1000 }, { dependsOn: [b.id, c.id] });
        const seen = await s.enqueue('dependencies', null, { dependsOn: [c.id, b.id, a.id] });
        const log = eventLog(s, { [a.id]: 'a', [b.id]: 'b', [c.id]: 'c', [d.id]: 'd' });
        expect(await d.result).toBe(1112);
        expect(await seen.result).toEqual([
          [c.id, 101],
          [b.id, 11],
          [a.id, 1],
        ]);
        const at = (entry: string) => log.indexOf(entry);
        expect(at('started:d')).toBeGreaterThan(at('completed:b'));
        expect(at('started:d')).toBeGreaterThan(at('completed:c'));
        // Dependencies that had ended well before the enqueue: the task is queued at once.
        s.pause();
        const late = await s.enqueue('sum', { add: 0 }, { dependsOn: [d.id, a.id] });
        expect(late.status).toBe('queued');
        s.resume();
        expect(await late.result).toBe(1113);
      });
    });

    describe("conditions: 'success', 'failure', 'completion'", () => {
      test("a failed dependency skips its 'success' dependents and runs its 'failure' and 'completion' ones with its error", async () => {
        const s = await open();
        s.pause();
        const a = await s.enqueue('fatal', null);
        const onSuccess = await s.enqueue('echo', { value: 'never' }, { dependsOn: [a.id] });
        const onFailure = await s.enqueue('dependencies', null, { dependsOn: [{ id: a.id, on: 'failure' }] });
        const onEnd = await s.enqueue('dependencies', null, { dependsOn: [{ id: a.id, on: 'completion' }] });
        s.resume();
        const skipped = await outcome(onSuccess.result);
        expect(skipped.ok).toBe(false);
        if (skipped.ok) return;
        expect(skipped.error).toMatchObject({ name: 'DependencyError', code: 'E_DEPENDENCY' });
        expect(skipped.error.message).toBe(
          `task "echo" (${onSuccess.id}) was skipped: its dependency "fatal" (${a.id}) failed (NonRetryableError: this will never work), and it waited for it to complete`,
        );
        expect(onSuccess.status).toBe('skipped');
        const error = { error: 'NonRetryableError', code: 'E_NON_RETRYABLE', message: 'this will never work' };
        expect(await onFailure.result).toEqual([[a.id, error]]);
        expect(await onEnd.result).toEqual([[a.id, error]]);
        const record = await s.inspect(onSuccess.id);
        expect(record?.errors.map((e) => e.code)).toEqual(['E_DEPENDENCY']);
        expect(record?.attempt).toBe(0);
        expect(s.metrics()).toMatchObject({ skipped: 1, failed: 1, completed: 2 });
      });

      test("a completed dependency skips its 'failure' dependents and runs its 'completion' ones with its result", async () => {
        const s = await open();
        const a = await s.enqueue('echo', { value: 'fine' });
        const onFailure = await s.enqueue('echo', { value: 'never' }, { dependsOn: [{ id: a.id, on: 'failure' }] });
        const onEnd = await s.enqueue('dependencies', null, { dependsOn: [{ id: a.id, on: 'completion' }] });
        expect(await onEnd.result).toEqual([[a.id, 'fine']]);
        const skipped = await outcome(onFailure.result);
        expect(!skipped.ok && skipped.error.message).toBe(
          `task "echo" (${onFailure.id}) was skipped: its dependency "echo" (${a.id}) completed, and it waited for it to fail`,
        );
      });

      test('a skip cascades: each skipped task names the dependency that skipped it, and a completion dependent still runs', async () => {
        const s = await open();
        s.pause();
        const [a, b, c, d] = (await s.enqueueMany([
          { ref: 'a', name: 'fatal', input: null },
          { ref: 'b', name: 'echo', input: { value: 'b' }, options: { dependsOn: ['a'] } },
          { ref: 'c', name: 'echo', input: { value: 'c' }, options: { dependsOn: ['b'] } },
          { ref: 'd', name: 'dependencies', input: null, options: { dependsOn: [{ id: 'c', on: 'completion' }] } },
        ])) as [string, string, string, string];
        const skippedEvents: TaskEvent[] = [];
        s.addEventListener('skipped', (e) => skippedEvents.push(e));
        s.resume();
        const last = (await s.get(d)) as TaskHandle;
        const [seen] = (await last.result) as [string, { error: string; code: string; message: string }][];
        expect(seen?.[0]).toBe(c);
        expect(seen?.[1]).toMatchObject({ error: 'DependencyError', code: 'E_DEPENDENCY' });
        expect(skippedEvents.map((e) => e.task.id)).toEqual([b, c]);
        expect(skippedEvents.map((e) => e.error?.name)).toEqual(['DependencyError', 'DependencyError']);
        expect(skippedEvents[0]?.error?.message).toContain(`its dependency "fatal" (${a}) failed`);
        expect(skippedEvents[1]?.error?.message).toContain(`its dependency "echo" (${b}) was skipped`);
        expect(skippedEvents.map((e) => e.task.status)).toEqual(['skipped', 'skipped']);
        expect(s.metrics()).toMatchObject({ skipped: 2, waiting: 0, queued: 0 });
        await s.drain();
      });

      test('a task whose dependency already ended the wrong way is stored skipped at once, and its handle says why', async () => {
        const s = await open();
        const a = await s.enqueue('fatal', null);
        await outcome(a.result);
        const b = await s.enqueue('echo', { value: 1 }, { dependsOn: [a.id] });
        expect(b.status).toBe('skipped');
        await expect(b.result).rejects.toMatchObject({ name: 'DependencyError' });
        expect(await statusOf(s, b.id)).toBe('skipped');
      });
    });

    describe('cancelling a task with dependents skips them (a completion dependent runs)', () => {
      test('cancelling a running dependency', async () => {
        const s = await open();
        const a = await s.enqueue('sleep', { ms: 20_000 });
        const b = await s.enqueue('echo', { value: 'b' }, { dependsOn: [a.id] });
        const c = await s.enqueue('dependencies', null, { dependsOn: [{ id: a.id, on: 'completion' }] });
        await running(s, a);
        expect(await a.cancel()).toBe(true);
        const skipped = await outcome(b.result);
        expect(!skipped.ok && skipped.error.name).toBe('DependencyError');
        expect(!skipped.ok && skipped.error.message).toContain(
          `its dependency "sleep" (${a.id}) was cancelled (CancelledError: task ${a.id} was cancelled`,
        );
        const seen = (await c.result) as [string, { error: string }][];
        expect(seen.map(([id, error]) => [id, error.error])).toEqual([[a.id, 'CancelledError']]);
        expect(b.status).toBe('skipped');
      });

      test('cancelling a waiting task: it is cancelled, its dependents are skipped, its dependency runs on', async () => {
        const s = await open();
        const x = await s.enqueue('sleep', { ms: 20_000 });
        const y = await s.enqueue('echo', { value: 'y' }, { dependsOn: [x.id] });
        const z = await s.enqueue('echo', { value: 'z' }, { dependsOn: [y.id] });
        await running(s, x);
        expect(y.status).toBe('waiting');
        expect(await s.cancel(y.id)).toBe(true);
        await expect(y.result).rejects.toMatchObject({ name: 'CancelledError' });
        await expect(z.result).rejects.toMatchObject({ name: 'DependencyError' });
        expect([y.status, z.status, x.status]).toEqual(['cancelled', 'skipped', 'running']);
        expect(await s.cancel(y.id)).toBe(false);
        expect(s.metrics()).toMatchObject({ waiting: 0, running: 1, cancelled: 1, skipped: 1 });
      });

      test('close({ drain: false }) cancels waiting tasks too (none is skipped)', async () => {
        const s = await createScheduler<Tasks>({ worker: tasksWorker, ...storeOptions(), pool: { max: 1 } });
        const a = await s.enqueue('sleep', { ms: 20_000 });
        const b = await s.enqueue('echo', { value: 'b' }, { dependsOn: [a.id] });
        await running(s, a);
        await s.close({ drain: false });
        await expect(b.result).rejects.toMatchObject({ name: 'CancelledError' });
        expect(s.metrics()).toMatchObject({ cancelled: 2, skipped: 0, waiting: 0 });
      });
    });

    describe('waiting tasks and the rest of the API', () => {
      test('drain waits for waiting tasks; a waiting task can be reprioritized; retry of a skipped task waits again', async () => {
        const s = await open({ pool: { max: 1 } });
        s.pause();
        const a = await s.enqueue('flaky', { succeedOn: 2 }, { retry: { attempts: 1 } });
        const b = await s.enqueue('sum', { add: 5 }, { dependsOn: [a.id] });
        expect(await s.reprioritize(b.id, 'critical')).toBe(true);
        expect((await s.inspect(b.id))?.priority).toBe(0);
        s.resume();
        await s.drain();
        expect([a.status, b.status]).toEqual(['failed', 'skipped']);
        // Retried, the skipped task waits for its dependency again: retried too, it completes.
        const b2 = await s.retry(b.id);
        expect(b2.status).toBe('skipped');
        const a2 = await s.retry(a.id);
        const b3 = await s.retry(b.id);
        expect(b3.status).toBe('waiting');
        expect(await a2.result).toBe(2);
        expect(await b3.result).toBe(7);
        const record = await s.inspect(b.id);
        expect(record?.errors.map((e) => e.code)).toEqual(['E_DEPENDENCY', 'E_DEPENDENCY']);
        expect(record?.priority).toBe(0);
      });

      test('waiting tasks take room in maxQueued', async () => {
        const s = await open({ maxQueued: 2 });
        s.pause();
        const a = await s.enqueue('echo', { value: 1 });
        await s.enqueue('echo', { value: 2 }, { dependsOn: [a.id] });
        await expect(s.enqueue('echo', { value: 3 })).rejects.toMatchObject({ name: 'QueueFullError' });
        await expect(s.enqueueMany([{ ref: 'x', name: 'echo', input: { value: 4 } }])).rejects.toMatchObject({ name: 'QueueFullError' });
        expect(s.metrics()).toMatchObject({ queued: 1, waiting: 1, submitted: 2 });
      });

      test('a key dedupes a waiting task; a caller signal cancels it', async () => {
        const s = await open();
        s.pause();
        const a = await s.enqueue('echo', { value: 1 });
        const first = await s.enqueue('echo', { value: 2 }, { key: 'k', dependsOn: [a.id] });
        const again = await s.enqueue('echo', { value: 3 }, { key: 'k', dependsOn: [a.id] });
        expect(again).toBe(first);
        const controller = new AbortController();
        const signalled = await s.enqueue('echo', { value: 4 }, { dependsOn: [a.id], signal: controller.signal });
        controller.abort();
        await expect(signalled.result).rejects.toMatchObject({ name: 'CancelledError' });
        s.resume();
        expect(await first.result).toBe(2);
      });
    });

    describe('a wrong graph is refused before anything is stored', () => {
      test('a cycle, a self-dependency, an unknown ref and an unknown id reject with DependencyError naming them; the store stays empty', async () => {
        const s: Loose = await open();
        s.pause();
        const cases: [string, () => Promise<unknown>, string][] = [
          [
            'two-cycle',
            () =>
              s.enqueueMany([
                { ref: 'a', name: 'echo', input: null, options: { dependsOn: ['b'] } },
                { ref: 'b', name: 'echo', input: null, options: { dependsOn: ['a'] } },
              ]),
            'enqueueMany() was given a dependency cycle: "a" → "b" → "a" (each waits for the next to end)',
          ],
          [
            'three-cycle behind a good item',
            () =>
              s.enqueueMany([
                { ref: 'ok', name: 'echo', input: null },
                { ref: 'x', name: 'echo', input: null, options: { dependsOn: ['ok', 'z'] } },
                { ref: 'y', name: 'echo', input: null, options: { dependsOn: ['x'] } },
                { ref: 'z', name: 'echo', input: null, options: { dependsOn: ['y'] } },
              ]),
            'enqueueMany() was given a dependency cycle: "x" → "z" → "y" → "x" (each waits for the next to end)',
          ],
          [
            'self-dependency',
            () => s.enqueueMany([{ ref: 'me', name: 'echo', input: null, options: { dependsOn: [{ id: 'me', on: 'completion' }] } }]),
            'items[0].options.dependsOn depends on itself (me): a task cannot wait for its own end',
          ],
          [
            'unknown ref',
            () =>
              s.enqueueMany([
                { ref: 'resize', name: 'echo', input: null },
                { name: 'echo', input: null, options: { dependsOn: ['resize', 'upload'] } },
              ]),
            'items[1].options.dependsOn names "upload": it is neither a ref of an item of this batch nor a stored task',
          ],
          [
            'unknown id',
            () => s.enqueue('echo', null, { dependsOn: ['no-such-task', { id: 'nor-this', on: 'failure' }] }),
            'dependsOn names "no-such-task", dependsOn names "nor-this": each is not a stored task',
          ],
        ];
        for (const [label, call, message] of cases) {
          const result = await outcome(call());
          expect([
            label,
            result.ok ? 'resolved' : result.error.name,
            result.ok ? '' : result.error.code,
            result.ok ? '' : result.error.message,
          ]).toEqual([label, 'DependencyError', 'E_DEPENDENCY', message]);
        }
        expect(await s.list()).toEqual([]);
        expect(s.metrics()).toMatchObject({ submitted: 0, queued: 0, waiting: 0 });
      });

      test('bad dependsOn and ref values reject with a TypeError saying what was expected; the store stays empty', async () => {
        const s: Loose = await open();
        s.pause();
        await moduleLoaded(s);
        const cases: [string, () => Promise<unknown>, string][] = [
          [
            'not an array',
            () => s.enqueue('echo', null, { dependsOn: 'a' }),
            'Expected dependsOn to be an array of task ids or { id, on }, got "a"',
          ],
          [
            'an entry of the wrong type',
            () => s.enqueue('echo', null, { dependsOn: [5] }),
            'Expected dependsOn[0] to be a task id (non-empty string) or { id, on }, got 5',
          ],
          [
            'a bad on',
            () => s.enqueue('echo', null, { dependsOn: [{ id: 'x', on: 'always' }] }),
            `Expected dependsOn[0].on to be 'success', 'failure' or 'completion', got "always"`,
          ],
          [
            'an entry without id',
            () => s.enqueue('echo', null, { dependsOn: [{ on: 'failure' }] }),
            'Expected dependsOn[0].id to be a task id (non-empty string), got undefined',
          ],
          [
            'a misspelt entry key',
            () => s.enqueue('echo', null, { dependsOn: [{ id: 'x', when: 'failure' }] }),
            'Expected no option "dependsOn[0].when"',
          ],
          [
            'a task named twice',
            () => s.enqueue('echo', null, { dependsOn: ['x', 'x'] }),
            'Expected dependsOn to name each task once, got "x" twice',
          ],
          [
            'in a batch item',
            () =>
              s.enqueueMany([
                { name: 'echo', input: null },
                { name: 'echo', input: null, options: { dependsOn: {} } },
              ]),
            'Expected items[1].options.dependsOn to be an array of task ids or { id, on }, got an object',
          ],
          [
            'a ref that is no string',
            () => s.enqueueMany([{ ref: 7, name: 'echo', input: null }]),
            'Expected items[0].ref to be a non-empty string, got 7',
          ],
          [
            'a ref used twice',
            () =>
              s.enqueueMany([
                { ref: 'a', name: 'echo', input: null },
                { ref: 'a', name: 'echo', input: null },
              ]),
            'Expected items[1].ref to be unique in the batch, got "a" (items[0].ref too)',
          ],
          [
            'an unknown task name in a graph',
            () => s.enqueueMany([{ ref: 'a', name: 'nope', input: null }]),
            'no task named "nope" in the worker module',
          ],
        ];
        for (const [label, call, message] of cases) {
          const result = await outcome(call());
          const expected = label.startsWith('an unknown task') ? 'UnknownTaskError' : 'TypeError';
          expect([label, result.ok ? 'resolved' : result.error.name, result.ok ? '' : result.error.message]).toEqual([
            label,
            expected,
            expect.stringContaining(message),
          ]);
        }
        expect(await s.list()).toEqual([]);
        expect(s.metrics()).toMatchObject({ submitted: 0 });
      });
    });
  });
}

/** Removes a tab running the queue `db` (as a tab closing or crashing) and resolves once the browser released its locks. */
async function killTab(frame: HTMLIFrameElement, db: string): Promise<void> {
  const { held = [] } = await navigator.locks.query();
  const locks = held.map((l) => l.name ?? '').filter((name) => name.startsWith(`tasklane:${db}:`));
  frame.remove();
  for (const name of locks) await navigator.locks.request(name, async () => {});
}

describe('a graph survives its tab (IndexedDB)', () => {
  const graph = (firstMs: number) => [
    { ref: 'a', name: 'sum' as const, input: { add: 1 } },
    { ref: 'b', name: 'sum' as const, input: { add: 10, firstMs }, options: { dependsOn: ['a'] } },
    { ref: 'c', name: 'sum' as const, input: { add: 100 }, options: { dependsOn: ['b'] } },
    { ref: 'd', name: 'sum' as const, input: { add: 1000 }, options: { dependsOn: ['b', { id: 'c', on: 'success' as const }] } },
  ];

  test('enqueued paused, the tab closed: on reopening every task runs, in order, results flowing', async () => {
    const db = dbName('deps-paused');
    const tab = await openTab();
    const before = await tab.api.open({ name: db, pool: { max: 1 } });
    before.pause();
    const ids = await before.enqueueMany(graph(0));
    await killTab(tab.frame, db);
    const left = new Map((await rawAll(db)).map((r) => [r.id, r]));
    expect(ids.map((id) => left.get(id)?.status)).toEqual(['queued', 'waiting', 'waiting', 'waiting']);

    const s = closeAfter(await createScheduler<Tasks>({ name: db, worker: tasksWorker, pool: { max: 1 } }));
    expect(s.metrics()).toMatchObject({ queued: 1, waiting: 3 });
    const labels = Object.fromEntries(ids.map((id, i) => [id, 'abcd'[i] as string]));
    const log = eventLog(s, labels);
    const handles = (await Promise.all(ids.map((id) => s.get(id)))) as TaskHandle[];
    expect(await Promise.all(handles.map((h) => h.result))).toEqual([1, 11, 111, 1122]);
    expect(log.filter((e) => e.startsWith('started'))).toEqual(['started:a', 'started:b', 'started:c', 'started:d']);
  });

  test('the tab dies mid-graph (a done, b running): on reopening b runs again with what a returned, then c and d', async () => {
    const db = dbName('deps-mid');
    const tab = await openTab();
    const before = await tab.api.open({ name: db, pool: { max: 1 } });
    const ids = await before.enqueueMany(graph(60_000));
    const [a, b, c, d] = ids as [string, string, string, string];
    const bStarted = nextEvent<TaskEvent>(before, 'started', (e) => e.task.id === b);
    await bStarted;
    await killTab(tab.frame, db);
    const left = new Map((await rawAll(db)).map((r) => [r.id, r as TaskRecord]));
    expect([a, b, c, d].map((id) => left.get(id)?.status)).toEqual(['completed', 'running', 'waiting', 'waiting']);
    // b carries a's result with it: what a returned is b's, whatever happens to a's record.
    expect(left.get(b)?.dependencyOutcomes).toEqual({ [a]: { status: 'completed', result: 1 } });

    const s = closeAfter(await createScheduler<Tasks>({ name: db, worker: tasksWorker, pool: { max: 1 } }));
    const log = eventLog(s, { [a]: 'a', [b]: 'b', [c]: 'c', [d]: 'd' });
    const handles = (await Promise.all([b, c, d].map((id) => s.get(id)))) as TaskHandle[];
    expect(await Promise.all(handles.map((h) => h.result))).toEqual([11, 111, 1122]);
    expect(log.filter((e) => e.startsWith('started'))).toEqual(['started:b', 'started:c', 'started:d']);
    const final = await s.inspect(b);
    expect(final?.errors.map((e) => e.code)).toEqual(['E_STALLED']);
  });

  test('a dependency that ended while its dependent was not told (the tab died in between) is read on reopening, not every record', async () => {
    const db = dbName('deps-told');
    const tab = await openTab();
    const before = await tab.api.open({ name: db, pool: { max: 1 } });
    before.pause();
    const [a] = await before.enqueueMany([{ name: 'echo', input: { value: 'a' } }]);
    const b = await before.enqueue('sum', { add: 1 }, { dependsOn: [a as string] });
    await killTab(tab.frame, db);
    // What a crash between a's commit and b's leaves: a completed on disk, b still waiting on it.
    const records = await rawAll(db);
    const done = { ...(records.find((r) => r.id === a) as TaskRecord), status: 'completed' as const, result: 41, finishedAt: Date.now() };
    await rawPut(db, [done]);
    const s = closeAfter(await createScheduler<Tasks>({ name: db, worker: tasksWorker, pool: { max: 1 } }));
    const handle = (await s.get(b.id)) as TaskHandle;
    expect(await handle.result).toBe(42);
  });
});

test('from a tab that does not lead: a graph with refs runs in the leader, results flow, a bad graph gets DependencyError by name', async () => {
  const name = dbName('deps-tabs');
  const leaderTab = await openTab();
  const leader = await leaderTab.api.open({ name });
  const followerTab = await openTab();
  const follower = await followerTab.api.open({ name });
  expect([leader.leader.thisTab, follower.leader.thisTab]).toEqual([true, false]);
  const ids = await follower.enqueueMany([
    { ref: 'a', name: 'sum', input: { add: 2 } },
    { ref: 'b', name: 'sum', input: { add: 20 }, options: { dependsOn: ['a'] } },
    { ref: 'c', name: 'dependencies', input: null, options: { dependsOn: [{ id: 'b', on: 'completion' }, 'a'] } },
  ]);
  const handles = (await Promise.all(ids.map((id) => follower.get(id)))) as TaskHandle[];
  const [, , c] = ids as [string, string, string];
  expect(await Promise.all(handles.map((h) => h.result))).toEqual([
    2,
    22,
    [
      [ids[1], 22],
      [ids[0], 2],
    ],
  ]);
  const single = await follower.enqueue('sum', { add: 1 }, { dependsOn: [c] });
  expect(await single.result).toBe(1);
  const refused = await outcome(
    follower.enqueueMany([
      { ref: 'x', name: 'echo', input: { value: 1 }, options: { dependsOn: ['x'] } },
      { name: 'echo', input: { value: 2 } },
    ]),
  );
  expect(!refused.ok && [refused.error.name, refused.error.code]).toEqual(['DependencyError', 'E_DEPENDENCY']);
  expect((await follower.list({ limit: 100 })).length).toBe(4);
});
