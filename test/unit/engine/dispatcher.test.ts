import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { Dispatcher, type DispatcherHost } from '../../../src/engine/dispatcher.js';
import type { DispatchGate } from '../../../src/engine/gates.js';
import { LiveTasks } from '../../../src/engine/live-tasks.js';
import { LoadModel } from '../../../src/engine/load-model.js';
import { type NormalizedDefaults, newRecord } from '../../../src/engine/task-settings.js';
import { Tells } from '../../../src/engine/tells.js';
import { WriteQueue } from '../../../src/engine/write-queue.js';
import { WorkerCrashedError, WorkerLoadError } from '../../../src/errors.js';
import { entryOf, type IndexEntry } from '../../../src/index-entry.js';
import { MemoryStore } from '../../../src/memory-store.js';
import { normalizePoolOptions } from '../../../src/pool.js';
import type { TaskStore } from '../../../src/store.js';
import { TaskIndex } from '../../../src/task-index.js';
import type { FailureOutcome } from '../../../src/transition.js';
import type { PriorityLevel, SerializedError, TaskRecord } from '../../../src/types.js';
import { type FakeWorkerHandle, fakeWorkerHandle, flush } from './fakes.js';

const T0 = 1_000_000;
const defaults: NormalizedDefaults = { timeoutMs: 30_000, retry: { stored: { attempts: 1, backoff: 'function' } }, priority: 2 };

/** A memory store whose asynchronous writes commit only when the test says so, and that has no `writeNow`. */
class HeldStore extends MemoryStore {
  readonly held: { ids: string[]; commit: () => void }[] = [];
  override write(records: readonly TaskRecord[]): Promise<void> {
    return new Promise((resolve) => {
      this.held.push({
        ids: records.map((r) => r.id),
        commit: () => {
          super.writeNow(records);
          resolve();
        },
      });
    });
  }
}

function withoutWriteNow(store: HeldStore): TaskStore {
  return {
    kind: 'memory',
    recover: () => store.recover(),
    write: (r) => store.write(r),
    read: (ids) => store.read(ids),
    list: (q) => store.list(q),
    remove: (ids) => store.remove(ids),
    trim: (l) => store.trim(l),
    close: () => store.close(),
  };
}

interface Setup {
  workers?: number;
  gates?: DispatchGate[];
  /** Measured run time of the tasks named 'job' and 'held' (null: never measured, so 1 ms, one call per busy worker). */
  costMs?: number | null;
  held?: HeldStore;
}

function setup({ workers = 1, gates = [], costMs = 0.001, held }: Setup = {}) {
  const clock = new ManualClock(T0);
  const memory = held ?? new MemoryStore();
  const store = held ? withoutWriteNow(held) : memory;
  const index = new TaskIndex();
  const writes = new WriteQueue({ store, warn: () => {} });
  const live: LiveTasks = new LiveTasks({
    handleHost: { cancel: async () => false },
    get tells() {
      return tells;
    },
    onSettled: () => {},
  });
  const tells = new Tells({ writes, handles: live.handles, dispatchEvent: () => true, onDelivered: () => {} });
  const load = new LoadModel();
  if (costMs !== null) for (const name of ['job', 'held']) load.observe(name, costMs);
  const fakes: FakeWorkerHandle[] = Array.from({ length: workers }, (_, i) => fakeWorkerHandle(i + 1, clock));
  const state = { paused: false, closed: false, drained: 0 };
  const ensured: number[] = [];
  const busy: [number, string | undefined][] = [];
  const sent: number[] = [];
  const failed: [TaskRecord, FailureOutcome, SerializedError][] = [];
  const pool: DispatcherHost['pool'] & { breakerOpen: boolean; breakerError?: Error } = {
    available: () => fakes.map((f) => f.handle).filter((h) => h.alive && !h.doomed),
    breakerOpen: false,
    breakerError: undefined,
    ensure: (demand) => ensured.push(demand),
    options: normalizePoolOptions({ onBreakerOpen: 'fail' }),
  };
  const host: DispatcherHost = {
    clock,
    store,
    index,
    live,
    load,
    writes,
    pool,
    gates,
    owner: 'me',
    paused: () => state.paused,
    closed: () => state.closed,
    hold: () => tells.hold(),
    release: () => tells.release(),
    // No test here expects a warning: one fails the test.
    warn: (e) => {
      throw e;
    },
    onBusy: (worker, taskId) => busy.push([worker.id, taskId]),
    onSent: (worker) => sent.push(worker.id),
    onFailed: (record, failure, error) => failed.push([record, failure, error]),
    onCancelled: () => {},
    checkDrained: () => state.drained++,
  };
  const dispatcher = new Dispatcher(host);
  let seq = 0;
  /** A stored, indexed queued task. */
  const add = (
    id: string,
    { priority = 2, runAt = clock.now(), name = 'job' }: { priority?: PriorityLevel; runAt?: number; name?: string } = {},
  ) => {
    const record = newRecord(defaults, id, seq++, name, id, { priority, timeoutMs: 1_000, runAt, retry: defaults.retry }, clock.now());
    memory.writeNow([record]);
    index.add(entryOf(record), clock.now());
    return record;
  };
  const workerOf = (i: number) => fakes[i] as FakeWorkerHandle;
  /** Task ids sent to each worker, in order. */
  const runs = () => fakes.map((f) => f.worker.runIds());
  const record = (id: string) => memory.read([id])[0] as TaskRecord;
  return { clock, memory, index, live, load, pool, state, dispatcher, add, workerOf, runs, record, ensured, busy, sent, failed };
}

describe('Dispatcher: order', () => {
  test('priority first, then readyAt, then seq', () => {
    const s = setup();
    s.add('normal-now-1', { priority: 2 });
    s.add('critical', { priority: 0 });
    s.add('normal-now-2', { priority: 2 });
    s.add('background', { priority: 4 });
    s.add('normal-earlier', { priority: 2, runAt: T0 - 10 });
    s.add('high-later', { priority: 1, runAt: T0 - 5 });
    s.add('high-earliest', { priority: 1, runAt: T0 - 50 });
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['critical', 'high-earliest', 'high-later', 'normal-earlier', 'normal-now-1', 'normal-now-2', 'background']]);
    expect(s.index.size).toBe(0);
    expect(s.live.active.size).toBe(7);
    expect(s.busy).toEqual([[1, 'critical']]);
    expect(s.sent).toEqual([1]);
  });

  test('a started task is running in the store, leased to this owner, before its worker gets it', () => {
    const s = setup();
    s.add('a');
    s.dispatcher.pump();
    expect(s.record('a')).toMatchObject({ status: 'running', attempt: 1, startedAt: T0, lease: { owner: 'me', until: T0 + 30_000 } });
    const active = s.live.active.get('a');
    expect(active?.record).toBe(s.record('a'));
    expect(active?.call).toBe(s.workerOf(0).handle.calls[0]);
    expect(active?.call?.startedAt).toBe(T0);
  });

  test('tasks of unknown cost go one per worker per pump, least loaded worker first; the rest ask for workers', () => {
    const s = setup({ workers: 3, costMs: null });
    s.load.setLoad(s.workerOf(0).handle, 0.5);
    for (const id of ['a', 'b', 'c', 'd', 'e']) s.add(id);
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['c'], ['a'], ['b']]);
    expect(s.index.size).toBe(2);
    expect(s.ensured).toEqual([2]);
    // Busy workers take nothing more of unknown cost until a call finishes.
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['c'], ['a'], ['b']]);
  });

  test('a doomed or exited worker is given nothing', () => {
    const s = setup({ workers: 2, costMs: null });
    s.workerOf(0).handle.doomed = true;
    s.workerOf(1).handle.terminate(new WorkerCrashedError('gone'));
    s.add('a');
    s.dispatcher.pump();
    expect(s.runs()).toEqual([[], []]);
    expect(s.index.size).toBe(1);
    expect(s.ensured).toEqual([1]);
  });
});

describe('Dispatcher: delayed tasks and pause', () => {
  test('a delayed task waits for the clock: the wake timer starts it at its runAt', () => {
    const s = setup();
    s.add('later', { priority: 0, runAt: T0 + 500 });
    s.add('now', { priority: 4 });
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['now']]);
    expect(s.clock.pending()).toEqual([T0 + 500]);
    s.clock.advance(499);
    expect(s.runs()).toEqual([['now']]);
    s.clock.advance(1);
    expect(s.runs()).toEqual([['now', 'later']]);
    expect(s.record('later').startedAt).toBe(T0 + 500);
    expect(s.clock.pending()).toEqual([]);
  });

  test('an earlier delayed task moves the wake timer forward; a later one leaves it', () => {
    const s = setup();
    s.add('b', { runAt: T0 + 500 });
    s.dispatcher.pump();
    s.add('a', { runAt: T0 + 200 });
    s.dispatcher.pump();
    s.add('c', { runAt: T0 + 900 });
    s.dispatcher.pump();
    expect(s.clock.pending()).toEqual([T0 + 200]);
    s.clock.advance(200);
    expect(s.runs()).toEqual([['a']]);
    expect(s.clock.pending()).toEqual([T0 + 500]);
    s.clock.advance(700);
    expect(s.runs()).toEqual([['a', 'b', 'c']]);
  });

  test('paused: nothing starts, no worker is asked for, no wake timer; resuming starts them', () => {
    const s = setup();
    s.add('ready');
    s.add('delayed', { runAt: T0 + 100 });
    s.state.paused = true;
    s.dispatcher.pump();
    s.clock.advance(1_000);
    expect(s.runs()).toEqual([[]]);
    expect(s.ensured).toEqual([]);
    expect(s.clock.pending()).toEqual([]);
    expect(s.index.size).toBe(2);
    s.state.paused = false;
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['ready', 'delayed']]);
  });

  test('pausing drops a wake timer already armed', () => {
    const s = setup();
    s.add('delayed', { runAt: T0 + 100 });
    s.dispatcher.pump();
    expect(s.clock.pending()).toEqual([T0 + 100]);
    s.state.paused = true;
    s.dispatcher.armWake(s.clock.now());
    expect(s.clock.pending()).toEqual([]);
  });

  test('closed: pump and schedulePump do nothing; stop() drops the wake timer', async () => {
    const s = setup();
    s.add('delayed', { runAt: T0 + 100 });
    s.dispatcher.pump();
    s.dispatcher.stop();
    expect(s.clock.pending()).toEqual([]);
    s.add('ready');
    s.state.closed = true;
    s.dispatcher.pump();
    s.dispatcher.schedulePump();
    await flush();
    expect(s.runs()).toEqual([[]]);
  });

  test('schedulePump pumps once, after the current turn', async () => {
    const s = setup();
    s.add('a');
    s.dispatcher.schedulePump();
    s.dispatcher.schedulePump();
    expect(s.runs()).toEqual([[]]);
    await flush();
    expect(s.runs()).toEqual([['a']]);
    expect(s.state.drained).toBe(1);
  });
});

describe('Dispatcher: gates', () => {
  /** A gate holding back tasks named `held` until `until`, recording what it is asked. */
  function holdUntil(until: number, held = 'held') {
    const asked: [string, number][] = [];
    const gate: DispatchGate = {
      name: 'test',
      notBefore: (entry: IndexEntry, now: number) => {
        asked.push([entry.id, now]);
        return entry.name === held ? until : now;
      },
    };
    return { gate, asked };
  }

  test('a gate naming a later time re-queues the task delayed; it starts once the clock gets there', () => {
    const { gate, asked } = holdUntil(T0 + 1_000);
    const s = setup({ gates: [gate] });
    s.add('h', { priority: 0, name: 'held' });
    s.add('free', { priority: 3 });
    s.dispatcher.pump();
    // Held back, it blocks nothing behind it and holds no worker.
    expect(s.runs()).toEqual([['free']]);
    expect(s.index.get('h')).toMatchObject({ priority: 0, readyAt: T0 + 1_000, seq: 0, delayed: true });
    expect(s.live.active.has('h')).toBe(false);
    expect(s.record('h').status).toBe('queued');
    expect(s.clock.pending()).toEqual([T0 + 1_000]);
    s.clock.advance(999);
    expect(s.runs()).toEqual([['free']]);
    s.clock.advance(1);
    expect(s.runs()).toEqual([['free', 'h']]);
    expect(asked.filter(([id]) => id === 'h')).toEqual([
      ['h', T0],
      ['h', T0 + 1_000],
    ]);
  });

  test('with several gates the latest time wins; a time not after now lets the task start', () => {
    const early = holdUntil(T0 + 100);
    const late = holdUntil(T0 + 300);
    const past = holdUntil(T0 - 1, 'job');
    const s = setup({ gates: [early.gate, late.gate, past.gate] });
    s.add('h', { name: 'held' });
    s.add('j');
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['j']]);
    expect(s.index.get('h')?.readyAt).toBe(T0 + 300);
    s.clock.advance(299);
    expect(s.runs()).toEqual([['j']]);
    s.clock.advance(1);
    expect(s.runs()).toEqual([['j', 'h']]);
  });

  test('a gate is asked only when a worker could take the task', () => {
    const { gate, asked } = holdUntil(T0 + 100);
    const s = setup({ workers: 0, gates: [gate] });
    s.add('h', { name: 'held' });
    s.dispatcher.pump();
    expect(asked).toEqual([]);
    expect(s.index.get('h')?.delayed).toBe(false);
  });
});

describe('Dispatcher: two-phase send', () => {
  test('the worker gets its calls only once their running state has committed', async () => {
    const held = new HeldStore();
    const s = setup({ held });
    s.add('a');
    s.add('b');
    s.dispatcher.pump();
    expect(held.held.map((h) => h.ids)).toEqual([['a', 'b']]);
    expect(s.runs()).toEqual([[]]);
    expect(s.live.active.get('a')?.record?.status).toBe('running');
    // Reserved for the worker meanwhile: another pump sends nothing twice.
    s.dispatcher.pump();
    await flush();
    expect(held.held).toHaveLength(1);
    held.held[0]?.commit();
    await flush();
    expect(s.runs()).toEqual([['a', 'b']]);
    expect(s.record('a').status).toBe('running');
  });

  test('a worker that exits while the write is in flight: its tasks go back to the queue, unstarted', async () => {
    const held = new HeldStore();
    const s = setup({ held });
    s.add('a');
    s.dispatcher.pump();
    s.workerOf(0).handle.terminate(new WorkerCrashedError('gone'));
    held.held[0]?.commit();
    await flush();
    expect(s.runs()).toEqual([[]]);
    expect(s.live.active.size).toBe(0);
    expect(s.index.get('a')).toMatchObject({ seq: 0, readyAt: T0, delayed: false });
    // The running state is undone, and the undo written behind it.
    expect(held.held.map((h) => h.ids)).toEqual([['a'], ['a']]);
    held.held[1]?.commit();
    await flush();
    expect(s.record('a')).toMatchObject({ status: 'queued', attempt: 0, lease: undefined });
  });

  test('requeueReserved: the calls reserved for a worker that exited go back in line', async () => {
    const held = new HeldStore();
    const s = setup({ held });
    s.add('a');
    s.add('b');
    s.dispatcher.pump();
    const { handle } = s.workerOf(0);
    s.dispatcher.requeueReserved(handle);
    expect(s.live.active.size).toBe(0);
    expect(s.index.size).toBe(2);
    const order: string[] = [];
    for (let e = s.index.next(T0); e; e = s.index.next(T0)) order.push(e.id);
    expect(order).toEqual(['a', 'b']);
  });
});

describe('Dispatcher: records and the breaker', () => {
  test('a task whose stored record is already finished is dropped, not sent', () => {
    const s = setup();
    s.add('a');
    s.add('b');
    const a = s.record('a');
    a.status = 'cancelled';
    s.memory.writeNow([a]);
    s.dispatcher.pump();
    expect(s.runs()).toEqual([['b']]);
    expect(s.live.active.has('a')).toBe(false);
    expect(s.index.has('a')).toBe(false);
  });

  test("breaker open, onBreakerOpen 'fail' and no worker: every ready task fails with the breaker's error", () => {
    const s = setup({ workers: 0 });
    s.pool.breakerOpen = true;
    // A breaker opens on load failures: its error is a WorkerLoadError, never retried.
    s.pool.breakerError = new WorkerLoadError('module keeps failing');
    s.add('a');
    s.add('b');
    s.add('later', { runAt: T0 + 100 });
    s.dispatcher.pump();
    expect(s.failed.map(([r, f, e]) => [r.id, r.status, f.kind, e.message])).toEqual([
      ['a', 'failed', 'fail', 'module keeps failing'],
      ['b', 'failed', 'fail', 'module keeps failing'],
    ]);
    expect(s.record('a').status).toBe('failed');
    expect(s.index.size).toBe(1);
  });
});
