import { type MintedIds, mintedNumber } from './id-run.js';
import { SteadyMap } from './steady-map.js';

/**
 * Values of consecutively minted ids, found by position (`IdRun` holds them; `LazyRun` makes them
 * when first asked for).
 */
export interface Run<T> extends MintedIds {
  readonly size: number;
  /** Positions minted for the run, held or not: it holds at most the ids minted at `first` to `first + span - 1`. */
  readonly span: number;
  /** The value at position `i` (which must be `id`'s position), or undefined if it is not held. */
  at(i: number, id: string): T | undefined;
  /** Replaces the value held at `i` (`value.id`'s position); false (and nothing changes) if none is held. */
  replaceAt(i: number, value: T): boolean;
  /** Deletes the value held at `i` (`id`'s position); false if none is held. */
  deleteAt(i: number, id: string): boolean;
  /** Every value, less those `select` rules out before a lazy run would make them. */
  values(select?: RunSelect): IterableIterator<T>;
}

/**
 * Which values a lazy run may leave out without making them. Values that exist as objects already are
 * always yielded (the caller filters those); the rest are as the batch made them.
 */
export interface RunSelect {
  /** Leave out every value not made yet. */
  madeOnly?: boolean;
  /** Leave out the values not made yet whose name (the batch knows it) is another. */
  name?: string;
}

/** A run at least this big stays a run (found by position); a smaller one joins the map. */
export const RUN_MIN = 4096;
/** A run joins the map once fewer than this many of its values are left. */
const RUN_FOLD = 256;

/**
 * Values by task id: a Map, plus big runs of consecutively minted ids found by position (`Run`),
 * so adding a million new tasks at once hashes no id. Used by the index (its entries) and the
 * memory store (its records).
 */
export class TaskTable<T extends { id: string }> {
  readonly #map = new SteadyMap<string, T>();
  readonly #runs: Run<T>[] = [];
  /** The position `#runOf` found. */
  #pos = 0;

  get size(): number {
    let size = this.#map.size;
    for (const run of this.#runs) size += run.size;
    return size;
  }

  /*
   * An id is held in the map or in one run, never both (a run's ids are new when it is added, and
   * `set` replaces in a run before it adds to the map), so runs are asked first, newest first (the
   * tasks being worked on are mostly the latest batch's): finding an id in a run parses it, where
   * asking the map hashes it, which costs more (a new id is hashed afresh).
   */

  get(id: string): T | undefined {
    const r = this.#runOf(id);
    const held = r < 0 ? undefined : (this.#runs[r] as Run<T>).at(this.#pos, id);
    return held ?? (this.#map.size > 0 ? this.#map.get(id) : undefined);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds `value`, or replaces the value held under its id. */
  set(value: T): void {
    const r = this.#runOf(value.id);
    if (r >= 0 && (this.#runs[r] as Run<T>).replaceAt(this.#pos, value)) return;
    this.#map.set(value.id, value);
  }

  /**
   * Adds a run of values under ids that are new here (the caller knows: it minted them). A big run
   * is kept as it is; a small one joins the map.
   */
  addRun(run: Run<T>): void {
    if (run.size >= RUN_MIN) this.#runs.push(run);
    else for (const value of run.values()) this.#map.set(value.id, value);
  }

  /** Deletes `id` from the map or the run holding it. A run with few values left joins the map. */
  delete(id: string): boolean {
    const r = this.#runOf(id);
    return r >= 0 && this.#deleteAt(r, id) ? true : this.#map.size > 0 && this.#map.delete(id);
  }

  /** Deletes `value` if it is the value held under its id: `get` then `delete` in one lookup. */
  deleteHeld(value: T): boolean {
    const id = value.id;
    const r = this.#runOf(id);
    if (r >= 0 && (this.#runs[r] as Run<T>).at(this.#pos, id) === value) return this.#deleteAt(r, id);
    return this.#map.size > 0 && this.#map.get(id) === value && this.#map.delete(id);
  }

  #deleteAt(r: number, id: string): boolean {
    const run = this.#runs[r] as Run<T>;
    if (!run.deleteAt(this.#pos, id)) return false;
    if (run.size < RUN_FOLD) {
      this.#runs.splice(r, 1);
      for (const value of run.values()) this.#map.set(value.id, value);
    }
    return true;
  }

  /** Takes every value out, unordered. */
  clear(): T[] {
    const out = [...this.values()];
    this.#map.clear();
    this.#runs.length = 0;
    return out;
  }

  /** Every value, less the values of lazy runs that `select` rules out (and does not make). */
  values(select?: RunSelect): IterableIterator<T> {
    return this.#runs.length === 0 ? this.#map.values() : this.#all(select);
  }

  /**
   * The index of the run whose positions cover `id` (minted ids are unique, so at most one does),
   * with the position in `#pos`; or -1. A scheduler's runs share one prefix: the id is parsed once.
   */
  #runOf(id: string): number {
    const runs = this.#runs;
    let prefix: string | undefined;
    let n = -1;
    for (let r = runs.length - 1; r >= 0; r--) {
      const run = runs[r] as Run<T>;
      if (run.prefix !== prefix) {
        prefix = run.prefix;
        n = mintedNumber(prefix, id);
      }
      const i = n - run.first;
      if (n >= 0 && i >= 0 && i < run.span) {
        this.#pos = i;
        return r;
      }
    }
    return -1;
  }

  *#all(select: RunSelect | undefined): IterableIterator<T> {
    yield* this.#map.values();
    for (const run of this.#runs) yield* run.values(select);
  }
}
