import { afterEach, describe, expect, test } from 'vitest';
import type { TaskRecord } from '../../src/index.js';
import { outcome } from './helpers.js';
import { closeOpened, completedAt, dbName, openTestStore, record } from './idb-helpers.js';

/**
 * Regression tests from a review of the segment log: each of these failed on the first version of
 * it (interleaved batches, replays, two tabs, the read cache, retention order, list, remove).
 */

afterEach(closeOpened);

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
};
const nextTask = () => new Promise<void>((r) => setTimeout(r, 0));
const cancelled = (r: TaskRecord, at: number): TaskRecord => ({ ...r, status: 'cancelled', finishedAt: at });
const wasmModule = () => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));

describe('IdbStore log (regressions)', () => {
  test('same turn: a small write after a big one wins over it, however the big one’s segments are spread', async () => {
    const name = dbName('rv-order');
    let s = await openTestStore(name);
    const many = Array.from({ length: 600 }, (_, i) => record({ id: `m${i}` }));
    const big = s.write(many); // ≥ 512: flushed at once, chunk 2 (m512…m599) waits for chunk 1's success
    const later = s.write([cancelled(many[599] as TaskRecord, 1)]); // same turn, same commit: last write wins
    await Promise.all([big, later]);
    expect((await s.read(['m599']))[0]?.status).toBe('cancelled');
    await s.close();
    s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id)).not.toContain('m599');
  });

  // Passes on the committed store; fails on the uncommitted idb-store.ts (lazy big writes enter #pending only as each segment is put).
  test('a read during a big write finds a task whose segment is not put yet (its old or its new version, never nothing)', async () => {
    const s = await openTestStore(dbName('rv-lazy'));
    const recs = Array.from({ length: 3000 }, (_, i) => record({ id: `w${i}` }));
    await s.write(recs);
    const w = s.write(recs.map((r) => cancelled(r, 1)));
    const [got] = await s.read(['w2999']);
    await w;
    expect(got?.status).toBe('cancelled');
  });

  test('remove() resolves once the removal is on disk, and close() keeps pending deletions: a removed task never comes back', async () => {
    const name = dbName('rv-remove');
    let s = await openTestStore(name);
    await s.write([record({ id: 'x' })]); // a segment of its own: removal deletes it, no tombstone
    const y = s.write([record({ id: 'y' })]);
    await Promise.resolve(); // y's batch has flushed; it is the open batch of this turn
    await s.remove(['x']); // "resolves once their removal has committed"
    await s.close(); // "resolves once every write already requested has committed"
    await y;
    s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id)).toEqual(['y']);
  });

  test('a replay (DataCloneError late in a big write) keeps write order with the batches begun after it: the newest version wins', async () => {
    const name = dbName('rv-replay');
    let s = await openTestStore(name);
    const t = record({ id: 't' });
    await s.write([t]);
    const bad = Array.from({ length: 8000 }, (_, i) => record({ id: `b${i}` }));
    (bad[7999] as TaskRecord).input = wasmModule(); // refused in the last chunk, many event-loop tasks from now
    const big = outcome(s.write(bad));
    const first = s.write([completedAt(t, 1)]); // same turn: rides in the big write's transaction
    await nextTask(); // the big write's chain is still putting
    const before = s.stats.transactions;
    const second = s.write([cancelled(t, 2)]); // a later write of t, in a later turn
    await Promise.resolve();
    // It waits for the big write's transaction to finish (group commit), and goes in the one after.
    expect(s.stats.transactions).toBe(before);
    await Promise.all([big, first, second]);
    expect((await big).ok).toBe(false);
    // `second` was requested after `first` and both resolved: t's state is `second`'s.
    expect((await s.read(['t']))[0]?.status).toBe('cancelled');
    await s.close();
    s = await openTestStore(name);
    expect((await s.read(['t']))[0]?.status).toBe('cancelled');
  });

  test('two connections: one never compacts the other’s segments, so a state the other wrote later is not overwritten', async () => {
    const name = dbName('rv-tabs-stale');
    const a = await openTestStore(name);
    const recs = Array.from({ length: 40 }, (_, i) => record({ id: `t${i}` }));
    await a.write(recs);
    await a.write(recs.slice(10).map((r, i) => completedAt(r, i))); // the first segment is 10/40 current
    const b = await openTestStore(name); // another tab opens
    await a.write([completedAt(recs[0] as TaskRecord, 100)]); // tab a finishes t0 afterwards
    await b.trim({ completed: 1_000, failed: 1_000 }); // tab b's background retention leaves a's segments alone
    expect(b.stats.compactions).toBe(0);
    await settle();
    await a.close();
    await b.close();
    const c = await openTestStore(name);
    expect((await c.read(['t0']))[0]?.status).toBe('completed');
    expect((await c.recover()).map((r) => r.id)).not.toContain('t0');
  });

  test('two connections: one never deletes a segment the other still reads its current versions from', async () => {
    const name = dbName('rv-tabs-gone');
    const a = await openTestStore(name);
    const recs = Array.from({ length: 40 }, (_, i) => record({ id: `t${i}` }));
    await a.write(recs);
    await a.write(recs.slice(10).map((r, i) => completedAt(r, i)));
    const b = await openTestStore(name);
    await b.trim({ completed: 1_000, failed: 1_000 });
    await settle(); // b deletes the compacted segment
    // Tab a never heard of it: t1 is a queued task it still has to dispatch.
    expect((await a.read(['t1']))[0]?.status).toBe('queued');
  });

  test('reads that wait on an in-flight fetch keep the cache count right: read-ahead still holds what it fetched after thousands of reads', async () => {
    const name = dbName('rv-cache');
    const s = await openTestStore(name);
    const recs = Array.from({ length: 8 * 512 }, (_, i) => record({ id: `c${i}` }));
    await s.write(recs); // 8 segments of 512
    const idsOf = (k: number) => recs.slice(k * 512, (k + 1) * 512).map((r) => r.id);
    for (let k = 0; k < 5; k++) await s.read(idsOf(k)); // each waits on its fetch: 2,560 counted, 0 cached
    s.prefetch([`c${5 * 512}`, `c${6 * 512}`]); // two segments, 1,024 records: well under the 2,048 cap
    await settle();
    const reads = s.stats.reads;
    const got = s.read([`c${5 * 512}`]);
    expect(Array.isArray(got)).toBe(true); // answered from the prefetched segment
    await got;
    expect(s.stats.reads).toBe(reads);
  });

  test('compaction keeps the retention order of the finished versions it moves: retention still drops the oldest', async () => {
    const name = dbName('rv-retention');
    const s = await openTestStore(name);
    const recs = Array.from({ length: 40 }, (_, i) => completedAt(record({ id: `c${i}` }), i));
    await s.write(recs); // c0…c39, oldest first
    await s.write(recs.slice(10)); // rewritten unchanged elsewhere: the first segment is 10/40 current (c0…c9)
    await s.write(Array.from({ length: 5 }, (_, i) => completedAt(record({ id: `n${i}` }), 100 + i)));
    await s.trim({ completed: 1_000, failed: 1_000 }); // compacts the first segment
    expect(s.stats.compactions).toBe(1);
    await s.trim({ completed: 40, failed: 1_000 }); // 45 completed: the 5 oldest go
    const [oldest, newer] = await s.read(['c0', 'c10']);
    expect(oldest).toBeUndefined();
    expect(newer?.status).toBe('completed');
  });

  test('list() finds a task whose new version commits while list() is reading segment by segment', async () => {
    const name = dbName('rv-list');
    const s = await openTestStore(name);
    const recs = Array.from({ length: 10 }, (_, i) => record({ id: `l${i}` }));
    for (const r of recs) await s.write([r]); // 10 segments: list() reads them 8 at a time, newest first
    const listed = s.list({ limit: 1_000 });
    await Promise.resolve();
    const moved = s.write([{ ...(recs[0] as TaskRecord), priority: 1 }]); // l0 leaves the oldest segment
    const ids = (await listed).map((r) => r.id);
    await moved;
    expect(ids.sort()).toEqual(recs.map((r) => r.id).sort());
  });

  test('remove() with an id twice removes it for good', async () => {
    const name = dbName('rv-dup');
    let s = await openTestStore(name);
    await s.write([record({ id: 'a' }), record({ id: 'b' })]);
    await s.remove(['a', 'a']);
    expect((await s.read(['a']))[0]).toBeUndefined();
    await s.close();
    s = await openTestStore(name);
    expect((await s.recover()).map((r) => r.id)).toEqual(['b']);
  });

  test('list() while a removal is still committing leaves the removed task out instead of throwing', async () => {
    const s = await openTestStore(dbName('rv-list-tomb'));
    await s.write([record({ id: 'a' }), record({ id: 'b' })]);
    const removal = s.remove(['a']); // b keeps the segment alive: a gets a tombstone, not yet committed
    const listed = await s.list({});
    await removal;
    expect(listed.map((r) => r.id)).toEqual(['b']);
  });
});
