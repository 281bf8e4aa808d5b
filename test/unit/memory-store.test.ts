import { expect, test } from 'vitest';
import { mintedId } from '../../src/id-run.js';
import { MemoryStore } from '../../src/memory-store.js';
import { RUN_MIN } from '../../src/task-table.js';
import type { TaskRecord } from '../../src/types.js';

function queued(id: string, seq: number): TaskRecord {
  return {
    id,
    name: 'noop',
    input: null,
    priority: 2,
    runAt: 0,
    seq,
    status: 'queued',
    attempt: 0,
    retry: { attempts: 1, backoff: { kind: 'fixed', delayMs: 0, maxMs: 0, factor: 1, jitter: false } },
    timeoutMs: 0,
    errors: [],
    createdAt: 0,
    stalls: 0,
  } as unknown as TaskRecord;
}

/** A memory store holding one lazy batch of RUN_MIN queued records, named by `nameAt` (the batch knows it), counting those made. */
async function lazyStore(prefix: string, nameAt?: (i: number) => string) {
  const store = new MemoryStore();
  const minted = { prefix, first: 0 };
  const count = { made: 0 };
  await store.writeBatch({
    ...minted,
    size: RUN_MIN,
    make: (i) => {
      count.made++;
      const record = queued(mintedId(minted, i), i);
      if (nameAt) record.name = nameAt(i);
      return record;
    },
    nameOf: nameAt,
  });
  return { store, id: (i: number) => mintedId(minted, i), count };
}

test("a batch held lazily: a list that cannot match 'queued' makes none of its records; one that can makes only what it returns", async () => {
  const { store, id, count } = await lazyStore('b-');
  const [record] = store.read([id(5)]) as TaskRecord[];
  (record as TaskRecord).status = 'failed';
  store.writeNow([record as TaskRecord]);
  expect(count.made).toBe(1);
  expect((await store.list({ status: 'failed' })).map((r) => r.id)).toEqual([id(5)]);
  expect((await store.list({ status: ['failed', 'completed'] })).length).toBe(1);
  expect(count.made).toBe(1);
  expect((await store.list({ status: 'queued', limit: 3 })).length).toBe(3);
  expect(count.made).toBe(4); // 0, 1, 2 made now; 5 before
  // The same object on every read.
  expect(store.read([id(5)])[0]).toBe(record);
});

test('a batch held lazily: a list by name makes only records of that name, none when no task has it', async () => {
  const { store, id, count } = await lazyStore('c-', (i) => (i % 100 === 0 ? 'rare' : 'common'));
  expect(await store.list({ name: 'missing', limit: 10 })).toEqual([]);
  expect(count.made).toBe(0);
  const rare = await store.list({ name: 'rare', limit: 5 });
  expect(rare.map((r) => r.id)).toEqual([0, 100, 200, 300, 400].map(id));
  expect(count.made).toBe(5);
  expect((await store.list({ name: 'rare', status: 'queued', limit: 1000 })).length).toBe(Math.ceil(RUN_MIN / 100));
  expect(count.made).toBe(Math.ceil(RUN_MIN / 100));
});

test('retention: a retried task is live again and never trimmed; finished again, it is the newest', async () => {
  const store = new MemoryStore();
  const failed = { ...queued('f', 0), status: 'failed', errors: [{ name: 'Error', message: 'x', attempt: 1, at: 1 }] } as TaskRecord;
  store.writeNow([failed]);
  // Retried (requeueFailed keeps the errors): queued again, then the failed limit of 0 is applied.
  failed.status = 'queued';
  store.writeNow([failed]);
  expect(await store.trim({ completed: 10, failed: 0 })).toBe(0);
  expect(store.read(['f'])[0]?.status).toBe('queued');
  // It fails again: the only failed one, trimmed by a limit of 0.
  failed.status = 'failed';
  store.writeNow([failed]);
  expect(await store.trim({ completed: 10, failed: 0 })).toBe(1);
  expect(store.read(['f'])[0]).toBeUndefined();
});

test('retention: state changes of tasks that never ended are not counted; the oldest completed go first', async () => {
  const store = new MemoryStore();
  const records = Array.from({ length: 5 }, (_, i) => queued(`t${i}`, i));
  store.writeNow(records);
  for (const r of records) r.status = 'running';
  store.writeNow(records);
  expect(await store.trim({ completed: 0, failed: 0 })).toBe(0);
  for (const r of records) r.status = 'completed';
  store.writeNow(records);
  expect(await store.trim({ completed: 2, failed: 0 })).toBe(3);
  expect(store.read(records.map((r) => r.id)).map((r) => r?.id)).toEqual([undefined, undefined, undefined, 't3', 't4']);
});
