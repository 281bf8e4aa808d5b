import type { MintedIds } from './id-run.js';
import type { Run, RunSelect } from './task-table.js';

/** New values by position, made on demand: `make(i)` builds the one with the i-th minted id. */
export interface LazyBatch<T> extends MintedIds {
  readonly size: number;
  make(i: number): T;
  /** Optional: position `i` was deleted and is never made again; drop what the batch holds for it. */
  release?(i: number): void;
  /** Optional: the name the value at `i` would be made with, known without making it (for `RunSelect.name`). */
  nameOf?(i: number): string;
}

/**
 * A batch of new values held as the batch that can make them: a value is made the first time it is
 * asked for and kept from then on (so every read returns the same object), replaced when written,
 * and only marked when deleted. A million new tasks cost their batch's columns until they are looked
 * at, not a million records.
 */
export class LazyRun<T extends { id: string }> implements Run<T> {
  readonly #batch: LazyBatch<T>;
  /** 1 once deleted, by position. */
  readonly #gone: Uint8Array;
  readonly #made = new Map<number, T>();
  #size: number;

  constructor(batch: LazyBatch<T>) {
    this.#batch = batch;
    this.#gone = new Uint8Array(batch.size);
    this.#size = batch.size;
  }

  get size(): number {
    return this.#size;
  }

  get prefix(): string {
    return this.#batch.prefix;
  }

  get first(): number {
    return this.#batch.first;
  }

  get span(): number {
    return this.#gone.length;
  }

  at(i: number): T | undefined {
    return this.#gone[i] === 0 ? this.#at(i) : undefined;
  }

  replaceAt(i: number, value: T): boolean {
    if (i < 0 || this.#gone[i] !== 0) return false;
    this.#made.set(i, value);
    return true;
  }

  deleteAt(i: number): boolean {
    if (i < 0 || this.#gone[i] !== 0) return false;
    this.#gone[i] = 1;
    this.#made.delete(i);
    this.#batch.release?.(i);
    this.#size--;
    return true;
  }

  *values(select: RunSelect = {}): IterableIterator<T> {
    if (select.madeOnly) {
      yield* this.#made.values();
      return;
    }
    const name = select.name;
    const nameOf = name === undefined ? undefined : this.#batch.nameOf?.bind(this.#batch);
    for (let i = 0; i < this.#gone.length; i++) {
      if (this.#gone[i] !== 0) continue;
      const made = this.#made.get(i);
      if (made !== undefined) yield made;
      else if (!nameOf || nameOf(i) === name) yield this.#at(i);
    }
  }

  #at(i: number): T {
    let value = this.#made.get(i);
    if (value === undefined) {
      value = this.#batch.make(i);
      this.#made.set(i, value);
    }
    return value;
  }
}
