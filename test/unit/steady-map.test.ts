import { expect, test } from 'vitest';
import { SteadyMap } from '../../src/steady-map.js';

test('SteadyMap behaves as a Map: its own entry never shows', () => {
  const m = new SteadyMap<string, number>();
  expect(m.size).toBe(0);
  expect([...m]).toEqual([]);
  expect([...m.keys()]).toEqual([]);
  expect([...m.values()]).toEqual([]);
  m.set('a', 1).set('b', 2);
  m.set('a', 3);
  expect(m.size).toBe(2);
  expect(m.get('a')).toBe(3);
  expect(m.has('b')).toBe(true);
  expect([...m]).toEqual([
    ['a', 3],
    ['b', 2],
  ]);
  expect([...m.entries()]).toEqual([...m]);
  expect([...m.keys()]).toEqual(['a', 'b']);
  expect([...m.values()]).toEqual([3, 2]);
  expect(Array.from(m)).toEqual([...m]);
  expect(new Map(m)).toEqual(
    new Map([
      ['a', 3],
      ['b', 2],
    ]),
  );
  const seen: [string, number, boolean][] = [];
  const self = {};
  m.forEach(function (this: unknown, v, k, map) {
    seen.push([k, v, map === m && this === self]);
  }, self);
  expect(seen).toEqual([
    ['a', 3, true],
    ['b', 2, true],
  ]);
});

test('SteadyMap through emptying, refilling and clear', () => {
  const m = new SteadyMap<string, string>();
  for (let i = 0; i < 1000; i++) {
    m.set(`k${i}`, `v${i}`);
    expect(m.size).toBe(1);
    expect(m.delete(`k${i}`)).toBe(true);
    expect(m.delete(`k${i}`)).toBe(false);
    expect(m.size).toBe(0);
  }
  expect([...m]).toEqual([]);
  for (let i = 0; i < 50; i++) m.set(`k${i}`, `v${i}`);
  expect(m.size).toBe(50);
  m.clear();
  expect(m.size).toBe(0);
  expect([...m.values()]).toEqual([]);
  m.set('x', 'y');
  expect([...m]).toEqual([['x', 'y']]);
  expect(m.get('k3')).toBeUndefined();
});

test('SteadyMap: an iterator running across clear() sees only what is set after it', () => {
  const m = new SteadyMap<string, number>();
  m.set('a', 1).set('b', 2);
  const values = m.values();
  const keys = m.keys();
  expect(values.next().value).toBe(1);
  m.clear();
  m.set('c', 3);
  expect([...values]).toEqual([3]);
  expect([...keys]).toEqual(['c']);
  expect(m.size).toBe(1);
});
