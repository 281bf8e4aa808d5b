import { describe, expect, test } from 'vitest';
import { heapPeek, heapPop, heapPush } from '../../src/heap.js';

const less = (a: { k: number; s: number }, b: { k: number; s: number }) => (a.k !== b.k ? a.k < b.k : a.s < b.s);

describe('heap', () => {
  test('pops in key order, ties in insertion order', () => {
    const heap: { k: number; s: number }[] = [];
    const keys = [5, 3, 9, 3, 1, 5, 0, 9, 3];
    for (const [s, k] of keys.entries()) heapPush(heap, { k, s }, less);
    expect(heapPeek(heap)).toEqual({ k: 0, s: 6 });
    const out: string[] = [];
    for (let n = heapPop(heap, less); n; n = heapPop(heap, less)) out.push(`${n.k}.${n.s}`);
    expect(out).toEqual(['0.6', '1.4', '3.1', '3.3', '3.8', '5.0', '5.5', '9.2', '9.7']);
  });

  test('matches a sort on 10,000 random keys', () => {
    const heap: { k: number; s: number }[] = [];
    const items = Array.from({ length: 10_000 }, (_, s) => ({ k: Math.floor(Math.random() * 50), s }));
    for (const item of items) heapPush(heap, item, less);
    const sorted = [...items].sort((a, b) => a.k - b.k || a.s - b.s);
    const popped = [];
    for (let n = heapPop(heap, less); n; n = heapPop(heap, less)) popped.push(n);
    expect(popped).toEqual(sorted);
  });

  test('empty heap pops undefined', () => {
    expect(heapPop([], less)).toBeUndefined();
    expect(heapPeek([])).toBeUndefined();
  });
});
