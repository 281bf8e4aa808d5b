import { describe, expect, test } from 'vitest';
import { ByKey } from '../../src/idb/by-key.js';

describe('ByKey', () => {
  test('holds segment keys apart by stamp and number, as IndexedDB does', () => {
    const m = new ByKey<string>();
    m.set([1.25, 0], 'a');
    m.set([1.25, 1], 'b');
    m.set([2, 0], 'c');
    expect([m.get([1.25, 0]), m.get([1.25, 1]), m.get([2, 0])]).toEqual(['a', 'b', 'c']);
    expect(m.has([1.25, 2])).toBe(false);
    expect(m.get([3, 0])).toBeUndefined();
    m.set([1.25, 0], 'a2');
    expect(m.get([1.25, 0])).toBe('a2');
  });

  test('a key of another shape is its own entry, never one of a segment key', () => {
    const m = new ByKey<number>();
    m.set('1.25,0', 1);
    m.set([1.25, 0, 0], 2);
    m.set([1.25, 0], 3);
    expect([m.get('1.25,0'), m.get([1.25, 0, 0]), m.get([1.25, 0])]).toEqual([1, 2, 3]);
  });
});
