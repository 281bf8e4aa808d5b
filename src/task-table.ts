import { SteadyMap } from './steady-map.js';

/**
 * Values of consecutively minted ids, found by position (`IdRun` holds them; `LazyRun` makes them
 * when first asked for).
 */
export interface Run<T> {
  readonly size: number;
  get(id: string): T | undefined;
  /** Replaces the value held under `value.id`; false (and nothing changes) if none is held. */
  replace(value: T): boolean;
  delete(id: string): boolean;
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
    const runs = this.#runs;
    for (let r = runs.length - 1; r >= 0; r--) {
      const held = (runs[r] as Run<T>).get(id);
      if (held) return held;
    }
    return this.#map.size > 0 ? this.#map.get(id) : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds `value`, or replaces the value held under its id. */
  set(value: T): void {
    const runs = this.#runs;
    for (let r = runs.length - 1; r >= 0; r--) if ((runs[r] as Run<T>).replace(value)) return;
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
    const runs = this.#runs;
    for (let i = runs.length - 1; i >= 0; i--) {
      const run = runs[i] as Run<T>;
      if (!run.delete(id)) continue;
      if (run.size < RUN_FOLD) {
        runs.splice(i, 1);
        for (const value of run.values()) this.#map.set(value.id, value);
      }
      return true;
    }
    return this.#map.size > 0 && this.#map.delete(id);
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

  *#all(select: RunSelect | undefined): IterableIterator<T> {
    yield* this.#map.values();
    for (const run of this.#runs) yield* run.values(select);
  }
}
