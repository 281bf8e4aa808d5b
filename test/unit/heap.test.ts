import { describe, expect, test } from 'vitest';
import { heapify, heapPeek, heapPop, heapPush, heapRestoreFrom } from '../../src/heap.js';

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

  test('heapify orders an arbitrary array like pushes would', () => {
    const items = Array.from({ length: 5_000 }, (_, s) => ({ k: Math.floor(Math.random() * 20), s }));
    const heap = [...items];
    heapify(heap, less);
    const popped = [];
    for (let n = heapPop(heap, less); n; n = heapPop(heap, less)) popped.push(n);
    expect(popped).toEqual([...items].sort((a, b) => a.k - b.k || a.s - b.s));
  });

  test('heapRestoreFrom takes a few or many appended nodes (sift-up or rebuild), pop order unchanged', () => {
    const shapes: [before: number, added: number][] = [
      [10_000, 3],
      [10, 10_000],
      [0, 1],
      [0, 0],
    ];
    for (const [before, added] of shapes) {
      const items = Array.from({ length: before + added }, (_, s) => ({ k: Math.floor(Math.random() * 5), s }));
      const heap: { k: number; s: number }[] = [];
      for (const item of items.slice(0, before)) heapPush(heap, item, less);
      heap.push(...items.slice(before));
      heapRestoreFrom(heap, before, less);
      const popped = [];
      for (let n = heapPop(heap, less); n; n = heapPop(heap, less)) popped.push(n);
      expect(popped).toEqual([...items].sort((a, b) => a.k - b.k || a.s - b.s));
    }
  });

  test('empty heap pops undefined', () => {
    expect(heapPop([], less)).toBeUndefined();
    expect(heapPeek([])).toBeUndefined();
  });
});
