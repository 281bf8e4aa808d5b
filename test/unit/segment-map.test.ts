import { describe, expect, test } from 'vitest';
import type { Entry, SegmentKey, Tombstone } from '../../src/idb/schema.js';
import { type PutSegment, SegmentMap, type SegmentMapHost } from '../../src/idb/segment-map.js';
import type { TaskRecord, TaskStatus } from '../../src/types.js';

const ME = 100;
const OTHER_TAB = 200;

const rec = (id: string, status: TaskStatus = 'queued', finishedAt?: number): TaskRecord => ({
  id,
  name: 'noop',
  input: null,
  priority: 2,
  runAt: 0,
  seq: 0,
  status,
  attempt: 0,
  retry: { attempts: 3, backoff: { kind: 'exponential', delayMs: 1000, maxMs: 60000, factor: 2, jitter: false } },
  timeoutMs: 30000,
  errors: [],
  createdAt: 0,
  stalls: 0,
  ...(finishedAt === undefined ? {} : { finishedAt }),
});
const tomb = (id: string): Tombstone => ({ id, removed: true });

/** A map with a recording host: `dead` lists what it reported dead, `pending` stands for the write path's uncommitted versions. */
function setup(disk: [SegmentKey, Entry[]][] = []) {
  const pending = new Map<string, Entry>();
  const dead: number[] = [];
  const host: SegmentMapHost = {
    stamp: ME,
    foreign: new Set([OTHER_TAB]),
    stats: { segmentsDeleted: 0 },
    isPending: (id) => pending.has(id),
    unpend: (e) => {
      if (pending.get(e.id) === e) pending.delete(e.id);
    },
    onDead: (local) => dead.push(local),
    accounted: () => {},
  };
  const map = new SegmentMap(host);
  const found = map.load(
    disk.map(([key]) => key),
    disk.map(([, records]) => ({ records })),
    1234,
  );
  /** Commits `groups` as one batch, each group one new segment of this connection. */
  const commit = (groups: Entry[][], deletes: number[] = []) => {
    const segments: PutSegment[] = groups.map((entries) => {
      const local = map.reserve(entries.length);
      return { local, key: [ME, local], entries };
    });
    map.committed(segments, deletes);
    return segments.map((s) => s.local);
  };
  return { map, host, pending, dead, found, commit };
}

describe('SegmentMap: load', () => {
  test('the newest segment holding a task has its current version; a segment left with none is dead', () => {
    const { map, dead, found } = setup([
      [
        [1, 0],
        [rec('a'), rec('b')],
      ],
      [[1, 1], [{ ...rec('a'), priority: 0 }]],
      [[1, 2], [rec('b', 'completed', 5)]],
    ]);
    expect(map.where('a')).toBe(1);
    expect(map.where('b')).toBe(2);
    expect(dead).toEqual([0]);
    expect(found.live.map((r) => [r.id, r.priority])).toEqual([['a', 0]]);
    expect(found.corrupt).toEqual([]);
  });

  test('bad records come back failed, unreadable values are counted, and a tombstone with nothing older under it goes', () => {
    const { map, found } = setup([
      [
        [1, 0],
        [rec('x'), { id: 'bad', status: 'queued' } as unknown as Entry],
      ],
      [[1, 1], [tomb('x')]],
    ]);
    expect(found.live).toEqual([]);
    expect(found.corrupt.map((r) => [r.id, r.status, r.finishedAt])).toEqual([['bad', 'failed', 1234]]);
    // x's older version (segment 0) is still on disk: the tombstone must stay so it cannot come back.
    expect(map.isTomb('x')).toBe(true);
    const unreadable = new SegmentMap(setup().host).load([[1, 0]], ['not a segment'], 0);
    expect(unreadable.unreadable).toBe(1);
  });

  test("another open tab's segments are never reported dead or offered for compaction", () => {
    const stale = Array.from({ length: 40 }, (_, i) => rec(`t${i}`));
    const { dead, map } = setup([
      [[OTHER_TAB, 0], stale],
      [[OTHER_TAB, 1], stale],
    ]);
    expect(dead).toEqual([]);
    expect(map.compactable()).toEqual([]);
  });
});

describe('SegmentMap: commits', () => {
  test('a commit moves current versions to its segment, ends them pending, and empties what it superseded', () => {
    const { map, dead, pending, commit } = setup([
      [
        [1, 0],
        [rec('a'), rec('b')],
      ],
    ]);
    const a2 = rec('a', 'running');
    const b2 = rec('b', 'running');
    const newer = rec('b', 'completed', 9);
    pending.set('a', a2);
    pending.set('b', newer); // written again since: stays pending after b2 commits
    const [local] = commit([[a2, b2]]);
    expect(map.where('a')).toBe(local);
    expect(map.where('b')).toBe(local);
    expect(pending.has('a')).toBe(false);
    expect(pending.get('b')).toBe(newer);
    expect(dead).toEqual([0]);
    expect(map.segment(0)?.dying).toBe(true);
  });

  test('deletions leave the map when their commit is accounted, and are counted', () => {
    const { map, host, commit } = setup([[[1, 0], [rec('a')]]]);
    commit([[rec('a', 'running')]], [0]);
    expect(map.segment(0)).toBeUndefined();
    expect(host.stats.segmentsDeleted).toBe(1);
  });

  test('a big commit is accounted in slices; settle finishes it', () => {
    const { map, commit } = setup();
    const many = Array.from({ length: 5000 }, (_, i) => rec(`t${i}`));
    const [local] = commit([many]);
    expect(map.where('t0')).toBe(local);
    expect(map.where('t4999')).toBeUndefined();
    map.settle();
    expect(map.where('t4999')).toBe(local);
    expect(map.liveNewestFirst()).toEqual([local]);
  });
});

describe('SegmentMap: removal', () => {
  test('a task whose segment empties with it and has no older version goes without a trace', () => {
    const { map, dead } = setup([
      [
        [1, 0],
        [rec('a', 'completed', 1), rec('b', 'completed', 2)],
      ],
    ]);
    expect(map.remove(['a', 'b', 'a'])).toEqual([]);
    expect(map.where('a')).toBeUndefined();
    expect(dead).toEqual([0]);
    expect(map.excess({ completed: 0, failed: 0 })).toEqual([]);
  });

  test('a task with an older version still on disk, a pending one, or one sharing its segment gets a tombstone', () => {
    const { map, pending, commit } = setup([
      [
        [1, 0],
        [rec('a'), rec('keep')],
      ],
      [[1, 1], [rec('b')]],
    ]);
    commit([[rec('a', 'completed', 3)]]);
    commit([[rec('b', 'completed', 4), rec('c', 'completed', 5)]]);
    pending.set('p', rec('p'));
    // a: older version in segment 0 (kept alive by `keep`); b: shares its segment with c, which stays.
    expect(map.remove(['a', 'b', 'p', 'gone'])).toEqual([tomb('p'), tomb('a'), tomb('b')]);
    expect(map.where('a')).not.toBeUndefined();
  });

  test('a tombstone goes once the segments under it are deleted', () => {
    const { map, commit } = setup([
      [
        [1, 0],
        [rec('a'), rec('keep')],
      ],
      [[1, 1], [rec('a', 'completed', 1)]],
    ]);
    commit([[tomb('a')]]);
    expect(map.isTomb('a')).toBe(true);
    commit([[rec('keep', 'running')]], [0, 1]);
    expect(map.isTomb('a')).toBe(false);
    expect(map.where('a')).toBeUndefined();
  });
});

describe('SegmentMap: retention and compaction', () => {
  test('excess is oldest finished first, skips pending tasks, and a tombstoned task leaves it', () => {
    const { map, pending, commit } = setup([
      [
        [1, 0],
        [rec('late', 'completed', 30), rec('early', 'completed', 10), rec('mid', 'failed', 20)],
      ],
    ]);
    expect(map.excess({ completed: 0, failed: 0 })).toEqual(['early', 'late', 'mid']);
    expect(map.excess({ completed: 1, failed: 1 })).toEqual(['early']);
    pending.set('early', rec('early', 'queued'));
    expect(map.excess({ completed: 0, failed: 1 })).toEqual(['late']);
    pending.clear();
    commit([[tomb('late')]]);
    expect(map.excess({ completed: 0, failed: 0 })).toEqual(['early', 'mid']);
  });

  test('a mostly stale segment is offered; its current versions move and keep their place in retention', () => {
    const tasks = Array.from({ length: 40 }, (_, i) => rec(`t${i}`, 'completed', i));
    const { map, commit } = setup([[[1, 0], tasks]]);
    expect(map.compactable()).toEqual([]); // all 40 current
    commit([tasks.slice(5).map((r) => ({ ...r }))]);
    // t0..t4 are current in segment 0 (5 of 40 <= 25%); the rest moved on as new states, to the newest end.
    expect(map.compactable()).toEqual([0]);
    const moved = map.takeForMove(0, tasks) as Entry[];
    expect(moved.map((e) => e.id)).toEqual(['t0', 't1', 't2', 't3', 't4']);
    const before = map.excess({ completed: 0, failed: 0 });
    commit([moved]);
    expect(map.where('t0')).not.toBe(0);
    expect(map.excess({ completed: 0, failed: 0 })).toEqual(before);
    // A state written anew (not moved) goes to the newest end.
    commit([[rec('t1', 'completed', 99)]]);
    expect(map.excess({ completed: 0, failed: 0 }).at(-1)).toBe('t1');
    expect(map.takeForMove(12345, tasks)).toBeUndefined();
  });

  test('reserve hands out increasing numbers, at least one per call', () => {
    const { map } = setup([[[1, 0], [rec('a')]]]);
    expect(map.reserve(0)).toBe(1);
    expect(map.reserve(3)).toBe(2);
    expect(map.reserve(1)).toBe(5);
  });
});
