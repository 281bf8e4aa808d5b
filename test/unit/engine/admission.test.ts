import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { Admission, type AdmissionHost } from '../../../src/engine/admission.js';
import { Dependencies } from '../../../src/engine/dependencies.js';
import { Emitter } from '../../../src/engine/emitter.js';
import { FinishedKeys } from '../../../src/engine/finished-keys.js';
import { LiveTasks } from '../../../src/engine/live-tasks.js';
import { RecordEdits } from '../../../src/engine/record-edits.js';
import type { NormalizedDefaults } from '../../../src/engine/task-settings.js';
import { Tells } from '../../../src/engine/tells.js';
import { WriteQueue } from '../../../src/engine/write-queue.js';
import type { TaskEvent } from '../../../src/events.js';
import type { IndexEntry } from '../../../src/index-entry.js';
import { MemoryStore } from '../../../src/memory-store.js';
import { Counters } from '../../../src/metrics.js';
import type { EnqueueItem } from '../../../src/scheduler-api.js';
import type { TaskStore } from '../../../src/store.js';
import { TaskIndex } from '../../../src/task-index.js';
import type { TaskMap } from '../../../src/task-types.js';
import type { EnqueueOptions, TaskRecord } from '../../../src/types.js';
import { fakeWorkerHandle, flush } from './fakes.js';

const T0 = 1_000_000;
const defaults: NormalizedDefaults = {
  timeoutMs: 30_000,
  retry: { stored: { attempts: 3, backoff: { kind: 'fixed', delayMs: 10, maxMs: 10, factor: 1, jitter: false } } },
  priority: 2,
};

/** The memory store without its synchronous paths (`writeNow`, `writeBatch`): every write is asynchronous, as IndexedDB's. */
function asyncOnly(store: MemoryStore): TaskStore {
  return {
    kind: 'memory',
    recover: () => store.recover(),
    write: (r, minted) => store.write(r, minted),
    read: (ids) => store.read(ids),
    list: (q) => store.list(q),
    remove: (ids) => store.remove(ids),
    trim: (l) => store.trim(l),
    close: () => store.close(),
  };
}

interface Setup {
  maxQueued?: number;
  names?: string[];
  listen?: boolean;
  async?: boolean;
}

function setup({ maxQueued = Number.POSITIVE_INFINITY, names, listen = false, async = false }: Setup = {}) {
  const clock = new ManualClock(T0);
  const memory = new MemoryStore();
  const store = async ? asyncOnly(memory) : memory;
  const index = new TaskIndex();
  const writes = new WriteQueue({ store, warn: () => {} });
  const events: TaskEvent[] = [];
  const live: LiveTasks = new LiveTasks({
    handleHost: { cancel: async () => false },
    get tells() {
      return tells;
    },
    onSettled: (record) => dependencies.finished(record),
  });
  const tells = new Tells({
    writes,
    handles: live.handles,
    dispatchEvent: (e) => events.push(e as TaskEvent) > 0,
    onDelivered: () => {},
  });
  const emitter = new Emitter(
    { listens: (type) => listen && type === 'enqueued', dispatchEvent: (e) => events.push(e as TaskEvent) > 0 },
    tells,
  );
  const counters = new Counters();
  const cancelled: [string, string][] = [];
  const state = { closing: false, pumps: 0 };
  const dependencies: Dependencies = new Dependencies({
    clock,
    store,
    index,
    live,
    counters,
    writes,
    emitter,
    queuedOrRunning: (id) => index.has(id) || live.active.has(id),
    schedulePump: () => state.pumps++,
  });
  const host: AdmissionHost = {
    name: 'unit',
    finishedKeys: new FinishedKeys(),
    edits: new RecordEdits(),
    tags: { note: () => {} },
    clock,
    store,
    index,
    live,
    counters,
    writes,
    emitter,
    dependencies,
    pool: { names },
    defaults,
    maxQueued,
    idPrefix: 'p-',
    closing: () => state.closing,
    schedulePump: () => state.pumps++,
    checkDrained: () => {},
    get: async (id) => {
      const [record] = await store.read([id]);
      return record && live.handleFor(record);
    },
    cancel: (id, reason) => cancelled.push([id, reason]),
  };
  const admission = new Admission(host);
  /** Every stored record, in seq order. */
  const stored = async (): Promise<TaskRecord[]> => (await memory.list({ limit: 1e6 })).sort((a, b) => a.seq - b.seq);
  /** Asserts the refused call left nothing behind: no record, no index entry, no count, no pump, no live bookkeeping. */
  const expectNothingStored = async () => {
    expect(await stored()).toEqual([]);
    expect(index.size).toBe(0);
    expect(counters.counts.submitted).toBe(0);
    expect(state.pumps).toBe(0);
    expect(live.handles.size).toBe(0);
    expect(live.keys.size).toBe(0);
    expect(live.backoffFns.size).toBe(0);
    expect(events).toEqual([]);
    expect(admission.inFlight).toBe(0);
  };
  return { clock, memory, index, live, counters, state, admission, events, cancelled, stored, expectNothingStored };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('Admission: validation refuses a bad call by name, storing nothing', () => {
  const badOptions: [string, unknown, RegExp][] = [
    ['priority', { priority: 'urgent' }, /^Expected priority to be one of 'critical', .* got "urgent"$/],
    ['timeoutMs', { timeoutMs: -1 }, /^Expected timeoutMs to be a finite number >= 0, got -1$/],
    ['delayMs', { delayMs: Number.NaN }, /^Expected delayMs to be a finite number >= 0, got NaN$/],
    ['delayMs and runAt', { delayMs: 5, runAt: T0 }, /^Expected either delayMs or runAt, got both$/],
    ['retry', { retry: { attempts: 0 } }, /retry\.attempts/],
    ['a misspelt option', { priorty: 1 }, /^Expected no option "priorty" \(did you mean "priority"\?\)$/],
    ['an empty group', { group: '' }, /^Expected group to be a non-empty string of at most 200 characters, got ""$/],
    ['a group not a string', { group: 5 }, /^Expected group to be a non-empty string of at most 200 characters, got 5$/],
    ['a reserved lock name', { exclusive: '-x' }, /^Expected exclusive to be a lock name not starting with '-' or 'tasklane:', got "-x"$/],
    ['a tasklane lock name', { exclusive: 'tasklane:app:leader' }, /not starting with '-' or 'tasklane:'/],
    ['dependsOn not an array', { dependsOn: 'x' }, /^Expected dependsOn to be an array of task ids or \{ id, on \}, got "x"$/],
    [
      'dependsOn with a bad on',
      { dependsOn: [{ id: 'x', on: 'done' }] },
      /^Expected dependsOn\[0\]\.on to be 'success', 'failure' or 'completion', got "done"$/,
    ],
    ['dependsOn naming a task twice', { dependsOn: ['x', { id: 'x' }] }, /^Expected dependsOn to name each task once, got "x" twice$/],
    ['options.key', { key: '' }, /^Expected options.key to be a non-empty string, got ""$/],
    ['options.signal', { signal: {} }, /^Expected options.signal to be an AbortSignal, got an object$/],
    ['options itself', 'fast', /^Expected options to be an object, got "fast"$/],
  ];
  for (const [what, options, message] of badOptions)
    test(`enqueue: ${what}`, async () => {
      const s = setup();
      const error = await rejection(s.admission.enqueue('job', 1, options as EnqueueOptions));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(message);
      await s.expectNothingStored();
    });

  test('enqueue: the task name and the input', async () => {
    const s = setup();
    for (const name of ['', 42, undefined]) {
      const error = await rejection(s.admission.enqueue(name as string, 1, undefined));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/^Expected a task name \(non-empty string\), got /);
    }
    const error = await rejection(s.admission.enqueue('job', { f: () => 1 }, undefined));
    expect(error.name).toBe('DataCloneError');
    expect(error.message).toMatch(/^input.* cannot be structured-cloned: it holds a function$/);
    await s.expectNothingStored();
  });

  test('enqueue: an already aborted signal', async () => {
    const s = setup();
    const error = await rejection(s.admission.enqueue('job', 1, { signal: AbortSignal.abort() }));
    expect(error.name).toBe('CancelledError');
    await s.expectNothingStored();
  });

  test('UnknownTaskError once the module names are known; any name before', async () => {
    const s = setup({ names: ['resize', 'encode'] });
    const error = await rejection(s.admission.enqueue('crop', 1, undefined));
    expect(error.name).toBe('UnknownTaskError');
    expect(error.message).toBe('no task named "crop" in the worker module (it defines "resize", "encode")');
    const many = await rejection(
      s.admission.enqueueMany([
        { name: 'resize', input: null },
        { name: 'crop', input: null },
      ]),
    );
    expect(many.name).toBe('UnknownTaskError');
    await s.expectNothingStored();

    const early = setup();
    await early.admission.enqueue('crop', 1, undefined);
    expect((await early.stored()).map((r) => r.name)).toEqual(['crop']);
  });

  test('QueueFullError at maxQueued, counting running tasks too; nothing of a refused batch is stored', async () => {
    const s = setup({ maxQueued: 3 });
    await s.admission.enqueue('job', 1, undefined);
    await s.admission.enqueue('job', 2, { priority: 'high' });
    const many = await rejection(
      s.admission.enqueueMany([
        { name: 'job', input: null },
        { name: 'job', input: null },
      ]),
    );
    expect(many.name).toBe('QueueFullError');
    expect(many.message).toBe('queue is full: 2 live tasks, maxQueued is 3, 2 more rejected');
    expect((await s.stored()).map((r) => r.input)).toEqual([1, 2]);
    // A task taken out of the index to run still counts against the room.
    const taken = s.index.next(T0) as IndexEntry;
    s.live.active.set(taken.id, { entry: taken, prior: 'queued', worker: fakeWorkerHandle(1, s.clock).handle });
    await s.admission.enqueue('job', 3, undefined);
    for (const options of [undefined, { key: 'k' }]) {
      const error = await rejection(s.admission.enqueue('job', 4, options));
      expect(error.name).toBe('QueueFullError');
      expect(error.message).toBe('queue is full: 3 live tasks, maxQueued is 3, 1 more rejected');
    }
    expect((await s.stored()).map((r) => r.input)).toEqual([1, 2, 3]);
    expect(s.live.keys.size).toBe(0);
    expect(s.counters.counts.submitted).toBe(3);
  });

  test('a task refused at commit keeps no backoff function; an accepted one does', async () => {
    const retry = { attempts: 2, backoff: () => 5 };
    for (const async of [false, true]) {
      const s = setup({ names: ['job'], maxQueued: 1, async });
      const unknown = await rejection(s.admission.enqueue('crop', 1, { retry }));
      expect(unknown.name).toBe('UnknownTaskError');
      const many = await rejection(s.admission.enqueueMany([{ name: 'crop', input: null, options: { retry } }]));
      expect(many.name).toBe('UnknownTaskError');
      await s.expectNothingStored();
      const kept = await s.admission.enqueue('job', 1, { retry });
      expect([...s.live.backoffFns.keys()]).toEqual([kept.id]);
      const full = await rejection(s.admission.enqueue('job', 2, { retry }));
      expect(full.name).toBe('QueueFullError');
      expect([...s.live.backoffFns.keys()]).toEqual([kept.id]);
    }
  });

  test('enqueues in flight together cannot overfill the queue: the room they take counts at once', async () => {
    // An asynchronous store (IndexedDB): tasks are indexed only after their write commits.
    const s = setup({ maxQueued: 2, async: true });
    const singles = await Promise.allSettled([1, 2, 3].map((i) => s.admission.enqueue('job', i, undefined)));
    expect(singles.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(((singles[2] as PromiseRejectedResult).reason as Error).message).toBe(
      'queue is full: 2 live tasks, maxQueued is 2, 1 more rejected',
    );
    expect((await s.stored()).map((r) => r.input)).toEqual([1, 2]);
    // Batches wait for their preparation even on the memory store: two in flight at once.
    const m = setup({ maxQueued: 3 });
    const batches = await Promise.allSettled([
      m.admission.enqueueMany([
        { name: 'job', input: 'a' },
        { name: 'job', input: 'b' },
      ]),
      m.admission.enqueueMany([
        { name: 'job', input: 'c' },
        { name: 'job', input: 'd' },
      ]),
    ]);
    expect(batches.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((await m.stored()).map((r) => r.input)).toEqual(['a', 'b']);
    expect(m.index.size).toBe(2);
    // Once the writes are done, only what is live counts.
    await m.admission.enqueue('job', 'e', undefined);
    expect(m.index.size).toBe(3);
  });

  test('SchedulerClosedError while closing: enqueue, enqueueMany, retry', async () => {
    const s = setup();
    s.state.closing = true;
    for (const p of [
      s.admission.enqueue('job', 1, undefined),
      s.admission.enqueue('job', 1, { priority: 'low' }),
      s.admission.enqueueMany([{ name: 'job', input: null }]),
      s.admission.retry('p-0'),
    ]) {
      const error = await rejection(p);
      expect(error.name).toBe('SchedulerClosedError');
      expect(error.message).toMatch(/^scheduler "unit" is closed; (enqueue\("job"\)|enqueueMany\(\)|retry\(p-0\)) rejected$/);
    }
    await s.expectNothingStored();
  });

  test('a close begun while a batch is being prepared refuses the batch, storing nothing', async () => {
    const s = setup();
    const p = s.admission.enqueueMany([
      { name: 'job', input: null },
      { name: 'job', input: null },
    ]);
    s.state.closing = true;
    const error = await rejection(p);
    expect(error.name).toBe('SchedulerClosedError');
    await s.expectNothingStored();
  });
});

describe('Admission: enqueueMany is all or nothing', () => {
  test('a bad item anywhere refuses the whole batch, naming the item', async () => {
    const s = setup();
    const good = { name: 'job', input: 1 };
    const cases: [unknown[], RegExp][] = [
      [[good, good, { name: 'job', options: { priority: 9 } }], /^Expected items\[2\]\.options\.priority to be one of /],
      [[good, { name: '' }], /^Expected items\[1\]\.name to be a task name/],
      [[good, { name: 'job', input: Symbol('s') }], /^items\[1\]\.input cannot be structured-cloned: it holds a symbol$/],
      [[good, null], /^Expected items\[1\] to be an object, got null$/],
      [[good, { name: 'job', ref: '' }], /^Expected items\[1\]\.ref to be a non-empty string, got ""$/],
      [
        [
          { name: 'job', ref: 'a' },
          { name: 'job', ref: 'a' },
        ],
        /^Expected items\[1\]\.ref to be unique in the batch, got "a" \(items\[0\]\.ref too\)$/,
      ],
      [[good, { name: 'job', options: { key: 'k' } }], /^Expected items\[1\]\.options to have no signal or key \(use enqueue for those\)$/],
      [
        [good, { name: 'job', options: { retry: { attempts: 2, backoff: () => 5 } } }, { name: 'job', options: { timeoutMs: -5 } }],
        /items\[2\]\.options\.timeoutMs/,
      ],
    ];
    for (const [items, message] of cases) {
      const error = await rejection(s.admission.enqueueMany(items as EnqueueItem<TaskMap>[]));
      expect(error.message).toMatch(message);
    }
    expect((await rejection(s.admission.enqueueMany('job' as never))).message).toBe('Expected items to be an array, got "job"');
    await s.expectNothingStored();
  });

  test('an options object shared by many items is the same settings for each', async () => {
    const s = setup();
    const options = { priority: 'high', delayMs: 500, timeoutMs: 7 } as const;
    const ids = await s.admission.enqueueMany([
      { name: 'a', input: 1, options },
      { name: 'b', input: 2, options },
      { name: 'c', input: 3, options },
    ]);
    expect((await s.stored()).map((r) => [r.id, r.priority, r.runAt, r.timeoutMs, r.createdAt])).toEqual(
      ids.map((id) => [id, 1, T0 + 500, 7, T0]),
    );
    expect(s.index.size).toBe(3);
    expect(s.index.nextWakeAt()).toBe(T0 + 500);
  });

  for (const listen of [false, true])
    test(`a stored batch is indexed, counted and pumped once (${listen ? 'records made now, for listeners' : 'records made lazily'})`, async () => {
      const s = setup({ listen });
      const ids = await s.admission.enqueueMany([
        { name: 'a', input: 'x' },
        { name: 'b', input: null },
      ]);
      expect(ids).toEqual(['p-0', 'p-1']);
      expect((await s.stored()).map((r) => [r.id, r.name, r.input, r.seq, r.status])).toEqual([
        ['p-0', 'a', 'x', 0, 'queued'],
        ['p-1', 'b', null, 1, 'queued'],
      ]);
      expect(s.counters.counts.submitted).toBe(2);
      expect(s.state.pumps).toBe(1);
      expect(s.events.map((e) => [e.type, e.task.id])).toEqual(
        listen
          ? [
              ['enqueued', 'p-0'],
              ['enqueued', 'p-1'],
            ]
          : [],
      );
    });
});

describe('Admission: idempotency keys', () => {
  test('a key naming a live task returns its handle and stores nothing more', async () => {
    const s = setup();
    const first = await s.admission.enqueue('job', 1, { key: 'k' });
    const again = await s.admission.enqueue('job', 2, { key: 'k', priority: 'critical' });
    expect(again).toBe(first);
    expect((await s.stored()).map((r) => [r.id, r.input, r.key])).toEqual([[first.id, 1, 'k']]);
    expect(s.index.size).toBe(1);
    expect(s.live.keys.get('k')).toBe(first.id);
    const other = await s.admission.enqueue('job', 3, { key: 'other' });
    expect(other.id).not.toBe(first.id);
  });

  test('a call with a live key is validated all the same: options, name and input', async () => {
    const s = setup({ names: ['job'] });
    const live = await s.admission.enqueue('job', 1, { key: 'k' });
    const bad: [string, unknown, EnqueueOptions, string][] = [
      ['job', 1, { key: 'k', timeoutMs: -1 }, 'Expected timeoutMs to be a finite number >= 0, got -1'],
      ['', 1, { key: 'k' }, 'Expected a task name (non-empty string), got ""'],
      ['job', { f: () => 1 }, { key: 'k' }, 'input cannot be structured-cloned: it holds a function'],
      ['crop', 1, { key: 'k' }, 'no task named "crop" in the worker module (it defines "job")'],
    ];
    for (const [name, input, options, message] of bad)
      expect((await rejection(s.admission.enqueue(name, input, options))).message).toBe(message);
    expect(await s.admission.enqueue('job', 2, { key: 'k' })).toBe(live);
    expect((await s.stored()).map((r) => r.input)).toEqual([1]);
  });

  test('two enqueues with one key while the first is being stored get one task', async () => {
    const s = setup({ async: true });
    const [a, b] = await Promise.all([s.admission.enqueue('job', 1, { key: 'k' }), s.admission.enqueue('job', 2, { key: 'k' })]);
    expect(b).toBe(a);
    expect((await s.stored()).map((r) => r.input)).toEqual([1]);
  });

  test('once its task settles, a key makes a new task', async () => {
    const s = setup();
    const first = await s.admission.enqueue('job', 1, { key: 'k' });
    const [record] = s.memory.read([first.id]) as [TaskRecord];
    record.status = 'completed';
    s.live.settle(record, true, 'done');
    expect(s.live.keys.has('k')).toBe(false);
    const second = await s.admission.enqueue('job', 2, { key: 'k' });
    expect(second.id).not.toBe(first.id);
    expect(s.live.keys.get('k')).toBe(second.id);
  });
});

describe('Admission: ids and seqs', () => {
  test('ids are the prefix and a counter; seqs follow call order, across enqueue and enqueueMany', async () => {
    const s = setup();
    await s.admission.enqueue('job', 'a', undefined);
    await s.admission.enqueue('job', 'b', { priority: 'low' });
    await s.admission.enqueueMany([
      { name: 'job', input: 'c' },
      { name: 'job', input: 'd' },
    ]);
    await s.admission.enqueue('job', 'e', undefined);
    expect((await s.stored()).map((r) => [r.id, r.seq, r.input, r.createdAt, r.runAt])).toEqual([
      ['p-0', 0, 'a', T0, T0],
      ['p-1', 1, 'b', T0, T0],
      ['p-2', 2, 'c', T0, T0],
      ['p-3', 3, 'd', T0, T0],
      ['p-4', 4, 'e', T0, T0],
    ]);
  });

  test('an enqueue made while a batch is prepared orders after the whole batch', async () => {
    const s = setup();
    const batch = s.admission.enqueueMany([
      { name: 'job', input: 'b0' },
      { name: 'job', input: 'b1' },
      { name: 'job', input: 'b2' },
    ]);
    const single = s.admission.enqueue('job', 'single', undefined);
    await Promise.all([batch, single]);
    expect((await s.stored()).map((r) => [r.input, r.seq])).toEqual([
      ['b0', 0],
      ['b1', 1],
      ['b2', 2],
      ['single', 3],
    ]);
    const order: unknown[] = [];
    for (let e = s.index.next(T0); e; e = s.index.next(T0)) order.push(e.id);
    expect(order).toEqual(['p-0', 'p-1', 'p-2', 'p-3']);
  });

  test('a refused batch still uses up its ids and seqs: nothing reuses them', async () => {
    const s = setup();
    await rejection(
      s.admission.enqueueMany([
        { name: 'job', input: null },
        { name: '', input: null },
      ]),
    );
    const handle = await s.admission.enqueue('job', 1, undefined);
    expect(handle.id).toBe('p-2');
    expect((await s.stored()).map((r) => r.seq)).toEqual([2]);
  });

  test('noteSeq: new tasks order after the recovered ones', async () => {
    const s = setup();
    s.admission.noteSeq(41);
    s.admission.noteSeq(7);
    await s.admission.enqueue('job', 1, undefined);
    expect((await s.stored()).map((r) => r.seq)).toEqual([42]);
  });
});

describe('Admission: options become the record', () => {
  test('priority, delay, timeout, retry and key are stored; a delayed task is indexed delayed', async () => {
    const s = setup();
    const handle = await s.admission.enqueue('job', 1, {
      priority: 'critical',
      delayMs: 250,
      timeoutMs: 99,
      retry: { attempts: 5 },
      key: 'once',
    });
    const [record] = await s.stored();
    expect(record).toMatchObject({ id: handle.id, priority: 0, runAt: T0 + 250, timeoutMs: 99, key: 'once', status: 'queued', attempt: 0 });
    expect(record?.retry.attempts).toBe(5);
    expect(s.index.get(handle.id)).toMatchObject({ priority: 0, readyAt: T0 + 250, delayed: true });
    expect(s.index.readyCount(T0)).toBe(0);
    expect(s.index.readyCount(T0 + 250)).toBe(1);
  });

  test("the caller's signal cancels the task through the host", async () => {
    const s = setup();
    const controller = new AbortController();
    const handle = await s.admission.enqueue('job', 1, { signal: controller.signal });
    controller.abort();
    await flush();
    expect(s.cancelled).toEqual([[handle.id, 'the caller aborted the signal']]);
  });
});

describe('Admission: retry', () => {
  test('refuses an unknown id and a task that has not failed; re-queues a failed one after everything else', async () => {
    const s = setup();
    expect((await rejection(s.admission.retry('nope'))).message).toBe(
      'Expected the id of a stored task, got "nope" (unknown or trimmed by retention)',
    );
    const a = await s.admission.enqueue('job', 1, undefined);
    const b = await s.admission.enqueue('job', 2, undefined);
    expect((await rejection(s.admission.retry(a.id))).message).toBe(
      `Expected task ${a.id} to be failed, cancelled or skipped to retry it, got status "queued"`,
    );
    s.index.remove(a.id);
    const [record] = s.memory.read([a.id]) as [TaskRecord];
    record.status = 'failed';
    s.memory.writeNow([record]);
    const handle = await s.admission.retry(a.id);
    expect(handle.id).toBe(a.id);
    expect(handle.status).toBe('queued');
    const order: unknown[] = [];
    for (let e = s.index.next(T0); e; e = s.index.next(T0)) order.push(e.id);
    expect(order).toEqual([b.id, a.id]);
  });
});
