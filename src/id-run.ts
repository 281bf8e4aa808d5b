/**
 * Ids minted from a counter: the i-th is `prefix` + base 36 of `first + i`. The scheduler mints
 * every task id this way, so a run of them can be found by position instead of by hashing each id.
 */
export interface MintedIds {
  readonly prefix: string;
  readonly first: number;
}

/**
 * Values whose ids were minted consecutively, kept in an array by position: a value is found by
 * parsing its id, so a run of any size needs no id → value map (no id is hashed to hold it). The
 * i-th slot holds the value with the i-th minted id, or undefined once deleted.
 */
export class IdRun<T extends { id: string }> implements MintedIds {
  readonly #values: (T | undefined)[];
  #size: number;

  /** `values[i]` must carry the i-th minted id (`nextId` mints them in order). */
  constructor(
    readonly prefix: string,
    readonly first: number,
    values: (T | undefined)[] = [],
  ) {
    this.#values = values;
    this.#size = values.length;
  }

  /** Values held (pushed and not deleted). */
  get size(): number {
    return this.#size;
  }

  /** By position; a deleted value's slot holds undefined. */
  get slots(): readonly (T | undefined)[] {
    return this.#values;
  }

  /** The id the next pushed value must carry. */
  nextId(): string {
    return this.prefix + (this.first + this.#values.length).toString(36);
  }

  push(value: T): void {
    this.#values.push(value);
    this.#size++;
  }

  get(id: string): T | undefined {
    const value = this.#values[this.#position(id)];
    return value?.id === id ? value : undefined;
  }

  /** Replaces the value held under `value.id`; false (and nothing changes) if none is held. */
  replace(value: T): boolean {
    const i = this.#position(value.id);
    if (this.#values[i]?.id !== value.id) return false;
    this.#values[i] = value;
    return true;
  }

  delete(id: string): boolean {
    const i = this.#position(id);
    if (this.#values[i]?.id !== id) return false;
    this.#values[i] = undefined;
    this.#size--;
    return true;
  }

  *values(): IterableIterator<T> {
    for (const value of this.#values) if (value) yield value;
  }

  /**
   * Where a value with this id would sit: -1 if it cannot be one of ours. Parsed by hand (no
   * substring, no parseInt): this runs for every lookup. Callers still compare the id held there.
   */
  #position(id: string): number {
    const prefix = this.prefix;
    if (id.length <= prefix.length || !id.startsWith(prefix)) return -1;
    let n = 0;
    for (let k = prefix.length; k < id.length; k++) {
      const c = id.charCodeAt(k);
      const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
      if (digit < 0) return -1;
      n = n * 36 + digit;
    }
    const i = n - this.first;
    return i >= 0 && i < this.#values.length ? i : -1;
  }
}
