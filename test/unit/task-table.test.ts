import { describe, expect, test } from 'vitest';
import { IdRun, mintedId } from '../../src/id-run.js';
import { RUN_MIN, TaskTable } from '../../src/task-table.js';

interface V {
  id: string;
  v: number;
}

/** A run of `n` values with ids minted from `prefix`, values 0..n-1, and those ids in order. */
function runOf(prefix: string, n: number, first = 0): { run: IdRun<V>; ids: string[] } {
  const minted = { prefix, first };
  const values = Array.from({ length: n }, (_, i) => ({ id: mintedId(minted, i), v: i }));
  return { run: new IdRun<V>(prefix, first, values), ids: values.map((x) => x.id) };
}

describe('TaskTable', () => {
  test('a big run is held by position: get, set replaces in place, delete, size and values agree with a Map', () => {
    const table = new TaskTable<V>();
    table.set({ id: 'solo', v: -1 });
    const { run, ids } = runOf('r1-', RUN_MIN + 10, 7);
    table.addRun(run);
    expect(table.size).toBe(RUN_MIN + 11);
    expect(table.get(ids[0] as string)?.v).toBe(0);
    expect(ids[0]).toBe(`r1-${(7).toString(36)}`);
    expect(table.get(ids.at(-1) as string)?.v).toBe(RUN_MIN + 9);
    // A write of a held id replaces the run's slot: no map entry appears, the size is unchanged.
    table.set({ id: ids[5] as string, v: 500 });
    expect(table.get(ids[5] as string)?.v).toBe(500);
    expect(table.size).toBe(RUN_MIN + 11);
    expect(run.at(5, ids[5] as string)?.v).toBe(500);
    // Strangers: other prefix, before the run, past it, not canonical base 36.
    for (const id of ['r2-7', `r1-${(6).toString(36)}`, `r1-${(7 + RUN_MIN + 10).toString(36)}`, 'r1-', 'r1-7!'])
      expect(table.has(id)).toBe(false);
    expect(table.delete(ids[1] as string)).toBe(true);
    expect(table.delete(ids[1] as string)).toBe(false);
    expect(table.get(ids[1] as string)).toBeUndefined();
    // A deleted id written again comes back (in the map), once.
    table.set({ id: ids[1] as string, v: 1 });
    expect(table.get(ids[1] as string)?.v).toBe(1);
    expect(table.size).toBe(RUN_MIN + 11);
    const seen = new Map([...table.values()].map((x) => [x.id, x.v]));
    expect(seen.size).toBe(RUN_MIN + 11);
    expect(seen.get('solo')).toBe(-1);
    expect(seen.get(ids[5] as string)).toBe(500);
  });

  test('a run folds into the map once few of its values are left, and everything stays findable', () => {
    const table = new TaskTable<V>();
    const { run, ids } = runOf('f-', RUN_MIN);
    table.addRun(run);
    const keep = new Set(ids.filter((_, i) => i % 97 === 0));
    for (const id of ids) if (!keep.has(id)) expect(table.delete(id)).toBe(true);
    expect(table.size).toBe(keep.size);
    for (const id of keep) expect(table.get(id)?.id).toBe(id);
    // Folded: the run no longer holds them, the table still does.
    expect(run.size).toBeLessThan(256);
    for (const id of keep) table.delete(id);
    expect(table.size).toBe(0);
    expect([...table.values()]).toEqual([]);
  });

  test('a small run joins the map; clear takes everything out', () => {
    const table = new TaskTable<V>();
    table.addRun(runOf('s-', 10).run);
    table.addRun(runOf('b-', RUN_MIN).run);
    table.set({ id: 'x', v: 0 });
    expect(table.size).toBe(RUN_MIN + 11);
    expect(table.get('s-9')?.v).toBe(9);
    const all = table.clear();
    expect(all).toHaveLength(RUN_MIN + 11);
    expect(new Set(all.map((x) => x.id)).size).toBe(RUN_MIN + 11);
    expect(table.size).toBe(0);
    expect(table.get('s-9')).toBeUndefined();
    expect(table.get('b-0')).toBeUndefined();
  });

  test('many runs, over two prefixes and interleaved: each id is found in its own run, and only there', () => {
    const table = new TaskTable<V>();
    const runs = [
      runOf('a-', RUN_MIN, 0),
      runOf('b-', RUN_MIN, 0),
      runOf('a-', RUN_MIN, RUN_MIN),
      runOf('a-', RUN_MIN, 3 * RUN_MIN),
      runOf('b-', RUN_MIN, RUN_MIN),
    ];
    for (const { run } of runs) table.addRun(run);
    for (const [r, { ids }] of runs.entries())
      for (const k of [0, 1, RUN_MIN - 1]) {
        const id = ids[k] as string;
        expect(table.get(id)?.v, `run ${r} pos ${k}`).toBe(k);
        expect(table.get(id)).toBe(runs[r]?.run.at(k, id));
      }
    // The gap between the a- runs, and b- past its runs, hold nothing.
    expect(table.has(mintedId({ prefix: 'a-', first: 2 * RUN_MIN }, 5))).toBe(false);
    expect(table.has(mintedId({ prefix: 'b-', first: 2 * RUN_MIN }, 0))).toBe(false);
    expect(table.size).toBe(5 * RUN_MIN);
  });

  test('deleteHeld deletes a value only while it is the one held under its id, in a run or the map', () => {
    const table = new TaskTable<V>();
    const { run, ids } = runOf('d-', RUN_MIN);
    table.addRun(run);
    const held = table.get(ids[3] as string) as V;
    expect(table.deleteHeld({ id: ids[3] as string, v: 3 })).toBe(false);
    expect(table.get(ids[3] as string)).toBe(held);
    expect(table.deleteHeld(held)).toBe(true);
    expect(table.has(ids[3] as string)).toBe(false);
    expect(table.deleteHeld(held)).toBe(false);
    // Written again, it is in the map: the old value is not it, the new one is.
    const again = { id: ids[3] as string, v: 33 };
    table.set(again);
    expect(table.deleteHeld(held)).toBe(false);
    expect(table.deleteHeld(again)).toBe(true);
    expect(table.size).toBe(RUN_MIN - 1);
    const solo = { id: 'solo', v: 0 };
    table.set(solo);
    expect(table.deleteHeld({ id: 'solo', v: 0 })).toBe(false);
    expect(table.deleteHeld(solo)).toBe(true);
    expect(table.size).toBe(RUN_MIN - 1);
  });
});
