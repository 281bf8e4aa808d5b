import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { Admission } from '../../../src/engine/admission.js';
import { Dependencies } from '../../../src/engine/dependencies.js';
import { normalizeDependsOn, resolveGraph } from '../../../src/engine/dependency-graph.js';
import { Emitter } from '../../../src/engine/emitter.js';
import { FinishedKeys } from '../../../src/engine/finished-keys.js';
import { LiveTasks } from '../../../src/engine/live-tasks.js';
import { RecordEdits } from '../../../src/engine/record-edits.js';
import type { NormalizedDefaults } from '../../../src/engine/task-settings.js';
import { Tells } from '../../../src/engine/tells.js';
import { WriteQueue } from '../../../src/engine/write-queue.js';
import { CancelledError, serializeError } from '../../../src/errors.js';
import type { TaskEvent } from '../../../src/events.js';
import { MemoryStore } from '../../../src/memory-store.js';
import { Counters } from '../../../src/metrics.js';
import type { ListQuery, TaskStore } from '../../../src/store.js';
import { TaskIndex } from '../../../src/task-index.js';
import { cancelRecord, completeAttempt, failAttempt } from '../../../src/transition.js';
import type { Dependency, TaskRecord } from '../../../src/types.js';
import { flush } from './fakes.js';

/**
 * The dependency bookkeeping through its host: the real store, index, write queue, live tasks and
 * tells, with Admission in front as the scheduler wires it. A task "ends" the way the outcomes part
 * ends it: its record changed, persisted, then settled (which tells the dependencies).
 */

const T0 = 1_000_000;
const defaults: NormalizedDefaults = {
  timeoutMs: 30_000,
  retry: { stored: { attempts: 1, backoff: { kind: 'fixed', delayMs: 10, maxMs: 10, factor: 1, jitter: false } } },
  priority: 2,
};

/**
 * A store with IndexedDB's manners: reads and writes are asynchronous and hand over copies, and
 * the test can hold reads (`holdReads`) to let things happen while one is in flight.
 */
class CopyingStore implements TaskStore {
  readonly kind = 'indexeddb' as const;
  readonly inner = new MemoryStore();
  /** Every id read, in order. */
  readonly readIds: string[] = [];
  /** Every record written, as written (copies). */
  readonly written: TaskRecord[] = [];
  #held: (() => void)[] | undefined;

  holdReads(): void {
    this.#held ??= [];
  }

  /** Lets the held reads answer (with the state as of when each was made) and stops holding. */
  releaseReads(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const go of held) go();
  }

  recover = () => this.inner.recover().then((rs) => rs.map((r) => structuredClone(r)));
  write(records: readonly TaskRecord[]): Promise<void> {
    const copies = records.map((r) => structuredClone(r));
    for (const r of copies) this.written.push(r);
    return Promise.resolve().then(() => this.inner.write(copies));
  }
  read(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    for (const id of ids) this.readIds.push(id);
    if (!this.#held) return Promise.resolve().then(() => this.peek(ids));
    const snapshot = this.peek(ids);
    return new Promise((resolve) => this.#held?.push(() => resolve(snapshot)));
  }
  /** Copies of the records as they are now, without counting as a read. */
  peek(ids: readonly string[]): (TaskRecord | undefined)[] {
    return this.inner.read(ids).map((r) => (r ? structuredClone(r) : undefined));
  }
  list = (q: ListQuery) => this.inner.list(q);
  remove = (ids: readonly string[]) => this.inner.remove(ids);
  trim = (l: { completed: number; failed: number }) => this.inner.trim(l);
  close = () => this.inner.close();
}

function setup(store: TaskStore = new MemoryStore()) {
  const clock = new ManualClock(T0);
  const index = new TaskIndex();
  const writes = new WriteQueue({ store, warn: (e) => warnings.push(e) });
  const warnings: Error[] = [];
  const events: TaskEvent[] = [];
  const live: LiveTasks = new LiveTasks({
    handleHost: { cancel: async () => false },
    get tells() {
      return tells;
    },
    onSettled: (record) => dependencies.finished(record),
  });
  const tells = new Tells({ writes, handles: live.handles, dispatchEvent: (e) => events.push(e as TaskEvent) > 0, onDelivered: () => {} });
  const emitter = new Emitter({ listens: () => true, dispatchEvent: (e) => events.push(e as TaskEvent) > 0 }, tells);
  const counters = new Counters();
  const state = { pumps: 0 };
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
  const admission = new Admission({
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
    pool: { names: undefined },
    defaults,
    maxQueued: Number.POSITIVE_INFINITY,
    idPrefix: 'p-',
    closing: () => false,
    schedulePump: () => state.pumps++,
    checkDrained: () => {},
    get: async () => undefined,
    cancel: () => {},
  });
  const read = async (id: string) => (await store.read([id]))[0] as TaskRecord;
  /** The record as it is now, synchronously and without a read that counts (or is held). */
  const peek = (id: string) => (store instanceof CopyingStore ? store.peek([id])[0] : (store as MemoryStore).read([id])[0]) as TaskRecord;
  /** Ends a task as the outcomes part would: out of the index, changed, persisted, settled. */
  const end = async (id: string, how: 'completed' | 'failed' | 'cancelled', value: unknown = null) => {
    endNow(id, how, value);
    await flush();
  };
  const endNow = (id: string, how: 'completed' | 'failed' | 'cancelled', value: unknown = null) => {
    index.remove(id);
    const record = peek(id);
    if (how === 'completed') completeAttempt(record, value, clock.now());
    else if (how === 'failed') {
      record.attempt = record.retry.attempts; // its last attempt: the failure is final
      failAttempt(record, { name: 'Error', code: 'E_BOOM', message: String(value) }, clock.now());
    } else cancelRecord(record, serializeError(new CancelledError('cancelled by the test')), clock.now());
    writes.persist([record]);
    live.settle(record, how === 'completed', value);
  };
  const types = () => events.map((e) => `${e.type}:${e.task.id}`);
  return { clock, store, index, writes, live, counters, state, dependencies, admission, read, end, endNow, types, warnings };
}

describe('normalizeDependsOn', () => {
  test("ids and { id, on } entries, 'success' by default; an empty list is none", () => {
    expect(normalizeDependsOn(['a', { id: 'b' }, { id: 'c', on: 'failure' }, { id: 'd', on: 'completion' }], 'dependsOn')).toEqual([
      { id: 'a', on: 'success' },
      { id: 'b', on: 'success' },
      { id: 'c', on: 'failure' },
      { id: 'd', on: 'completion' },
    ]);
    expect(normalizeDependsOn([], 'dependsOn')).toBeUndefined();
  });

  test('a bad value says what was expected and where', () => {
    const bad: [unknown, string][] = [
      [undefined, 'Expected x.dependsOn to be an array of task ids or { id, on }, got undefined'],
      [[''], 'Expected x.dependsOn[0] to be a task id (non-empty string) or { id, on }, got ""'],
      [[null], 'Expected x.dependsOn[0] to be a task id (non-empty string) or { id, on }, got null'],
      [['a', { id: 3 }], 'Expected x.dependsOn[1].id to be a task id (non-empty string), got 3'],
      [[{ id: 'a', on: 'never' }], `Expected x.dependsOn[0].on to be 'success', 'failure' or 'completion', got "never"`],
      [[{ id: 'a', when: 'failure' }], 'Expected no option "x.dependsOn[0].when"'],
      [['a', { id: 'a', on: 'failure' }], 'Expected x.dependsOn to name each task once, got "a" twice'],
    ];
    for (const [value, message] of bad) expect(() => normalizeDependsOn(value, 'x.dependsOn')).toThrow(message);
  });
});

describe('resolveGraph', () => {
  const rec = (id: string) => ({ id }) as TaskRecord;
  const deps = (...ids: string[]): Dependency[] => ids.map((id) => ({ id, on: 'success' }));
  const where = (i: number) => `items[${i}].options.dependsOn`;

  test('refs become the ids of their items (a ref wins over an id), and the order puts dependencies first', () => {
    const records = ['p-0', 'p-1', 'p-2', 'p-3'].map(rec);
    const shared = deps('last', 'p-1');
    // 'p-1' is also the id of item 1: as a ref it means item 0.
    const refs = new Map([
      ['first', 0],
      ['last', 3],
      ['p-1', 0],
    ]);
    const order = resolveGraph(records, [undefined, shared, shared, deps('first')], refs, where);
    expect(records.map((r) => r.dependsOn?.map((d) => d.id))).toEqual([undefined, ['p-3', 'p-0'], ['p-3', 'p-0'], ['p-0']]);
    // Items given one options object share one resolved list.
    expect(records[1]?.dependsOn).toBe(records[2]?.dependsOn);
    expect(order).toEqual([0, 3, 1, 2]);
  });

  test('no dependency inside the call: no order, ids kept as given', () => {
    const records = [rec('p-0')];
    expect(resolveGraph(records, [deps('x', 'y')], undefined, () => 'dependsOn')).toBeUndefined();
    expect(records[0]?.dependsOn).toEqual(deps('x', 'y'));
  });

  test('a graph whose items come after what they depend on (a fan-out, a chain in order) keeps the call order', () => {
    const records = ['p-0', 'p-1', 'p-2', 'p-3'].map(rec);
    const refs = new Map([
      ['root', 0],
      ['one', 1],
    ]);
    const fan = deps('root');
    expect(resolveGraph(records, [undefined, fan, fan, deps('one', 'root')], refs, where)).toBeUndefined();
    expect(records.map((r) => r.dependsOn?.map((d) => d.id))).toEqual([undefined, ['p-0'], ['p-0'], ['p-1', 'p-0']]);
    // The same chain given last item first: sorted.
    const back = ['q-0', 'q-1', 'q-2'].map(rec);
    const backRefs = new Map([
      ['b', 1],
      ['c', 2],
    ]);
    expect(resolveGraph(back, [deps('b'), deps('c'), undefined], backRefs, where)).toEqual([2, 1, 0]);
  });

  test('a self-dependency and a cycle throw DependencyError naming them', () => {
    const records = ['p-0', 'p-1', 'p-2'].map(rec);
    const refs = new Map([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    expect(() => resolveGraph(records, [deps('a')], refs, where)).toThrow(
      'items[0].options.dependsOn depends on itself (a): a task cannot wait for its own end',
    );
    expect(() => resolveGraph([rec('p-9')], [deps('p-9')], undefined, () => 'dependsOn')).toThrow('dependsOn depends on itself (p-9)');
    try {
      resolveGraph(records, [deps('c'), deps('a'), deps('b')], refs, where);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).name).toBe('DependencyError');
      expect((error as Error & { code: string }).code).toBe('E_DEPENDENCY');
      expect((error as Error).message).toBe(
        'enqueueMany() was given a dependency cycle: "a" → "c" → "b" → "a" (each waits for the next to end)',
      );
    }
  });
});

describe('Dependencies through its host', () => {
  test('a waiting task stays out of the index until its dependency completes, then joins it with the result', async () => {
    const s = setup();
    const a = await s.admission.enqueue('job', 1, undefined);
    const b = await s.admission.enqueue('job', 2, { dependsOn: [a.id], priority: 'high' });
    expect(b.status).toBe('waiting');
    expect([s.index.has(b.id), s.dependencies.has(b.id), s.dependencies.size]).toEqual([false, true, 1]);
    const pumps = s.state.pumps;
    await s.end(a.id, 'completed', 5);
    expect([s.index.has(b.id), s.dependencies.size, b.status]).toEqual([true, 0, 'queued']);
    expect(s.index.get(b.id)).toMatchObject({ priority: 1 });
    expect(s.state.pumps).toBeGreaterThan(pumps);
    const record = await s.read(b.id);
    expect(record).toMatchObject({ status: 'queued', dependencyOutcomes: { [a.id]: { status: 'completed', result: 5 } } });
  });

  test('a task that finishes with no dependents anywhere costs no read and no write here', async () => {
    const store = new CopyingStore();
    const s = setup(store);
    const a = await s.admission.enqueue('job', 1, undefined);
    const before = { reads: store.readIds.length, writes: store.written.length };
    s.live.settle({ ...(await s.read(a.id)), status: 'completed' }, true, 1);
    expect(store.readIds.length - before.reads).toBe(1); // the test's own read above
    expect(store.written.length).toBe(before.writes);
  });

  test('a dependency that ends while its dependent is being written is applied once the write commits', async () => {
    const store = new CopyingStore();
    const s = setup(store);
    const a = await s.admission.enqueue('job', 1, undefined);
    const pending = s.admission.enqueue('job', 2, { dependsOn: [a.id] });
    // Past admit (its read answered), into the write: the dependent is registered, not stored yet.
    await Promise.resolve();
    await Promise.resolve();
    expect(s.dependencies.size).toBe(0);
    await s.end(a.id, 'completed', 'A');
    const b = await pending;
    await flush();
    expect(b.status).toBe('queued');
    expect((await s.read(b.id)).dependencyOutcomes).toEqual({ [a.id]: { status: 'completed', result: 'A' } });
  });

  test('a dependency that ends between its read and the registration (a stale read) is read again, not missed', async () => {
    const store = new CopyingStore();
    const s = setup(store);
    const a = await s.admission.enqueue('job', 1, undefined);
    store.holdReads();
    const pending = s.admission.enqueue('job', 2, { dependsOn: [a.id] });
    await flush();
    // a ends while the dependent's read of it (a snapshot: still queued) is held; nobody waits for a yet.
    s.endNow(a.id, 'completed', 'late');
    await flush();
    store.releaseReads();
    const b = await pending;
    await flush();
    expect(b.status).toBe('queued');
    expect((await s.read(b.id)).dependencyOutcomes?.[a.id]).toEqual({ status: 'completed', result: 'late' });
  });

  test('outcomes arriving while a record is being read are all applied: no lost update', async () => {
    const store = new CopyingStore();
    const s = setup(store);
    const deps = await Promise.all([1, 2, 3].map((i) => s.admission.enqueue('job', i, undefined)));
    const c = await s.admission.enqueue('job', 0, { dependsOn: deps.map((d) => d.id) });
    store.holdReads();
    // Two dependencies end while the write of the first into c waits for c's record.
    s.endNow(deps[0]?.id as string, 'completed', 'r0');
    s.endNow(deps[1]?.id as string, 'completed', 'r1');
    await flush();
    store.releaseReads();
    await flush();
    expect(Object.keys((await s.read(c.id)).dependencyOutcomes ?? {}).sort()).toEqual([deps[0]?.id, deps[1]?.id].sort());
    await s.end(deps[2]?.id as string, 'completed', 'r2');
    const record = await s.read(c.id);
    expect(record.status).toBe('queued');
    // In dependsOn order once released.
    expect(Object.entries(record.dependencyOutcomes ?? {}).map(([id, o]) => [id, (o as { result: unknown }).result])).toEqual([
      [deps[0]?.id, 'r0'],
      [deps[1]?.id, 'r1'],
      [deps[2]?.id, 'r2'],
    ]);
  });

  test('a task waiting for 200 dependencies is rewritten a few dozen times, not 200', async () => {
    const store = new CopyingStore();
    const s = setup(store);
    const ids = await s.admission.enqueueMany(Array.from({ length: 200 }, (_, i) => ({ name: 'job', input: i })));
    const c = await s.admission.enqueue('job', 'last', { dependsOn: ids });
    const writesOfC = () => store.written.filter((r) => r.id === c.id).length;
    const before = writesOfC();
    for (const [i, id] of ids.entries()) await s.end(id, 'completed', i);
    expect((await s.read(c.id)).status).toBe('queued');
    const rewrites = writesOfC() - before;
    expect(rewrites).toBeGreaterThan(5);
    expect(rewrites).toBeLessThan(30);
    expect(Object.keys((await s.read(c.id)).dependencyOutcomes ?? {})).toEqual(ids);
  });

  test("a big fan-out's dependents, released by one end, join the queue at their places in line, in seq order", async () => {
    const s = setup();
    const n = 5_000;
    const ids = await s.admission.enqueueMany([
      { ref: 'root', name: 'job', input: 0 },
      { name: 'other', input: 0 },
      ...Array.from({ length: n }, (_, i) => ({ name: 'job', input: i + 1, options: { dependsOn: ['root'] } })),
    ]);
    const [root, other] = ids as [string, string];
    expect(s.index.next(s.clock.now())?.id).toBe(root);
    await s.end(root, 'completed', 'r');
    expect(s.dependencies.size).toBe(0);
    expect(s.index.size).toBe(n + 1);
    // `other` was enqueued before them: still first in line, then each dependent in enqueue order.
    const order: string[] = [];
    for (let e = s.index.next(s.clock.now()); e; e = s.index.next(s.clock.now())) order.push(e.id);
    expect(order).toEqual([other, ...ids.slice(2)]);
    expect((await s.read(ids[2] as string)).status).toBe('queued');
    expect((await s.read(ids[2] as string)).dependencyOutcomes).toEqual({ [root]: { status: 'completed', result: 'r' } });
  });

  test('a skip cascades through waiting tasks; withdraw takes a waiting task out; a failure dependent is released', async () => {
    const s = setup();
    const ids = await s.admission.enqueueMany([
      { ref: 'a', name: 'job', input: 1 },
      { ref: 'b', name: 'job', input: 2, options: { dependsOn: ['a'] } },
      { ref: 'c', name: 'job', input: 3, options: { dependsOn: ['b'] } },
      { ref: 'f', name: 'job', input: 4, options: { dependsOn: [{ id: 'a', on: 'failure' }] } },
      { ref: 'w', name: 'job', input: 5, options: { dependsOn: ['a'] } },
    ]);
    const [a, b, c, f, w] = ids as [string, string, string, string, string];
    expect(s.dependencies.withdraw(w)).toBe(true);
    expect(s.dependencies.withdraw(w)).toBe(false);
    await s.end(a, 'failed', 'boom');
    await flush();
    expect((await s.read(b)).status).toBe('skipped');
    expect((await s.read(c)).status).toBe('skipped');
    expect((await s.read(c)).errors.at(-1)?.message).toContain(`its dependency "job" (${b}) was skipped`);
    expect((await s.read(f)).status).toBe('queued');
    expect((await s.read(w)).status).toBe('waiting'); // withdrawn: left for the caller (cancellation) to end
    expect(s.counters.counts.skipped).toBe(2);
    expect(s.types().filter((t) => t.startsWith('skipped'))).toEqual([`skipped:${b}`, `skipped:${c}`]);
    expect(s.dependencies.size).toBe(0);
  });

  test('withdrawAll hands back every waiting task, and nothing cascades after', async () => {
    const s = setup();
    const ids = await s.admission.enqueueMany([
      { ref: 'a', name: 'job', input: 1 },
      { ref: 'b', name: 'job', input: 2, options: { dependsOn: ['a'] } },
      { ref: 'c', name: 'job', input: 3, options: { dependsOn: ['b'] } },
    ]);
    expect(s.dependencies.withdrawAll().sort()).toEqual([ids[1], ids[2]].sort());
    await s.end(ids[0] as string, 'cancelled');
    expect((await s.read(ids[1] as string)).status).toBe('waiting');
    expect(s.counters.counts.skipped).toBe(0);
  });

  test('recovery: waiting records wait again; only dependencies that are not live are read; ended ones apply, gone ones skip', async () => {
    const store = new CopyingStore();
    const first = setup(store);
    const queued = await first.admission.enqueue('job', 'q', undefined);
    const done = await first.admission.enqueue('job', 'd', undefined);
    const lost = await first.admission.enqueue('job', 'l', undefined);
    const ids = await first.admission.enqueueMany([
      { name: 'job', input: 'waits-on-queued', options: { dependsOn: [queued.id] } },
      { name: 'job', input: 'waits-on-done', options: { dependsOn: [done.id, { id: queued.id, on: 'completion' }] } },
      { name: 'job', input: 'waits-on-lost', options: { dependsOn: [lost.id] } },
    ]);
    // What a crash leaves: `done` completed and `lost` completed then removed, their dependents not told.
    for (const id of [done.id, lost.id]) {
      const r = first.read(id);
      const record = await r;
      completeAttempt(record, id === done.id ? 'D' : 'L', first.clock.now());
      await store.write([record]);
    }
    await store.remove([lost.id]);

    const s = setup(store);
    const live = await store.recover();
    for (const r of live)
      if (r.status === 'queued') s.index.add({ id: r.id, name: r.name, priority: r.priority, readyAt: r.runAt, seq: r.seq }, 0);
    store.readIds.length = 0;
    await s.dependencies.recover(live.filter((r) => r.status === 'waiting'));
    await flush();
    // Only the dependencies that are not live are read (then the dependents to update): not every record.
    expect(store.readIds.filter((id) => !ids.includes(id)).sort()).toEqual([done.id, lost.id].sort());
    const [r0, r1, r2] = await Promise.all(ids.map((id) => s.read(id)));
    expect([r0?.status, r1?.status, r2?.status]).toEqual(['waiting', 'waiting', 'skipped']);
    expect(r1?.dependencyOutcomes).toEqual({ [done.id]: { status: 'completed', result: 'D' } });
    expect(r2?.errors.at(-1)?.message).toContain(`its dependency ${lost.id} is no longer stored (discarded, or trimmed by retention)`);
    expect(s.dependencies.size).toBe(2);
    await s.end(queued.id, 'completed', 'Q');
    const released = await Promise.all(ids.slice(0, 2).map((id) => s.read(id)));
    expect(released.map((r) => r.status)).toEqual(['queued', 'queued']);
    expect(released[1]?.dependencyOutcomes).toEqual({
      [done.id]: { status: 'completed', result: 'D' },
      [queued.id]: { status: 'completed', result: 'Q' },
    });
  });
});
