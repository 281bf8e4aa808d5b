import { expect, test } from 'vitest';
import { fromColumns, toColumns } from '../../src/tabs/item-wire.js';

/** What the leader's enqueueMany reads of an item: its own keys, in order, and their values. */
const shape = (items: readonly object[]) => items.map((item) => Object.entries(item));

test('items cross in columns and come back as the same plain items, through a structured clone', () => {
  const shared = { priority: 'high' as const };
  const items = [
    { name: 'a', input: 1 },
    { name: 'a', input: { x: [1, 2] } },
    { name: 'b', input: null, options: shared },
    { name: 'b', input: undefined, options: shared, ref: 'r1' },
    { ref: 'r2', name: 'a', input: 'last' },
    { name: 'a', input: 2, ref: undefined },
  ];
  const columns = toColumns(items);
  expect(columns?.names).toEqual(['a', 2, 'b', 2, 'a', 2]);
  expect(columns?.refAt).toEqual([3, 4, 5]);
  const back = fromColumns(structuredClone(columns) as NonNullable<typeof columns>);
  expect(shape(back)).toEqual(
    shape([
      { name: 'a', input: 1 },
      { name: 'a', input: { x: [1, 2] } },
      { name: 'b', input: null, options: shared },
      { name: 'b', input: undefined, options: shared, ref: 'r1' },
      { name: 'a', input: 'last', ref: 'r2' },
      { name: 'a', input: 2, ref: undefined },
    ]),
  );
  // One options object shared by several items is still one object after the clone.
  expect(back[2]?.options).toBe(back[3]?.options);
});

test('plain items without options or refs carry no such columns', () => {
  const columns = toColumns(Array.from({ length: 1000 }, (_, i) => ({ name: 'noop', input: i })));
  expect(columns?.names).toEqual(['noop', 1000]);
  expect(columns && 'options' in columns).toBe(false);
  expect(columns && 'refAt' in columns).toBe(false);
  expect(fromColumns(columns as NonNullable<typeof columns>)).toHaveLength(1000);
});

test('an item the leader must refuse by name (not an object, another key, a name not a string) sends the items as they are', () => {
  for (const bad of [null, 7, { name: 'a', input: 1, extra: true }, { name: 3, input: 1 }])
    expect(toColumns([{ name: 'a', input: 0 }, bad as never])).toBeUndefined();
  // An inherited key is not the item's own: it does not count, as in the leader.
  const inherited = Object.assign(Object.create({ extra: 1 }), { name: 'a', input: 0 });
  expect(toColumns([inherited])?.names).toEqual(['a', 1]);
  expect(toColumns([])).toEqual({ names: [], inputs: [] });
});
