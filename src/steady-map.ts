/** Never a key of ours: it holds the table open. */
const SENTINEL: unique symbol = Symbol('tasklane.steady-map');

/**
 * A Map whose hash table is not rebuilt each time it empties. V8 shrinks a Map's table when a delete
 * leaves it less than half full, and an empty table always qualifies: a map that goes 0 → 1 → 0 per
 * task (running calls, live handles, index entries on an idle pool) allocated a fresh table, about
 * 150 bytes, on every task. This one holds a private first entry, so it never shrinks to nothing;
 * `size` and iteration leave that entry out (it is always first in insertion order, skipped by one
 * `next()`).
 */
export class SteadyMap<K, V> extends Map<K, V> {
  constructor() {
    super();
    super.set(SENTINEL as K, undefined as V);
  }

  override get size(): number {
    return super.size - 1;
  }

  /** Deletes entry by entry: the private entry stays first, so an iterator running meanwhile never meets it. */
  override clear(): void {
    for (const key of super.keys()) if (key !== SENTINEL) super.delete(key);
  }

  override delete(key: K): boolean {
    return key !== SENTINEL && super.delete(key);
  }

  override entries(): MapIterator<[K, V]> {
    const it = super.entries();
    it.next();
    return it;
  }

  override keys(): MapIterator<K> {
    const it = super.keys();
    it.next();
    return it;
  }

  override values(): MapIterator<V> {
    const it = super.values();
    it.next();
    return it;
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  override forEach(fn: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    super.forEach((value, key) => {
      if (key !== SENTINEL) fn.call(thisArg, value, key, this);
    });
  }
}
