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

test("a batch held lazily: a list that cannot match 'queued' makes none of its records; one that can makes only what it returns", async () => {
  const store = new MemoryStore();
  const minted = { prefix: 'b-', first: 0 };
  let made = 0;
  await store.writeBatch({
    ...minted,
    size: RUN_MIN,
    make: (i) => {
      made++;
      return queued(mintedId(minted, i), i);
    },
  });
  const [record] = store.read([mintedId(minted, 5)]) as TaskRecord[];
  (record as TaskRecord).status = 'failed';
  store.writeNow([record as TaskRecord]);
  expect(made).toBe(1);
  expect((await store.list({ status: 'failed' })).map((r) => r.id)).toEqual([mintedId(minted, 5)]);
  expect((await store.list({ status: ['failed', 'completed'] })).length).toBe(1);
  expect(made).toBe(1);
  expect((await store.list({ status: 'queued', limit: 3 })).length).toBe(3);
  expect(made).toBe(4); // 0, 1, 2 made now; 5 before
  // The same object on every read.
  expect(store.read([mintedId(minted, 5)])[0]).toBe(record);
});
