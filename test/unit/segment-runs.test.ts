import { describe, expect, test } from 'vitest';
import { mintedId } from '../../src/id-run.js';
import { LogLoad } from '../../src/idb/log-load.js';
import type { Entry, SegmentKey } from '../../src/idb/schema.js';
import { type PutSegment, SegmentMap, type SegmentMapHost } from '../../src/idb/segment-map.js';
import { summarize } from '../../src/idb/summary.js';
import type { TaskRecord, TaskStatus } from '../../src/types.js';

/**
 * Opening from summaries (minted runs held by position) must find exactly what opening from whole
 * segments finds: the same current segment for every id, the same live counts, the same dead
 * segments, the same recovered tasks; and the two maps must then behave alike under more commits
 * and removals. Checked over random histories.
 */

const rec = (id: string, seq: number, status: TaskStatus): TaskRecord => ({
  id,
  name: 'noop',
  input: null,
  priority: (seq % 5) as TaskRecord['priority'],
  runAt: 0,
  seq,
  status,
  attempt: 0,
  retry: { attempts: 1, backoff: { kind: 'fixed', delayMs: 0, maxMs: 0, factor: 1, jitter: false } },
  timeoutMs: 0,
  errors: [],
  createdAt: 0,
  stalls: 0,
  ...(status === 'completed' || status === 'cancelled' ? { finishedAt: seq } : {}),
});

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINT = { prefix: 'tab-', first: 0 };
const POOL = 300;

/** A random history of segments: runs of consecutive ids (a batch, a cancel in order), scattered state changes, tombstones. */
function history(seed: number): [SegmentKey, Entry[]][] {
  const r = rng(seed);
  const out: [SegmentKey, Entry[]][] = [];
  let seq = 0;
  const statuses: TaskStatus[] = ['queued', 'completed', 'cancelled', 'running', 'retrying'];
  for (let s = 0; s < 12; s++) {
    const entries: Entry[] = [];
    if (r() < 0.5) {
      // A run: consecutive minted ids, one status.
      const from = Math.floor(r() * POOL);
      const n = 1 + Math.floor(r() * 40);
      const status = statuses[Math.floor(r() * statuses.length)] as TaskStatus;
      for (let i = from; i < Math.min(POOL, from + n); i++) entries.push(rec(mintedId(MINT, i), seq++, status));
    } else {
      const seen = new Set<number>();
      for (let k = 0; k < 1 + Math.floor(r() * 20); k++) {
        const i = Math.floor(r() * POOL);
        if (seen.has(i)) continue;
        seen.add(i);
        const id = mintedId(MINT, i);
        if (r() < 0.15) entries.push({ id, removed: true });
        else entries.push(rec(id, seq++, statuses[Math.floor(r() * statuses.length)] as TaskStatus));
      }
    }
    if (entries.length > 0) out.push([[1 + s, 0], entries]);
  }
  return out;
}

function host() {
  const dead: number[] = [];
  const h: SegmentMapHost = {
    stamp: 999,
    foreign: new Set(),
    stats: { segmentsDeleted: 0 },
    isPending: () => false,
    unpend: () => {},
    onDead: (local) => dead.push(local),
    accounted: () => {},
  };
  return { h, dead };
}

function open(disk: [SegmentKey, Entry[]][], summaries: boolean) {
  const { h, dead } = host();
  const map = new SegmentMap(h);
  const load = new LogLoad(
    map,
    disk.map(([key, entries]) => (summaries ? { key, summary: summarize(entries) } : { key, value: { records: entries } })),
    0,
  );
  load.step(Number.POSITIVE_INFINITY);
  if (load.needed().length > 0) {
    const byKey = new Map(disk.map(([key, entries]) => [String(key), { records: entries }]));
    load.fill(load.needed().map((key) => byKey.get(String(key))));
  }
  const found = load.finish();
  const ids: string[] = found.live.map((x) => x.id);
  for (const run of found.ready) for (let i = 0; i < run.tasks.size; i++) ids.push(run.tasks.id(i));
  return { map, dead, recovered: ids.sort(), corrupt: found.corrupt.length };
}

const everyId = Array.from({ length: POOL }, (_, i) => mintedId(MINT, i));

function state(o: ReturnType<typeof open>, segments: number) {
  return {
    where: everyId.map((id) => o.map.where(id) ?? -1),
    tombs: everyId.filter((id) => o.map.isTomb(id)),
    live: Array.from({ length: segments }, (_, l) => o.map.segment(l)?.live ?? -1),
    dead: [...o.dead].sort((a, b) => a - b),
    liveIds: o.map.liveIds().sort(),
  };
}

describe('SegmentMap: runs held by position open as whole segments do', () => {
  for (let seed = 1; seed <= 60; seed++)
    test(`random history ${seed}`, () => {
      const disk = history(seed);
      const whole = open(disk, false);
      const lean = open(disk, true);
      expect(lean.recovered).toEqual(whole.recovered);
      expect(lean.corrupt).toBe(whole.corrupt);
      expect(state(lean, disk.length)).toEqual(state(whole, disk.length));
      // Then alike under a commit of new versions and a removal of some ids.
      const r = rng(seed * 7);
      const next = everyId.filter(() => r() < 0.2).map((id, k) => rec(id, 10_000 + k, 'completed'));
      const gone = everyId.filter(() => r() < 0.2);
      for (const o of [whole, lean]) {
        const local = o.map.reserve(next.length);
        const seg: PutSegment = { local, key: [999, local], entries: next };
        o.map.committed([seg], []);
        o.map.settle();
      }
      expect(state(lean, disk.length + 1)).toEqual(state(whole, disk.length + 1));
      expect(lean.map.remove(gone)).toEqual(whole.map.remove(gone));
      expect(state(lean, disk.length + 1)).toEqual(state(whole, disk.length + 1));
    });

  test('the histories do hold runs over runs, and map versions on both sides of a run', () => {
    let overRuns = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const runs = history(seed)
        .map(([, e]) => summarize(e))
        .filter((s) => !Array.isArray(s.ids));
      overRuns += runs.length > 1 ? 1 : 0;
    }
    expect(overRuns).toBeGreaterThan(30);
  });
});
