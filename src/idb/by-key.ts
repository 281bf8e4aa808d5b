/**
 * Values by segment key, without making a string of each key: by stamp, then by number. Opening a
 * big queue looks up every segment's key a few times, and `String([stamp, n])` was most of that.
 * A key of another shape (planted by hand) is held under its string.
 */
export class ByKey<V> {
  readonly #byStamp = new Map<unknown, Map<unknown, V>>();

  set(key: IDBValidKey, value: V): void {
    const [a, b] = split(key);
    let inner = this.#byStamp.get(a);
    if (!inner) this.#byStamp.set(a, (inner = new Map()));
    inner.set(b, value);
  }

  get(key: IDBValidKey): V | undefined {
    const [a, b] = split(key);
    return this.#byStamp.get(a)?.get(b);
  }

  has(key: IDBValidKey): boolean {
    const [a, b] = split(key);
    return this.#byStamp.get(a)?.has(b) ?? false;
  }
}

function split(key: IDBValidKey): [unknown, unknown] {
  if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'number' && typeof key[1] === 'number') return [key[0], key[1]];
  return [String(key), undefined];
}
