import { expect, test } from 'vitest';
import { mintedId } from '../../src/id-run.js';
import { LazyRun } from '../../src/lazy-run.js';
import { RUN_MIN, TaskTable } from '../../src/task-table.js';

interface V {
  id: string;
  v: number;
}

function lazyOf(prefix: string, size: number, first = 0) {
  const made: number[] = [];
  const minted = { prefix, first };
  const run = new LazyRun<V>({
    ...minted,
    size,
    make: (i) => {
      made.push(i);
      return { id: mintedId(minted, i), v: i };
    },
  });
  return { run, made, id: (i: number) => mintedId(minted, i) };
}

test('a lazy run makes a value once, on first read, and keeps it: every read returns that object', () => {
  const size = RUN_MIN + 100; // a table holds a run this big by position
  const { run, made, id } = lazyOf('z-', size, 40);
  expect(made).toEqual([]);
  const a = run.at(7);
  expect(a).toEqual({ id: id(7), v: 7 });
  expect(run.at(7)).toBe(a);
  expect(made).toEqual([7]);
  expect(run.size).toBe(size);
  // Held in a table, an id is found by its position: strangers are not (and make nothing).
  const table = new TaskTable<V>();
  table.addRun(run);
  expect(table.get(id(7))).toBe(a);
  for (const stranger of ['z-', 'y-1', `z-${(39).toString(36)}`, `z-${(40 + size).toString(36)}`, 'z-01'])
    expect(table.get(stranger)).toBeUndefined();
  expect(made).toEqual([7]);
});

test('replaceAt keeps the written object; deleteAt marks the value gone; values() walks the rest in order', () => {
  const { run, id } = lazyOf('q-', 5);
  const written = { id: id(2), v: 200 };
  expect(run.replaceAt(2, written)).toBe(true);
  expect(run.at(2)).toBe(written);
  expect(run.replaceAt(5, { id: id(5), v: 0 })).toBe(false);
  expect(run.deleteAt(1)).toBe(true);
  expect(run.deleteAt(1)).toBe(false);
  expect(run.at(1)).toBeUndefined();
  expect(run.replaceAt(1, { id: id(1), v: 1 })).toBe(false);
  expect(run.size).toBe(4);
  expect([...run.values()].map((x) => x.v)).toEqual([0, 200, 3, 4]);
});

test('in a TaskTable, a big lazy run stays lazy; it joins the map (made then) once few values are left', () => {
  const table = new TaskTable<V>();
  const { run, made, id } = lazyOf('t-', RUN_MIN + 10);
  table.addRun(run);
  expect(made.length).toBe(0);
  expect(table.size).toBe(RUN_MIN + 10);
  expect(table.get(id(5))?.v).toBe(5);
  expect(made).toEqual([5]);
  for (let i = 0; i < RUN_MIN; i++) table.delete(id(i));
  expect(table.size).toBe(10);
  expect([...table.values()].map((x) => x.v)).toEqual(Array.from({ length: 10 }, (_, k) => RUN_MIN + k));
  expect(table.get(id(RUN_MIN + 3))?.v).toBe(RUN_MIN + 3);
});

test('values({ madeOnly }) yields the values made so far and makes none', () => {
  const { run, made } = lazyOf('m-', 10);
  run.at(3);
  run.at(8);
  expect([...run.values({ madeOnly: true })].map((x) => x.v).sort()).toEqual([3, 8]);
  expect(made).toEqual([3, 8]);
});

test('values({ name }) makes only the values the batch names so; values made already come regardless', () => {
  const made: number[] = [];
  const minted = { prefix: 'n-', first: 0 };
  const run = new LazyRun<V>({
    ...minted,
    size: 10,
    make: (i) => {
      made.push(i);
      return { id: mintedId(minted, i), v: i };
    },
    nameOf: (i) => (i % 3 === 0 ? 'three' : 'other'),
  });
  run.at(4);
  expect([...run.values({ name: 'three' })].map((x) => x.v)).toEqual([0, 3, 4, 6, 9]);
  expect(made).toEqual([4, 0, 3, 6, 9]);
  expect([...run.values({ name: 'nobody' })].map((x) => x.v)).toEqual([0, 3, 4, 6, 9]);
  expect(made.length).toBe(5);
  // A batch that cannot name its values makes them all.
  const { run: plain, made: plainMade } = lazyOf('p-', 4);
  expect([...plain.values({ name: 'nobody' })].length).toBe(4);
  expect(plainMade).toEqual([0, 1, 2, 3]);
});
