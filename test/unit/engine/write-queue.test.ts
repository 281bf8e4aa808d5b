import { describe, expect, test } from 'vitest';
import { type NormalizedDefaults, newRecord } from '../../../src/engine/task-settings.js';
import { Tells } from '../../../src/engine/tells.js';
import { WriteQueue } from '../../../src/engine/write-queue.js';
import { TaskEvent } from '../../../src/events.js';
import { MemoryStore } from '../../../src/memory-store.js';
import { SteadyMap } from '../../../src/steady-map.js';
import type { TaskStore } from '../../../src/store.js';
import { TaskHandle } from '../../../src/task-handle.js';
import type { TaskRecord } from '../../../src/types.js';

const defaults: NormalizedDefaults = { timeoutMs: 1_000, retry: { stored: { attempts: 1, backoff: 'function' } }, priority: 2 };
let seq = 0;
const record = (id: string): TaskRecord => newRecord(defaults, id, seq++, 't', null, undefined, 0);

async function flush(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** A memory store whose async `write` commits only when the test says so; `writeNow` is kept and counted. */
class HeldStore extends MemoryStore {
  readonly held: { ids: string[]; commit: () => void; fail: (e: Error) => void }[] = [];
  readonly nowWrites: string[][] = [];
  readonly commits: string[][] = [];
  override write(records: readonly TaskRecord[]): Promise<void> {
    const ids = records.map((r) => r.id);
    return new Promise((resolve, reject) => {
      this.held.push({
        ids,
        commit: () => {
          super.writeNow(records);
          this.commits.push(ids);
          resolve();
        },
        fail: reject,
      });
    });
  }
  override writeNow(records: readonly TaskRecord[]): void {
    this.nowWrites.push(records.map((r) => r.id));
    super.writeNow(records);
  }
}

/** The same without `writeNow`: every write is asynchronous. */
function asyncOnly(store: HeldStore): TaskStore {
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

describe('WriteQueue', () => {
  test('a persist resolves only once every write requested before it has committed', async () => {
    const store = new HeldStore();
    const writes = new WriteQueue({ store: asyncOnly(store), warn: () => {} });
    const done: string[] = [];
    writes.persist([record('a')])?.then(() => done.push('a'));
    writes.persist([record('b')])?.then(() => done.push('b'));
    expect(writes.inFlight).toBe(2);
    store.held[1]?.commit();
    await flush();
    expect(done).toEqual([]);
    store.held[0]?.commit();
    await flush();
    expect(done).toEqual(['a', 'b']);
    expect(writes.inFlight).toBe(0);
  });

  test('writeNow is not used while an async write is in flight, and is once all settle', async () => {
    const store = new HeldStore();
    const writes = new WriteQueue({ store, warn: () => {} });
    expect(writes.persist([record('now1')])).toBeUndefined();
    expect(store.nowWrites).toEqual([['now1']]);
    const enqueue = writes.write([record('e')]);
    expect(writes.idle()).toBe(false);
    expect(writes.persist([record('p')])).toBeInstanceOf(Promise);
    expect(writes.writeOne(record('o'))).toBeInstanceOf(Promise);
    expect(store.nowWrites).toEqual([['now1']]);
    expect(store.held.map((h) => h.ids)).toEqual([['e'], ['p'], ['o']]);
    for (const h of store.held) h.commit();
    await enqueue;
    await writes.committed;
    await flush();
    expect(writes.idle()).toBe(true);
    expect(writes.persist([record('now2')])).toBeUndefined();
    expect(store.nowWrites).toEqual([['now1'], ['now2']]);
  });

  test('a failed persist warns and does not throw; committed still resolves', async () => {
    const warnings: Error[] = [];
    const store = new HeldStore();
    store.writeNow = () => {
      throw new Error('quota');
    };
    const writes = new WriteQueue({ store, warn: (e) => warnings.push(e) });
    expect(() => writes.persist([record('x')])).not.toThrow();
    expect(warnings.map((w) => [w.name, w.message])).toEqual([['StorageError', 'could not persist 1 task state change(s)']]);
    expect(warnings[0]?.cause).toMatchObject({ message: 'quota' });

    const async = new HeldStore();
    const later = new WriteQueue({ store: asyncOnly(async), warn: (e) => warnings.push(e) });
    const p = later.persist([record('y'), record('z')]);
    async.held[0]?.fail(new Error('disk'));
    await expect(p).resolves.toBeUndefined();
    expect(warnings[1]?.message).toBe('could not persist 2 task state change(s)');
    expect(later.inFlight).toBe(0);
  });

  test('an enqueue write that fails rejects with StorageError naming the count', async () => {
    const store = new HeldStore();
    const writes = new WriteQueue({ store, warn: () => {} });
    const p = writes.write([record('a'), record('b')]);
    store.held[0]?.fail(new Error('closed'));
    await expect(p).rejects.toMatchObject({ name: 'StorageError', message: 'could not store 2 task(s): closed' });
    expect(writes.idle()).toBe(true);
  });
});

describe('WriteQueue with a store that holds state changes (persist)', () => {
  test("state changes go through the store's persist, enqueues through write; committed waits for a held persist", async () => {
    const store = new HeldStore();
    const persisted: string[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const s: TaskStore = {
      ...asyncOnly(store),
      persist: (records) => {
        persisted.push(records.map((r) => r.id));
        return held;
      },
    };
    const writes = new WriteQueue({ store: s, warn: () => {} });
    writes.persist([record('p')]);
    const enqueue = writes.write([record('e')]);
    expect(persisted).toEqual([['p']]);
    expect(store.held.map((h) => h.ids)).toEqual([['e']]);
    store.held[0]?.commit();
    await enqueue;
    let done = false;
    void writes.committed.then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    release();
    await flush();
    expect(done).toBe(true);
  });
});

describe('Tells', () => {
  function setup() {
    const store = new HeldStore();
    const writes = new WriteQueue({ store: asyncOnly(store), warn: () => {} });
    const heard: string[] = [];
    let delivered = 0;
    const tells = new Tells({
      writes,
      handles: new SteadyMap<string, TaskHandle>(),
      dispatchEvent: (e) => heard.push(e.type) > 0,
      onDelivered: () => delivered++,
    });
    return { store, writes, tells, heard, delivered: () => delivered };
  }

  test('a tell with no write in flight is delivered at once', () => {
    const { tells, heard } = setup();
    tells.tell(new Event('e1'));
    expect(heard).toEqual(['e1']);
    expect(tells.pending).toBe(0);
  });

  test('a tell waits for the writes requested before it, and tells keep their order', async () => {
    const { store, writes, tells, heard, delivered } = setup();
    writes.persist([record('a')]);
    tells.tell(new Event('e1'));
    writes.persist([record('b')]);
    tells.tell(new Event('e2'));
    expect(tells.pending).toBe(2);
    await flush();
    expect(heard).toEqual([]);
    store.held[0]?.commit();
    await flush();
    expect(heard).toEqual(['e1']);
    store.held[1]?.commit();
    await flush();
    expect(heard).toEqual(['e1', 'e2']);
    expect(tells.pending).toBe(0);
    expect(delivered()).toBe(2);
  });

  test('tells held in a step are delivered in order at release; a nested hold does not end the step', () => {
    const { tells, heard } = setup();
    expect(tells.hold()).toBe(true);
    tells.runOrHold(new Event('e1'));
    expect(tells.hold()).toBe(false);
    tells.runOrHold(new Event('e2'));
    tells.tell(new Event('e3'));
    expect(heard).toEqual([]);
    tells.release();
    expect(heard).toEqual(['e1', 'e2', 'e3']);
  });

  test("a listener's own step delivers behind the tells still waiting", () => {
    const heard: string[] = [];
    const store = new HeldStore();
    const writes = new WriteQueue({ store, warn: () => {} });
    const tells: Tells = new Tells({
      writes,
      handles: new SteadyMap<string, TaskHandle>(),
      dispatchEvent: (e) => {
        heard.push(e.type);
        if (e.type === 'e1' && tells.hold()) {
          tells.runOrHold(new Event('e3'));
          tells.release();
        }
        return true;
      },
      onDelivered: () => {},
    });
    tells.hold();
    tells.runOrHold(new Event('e1'));
    tells.runOrHold(new Event('e2'));
    tells.release();
    expect(heard).toEqual(['e1', 'e2', 'e3']);
  });

  /** A run of `n` events named r0, r1, …; the first makes its listener busy for longer than a slice. */
  function slowRun(n: number, busyMs: number) {
    return {
      size: n,
      at: (i: number) => {
        if (i === 0) {
          const until = performance.now() + busyMs;
          while (performance.now() < until) {}
        }
        return new Event(`r${i}`);
      },
    };
  }

  test('a short run is delivered before tellRun returns', () => {
    const { tells, heard, delivered } = setup();
    expect(tells.tellRun({ size: 3, at: (i) => new Event(`r${i}`) })).toBeUndefined();
    expect(heard).toEqual(['r0', 'r1', 'r2']);
    expect(tells.pending).toBe(0);
    expect(delivered()).toBe(1);
  });

  test('a run longer than a slice goes on in a later task; what is told meanwhile is heard after it, in order', async () => {
    const { tells, heard, delivered } = setup();
    const done = tells.tellRun(slowRun(4, 12));
    // The first slice ran out of time after r0.
    expect(heard).toEqual(['r0']);
    expect(done).toBeInstanceOf(Promise);
    tells.tell(new Event('later'));
    tells.runOrHold(new Event('worker'));
    tells.hold();
    tells.runOrHold(new Event('held'));
    tells.release();
    expect(heard).toEqual(['r0']);
    expect(tells.pending).toBeGreaterThan(0);
    await done;
    await flush();
    expect(heard).toEqual(['r0', 'r1', 'r2', 'r3', 'later', 'worker', 'held']);
    expect(tells.pending).toBe(0);
    expect(delivered()).toBe(1);
    tells.tell(new Event('after'));
    expect(heard.at(-1)).toBe('after');
  });

  test('a run waits for the writes requested before it, as a tell does', async () => {
    const { store, writes, tells, heard } = setup();
    writes.persist([record('a')]);
    tells.tell(new Event('e1'));
    const done = tells.tellRun({ size: 2, at: (i) => new Event(`r${i}`) });
    tells.tell(new Event('e2'));
    await flush();
    expect(heard).toEqual([]);
    store.held[0]?.commit();
    await done;
    await flush();
    expect(heard).toEqual(['e1', 'r0', 'r1', 'e2']);
  });

  test('one failing tell of a run does not cost the others theirs; its error surfaces, as uncaught', () => {
    const { tells, heard } = setup();
    const uncaught: unknown[] = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (fn) => {
      try {
        fn();
      } catch (error) {
        uncaught.push(error);
      }
    };
    try {
      tells.tellRun({
        size: 3,
        at: (i) => {
          if (i === 1) throw new Error('bad tell');
          return new Event(`r${i}`);
        },
      });
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(heard).toEqual(['r0', 'r2']);
    expect(uncaught).toEqual([expect.objectContaining({ message: 'bad tell' })]);
  });

  test('a task whose state change could not be stored is not announced: its event is dropped, its handle rejects with StorageError', async () => {
    const { store, writes, heard } = setup();
    const handles = new SteadyMap<string, TaskHandle>();
    const tells = new Tells({ writes, handles, dispatchEvent: (e) => heard.push(e.type) > 0, onDelivered: () => {} });
    const x = record('x');
    const handle = new TaskHandle({ cancel: async () => false }, 'x', 't', 'running');
    handles.set('x', handle);
    const result = handle.result.then(
      () => 'resolved',
      (e: Error & { code?: string }) => [e.name, e.code, e.message],
    );
    writes.persist([x]);
    handle._stage('completed', true, 42);
    tells.tell(handle);
    tells.tell(new TaskEvent('completed', { ...x, status: 'completed' }));
    store.held[0]?.fail(new Error('disk on fire'));
    await flush();
    expect(await result).toEqual(['StorageError', 'E_STORAGE', expect.stringMatching(/outcome could not be stored \(disk on fire\)/)]);
    expect(heard).toEqual([]);
    expect(writes.unpersisted('x')?.name).toBe('StorageError');

    // A later state change of the task that is stored ends that.
    writes.persist([x]);
    tells.tell(new TaskEvent('retrying', x));
    store.held[1]?.commit();
    await flush();
    expect(writes.unpersisted('x')).toBeUndefined();
    expect(heard).toEqual(['retrying']);
  });
});
