import { describe, expect, test } from 'vitest';
import { FinishedKeys } from '../../src/engine/finished-keys.js';
import { keyHeldUntil } from '../../src/key-ttl.js';
import { MemoryStore } from '../../src/memory-store.js';
import { Retention } from '../../src/retention.js';
import type { TaskRecord, TaskStatus } from '../../src/types.js';

let seq = 0;
function finished(id: string, status: TaskStatus, finishedAt: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    name: 't',
    input: null,
    priority: 2,
    runAt: 0,
    seq: seq++,
    status,
    attempt: 1,
    retry: { attempts: 1, backoff: { kind: 'fixed', delayMs: 0, maxMs: 0, factor: 1, jitter: false } },
    timeoutMs: 0,
    errors: [],
    createdAt: 0,
    finishedAt,
    stalls: 0,
    ...extra,
  };
}

describe('keyHeldUntil', () => {
  test('completed and failed tasks with key and keyTtlMs hold it until finishedAt + keyTtlMs; others not at all', () => {
    const ttl = { key: 'k', keyTtlMs: 500 };
    expect(keyHeldUntil(finished('a', 'completed', 1_000, ttl))).toBe(1_500);
    expect(keyHeldUntil(finished('a', 'failed', 1_000, ttl))).toBe(1_500);
    expect(keyHeldUntil(finished('a', 'cancelled', 1_000, ttl))).toBeUndefined();
    expect(keyHeldUntil(finished('a', 'skipped', 1_000, ttl))).toBeUndefined();
    expect(keyHeldUntil(finished('a', 'completed', 1_000, { key: 'k' }))).toBeUndefined();
    expect(keyHeldUntil(finished('a', 'completed', 1_000, { keyTtlMs: 500 }))).toBeUndefined();
    // As read from disk, unvalidated: anything but numbers holds nothing.
    expect(keyHeldUntil({ ...finished('a', 'completed', 1_000), key: 'k', keyTtlMs: '500' as unknown as number })).toBeUndefined();
  });
});

describe('retention and held keys', () => {
  test('a task whose key is held is passed over, the next oldest goes instead; once the hold runs out it goes', () => {
    const r = new Retention();
    r.note('a', 'completed', 2_000);
    r.note('b', 'completed');
    r.note('c', 'completed');
    expect(r.excess({ completed: 1, failed: 0, now: 1_999 })).toEqual(['b', 'c']);
    expect(r.excess({ completed: 1, failed: 0, now: 2_000 })).toEqual(['a', 'b']);
    // Re-noted without a hold (retried and finished again without one): no longer spared.
    r.note('a', 'completed', 5_000);
    r.note('a', 'failed');
    expect(r.excess({ completed: 0, failed: 0, now: 0 })).toEqual(['b', 'c', 'a']);
  });

  test('MemoryStore.trim keeps a record whose key is held, and recoverKeys finds it', async () => {
    const store = new MemoryStore();
    await store.write([
      finished('held', 'completed', 1_000, { key: 'k', keyTtlMs: 10_000 }),
      ...Array.from({ length: 5 }, (_, i) => finished(`x${i}`, 'completed', 1_000 + i)),
    ]);
    expect(await store.trim({ completed: 2, failed: 0, now: 5_000 })).toBe(4);
    expect((await store.list({ limit: 10 })).map((r) => r.id).sort()).toEqual(['held', 'x4']);
    expect((await store.recoverKeys()).map((r) => r.id)).toEqual(['held']);
    expect(await store.trim({ completed: 0, failed: 0, now: 11_000 })).toBe(2);
  });
});

describe('FinishedKeys', () => {
  test('a key is found until its hold runs out; the latest hold wins on load; forget needs the same task', () => {
    const keys = new FinishedKeys();
    keys.note(finished('a', 'completed', 1_000, { key: 'k', keyTtlMs: 100 }));
    keys.note(finished('n', 'completed', 1_000, { key: 'plain' }));
    expect([keys.find('k', 1_099), keys.find('plain', 1_000)]).toEqual(['a', undefined]);
    expect(keys.find('k', 1_100)).toBeUndefined();
    keys.load(
      [
        finished('old', 'completed', 1_000, { key: 'j', keyTtlMs: 100 }),
        finished('new', 'failed', 1_050, { key: 'j', keyTtlMs: 100 }),
        finished('gone', 'completed', 0, { key: 'g', keyTtlMs: 100 }),
      ],
      1_000,
    );
    expect([keys.find('j', 1_120), keys.find('g', 1_000)]).toEqual(['new', undefined]);
    keys.forget('j', 'old');
    expect(keys.find('j', 1_120)).toBe('new');
    keys.forget('j', 'new');
    expect(keys.find('j', 1_120)).toBeUndefined();
  });
});
