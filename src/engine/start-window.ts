/** A rate window holds at least this many start times before it grows. */
const MIN_CAPACITY = 16;

/**
 * A rate-limited group's start times, oldest first, in a ring of doubles that doubles when full. A
 * typed array, not a JS array: a window with a big `max` holds thousands of times per group, and a
 * JS array of them lives on the young heap, copied by every scavenge and reallocated as it grows;
 * a typed array's store is outside it. Dropping the old end is a head move, never a copy.
 */
export class StartWindow {
  #times = new Float64Array(MIN_CAPACITY);
  /** Where the oldest time is. */
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The oldest time held, if any. */
  oldest(): number | undefined {
    return this.#size > 0 ? this.#times[this.#head] : undefined;
  }

  /** Drops the times at or before `t` (they have left the window). */
  dropThrough(t: number): void {
    const times = this.#times;
    const mask = times.length - 1;
    while (this.#size > 0 && (times[this.#head] as number) <= t) {
      this.#head = (this.#head + 1) & mask;
      this.#size--;
    }
  }

  /** Adds `at` in order: after every time not later than it (starts are told nearly in order, so this is nearly always the end). */
  add(at: number): void {
    if (this.#size === this.#times.length) this.#grow();
    const times = this.#times;
    const mask = times.length - 1;
    let i = this.#size;
    // Shift the later times one place on, from the newest back.
    while (i > 0) {
      const before = (this.#head + i - 1) & mask;
      if ((times[before] as number) <= at) break;
      times[(this.#head + i) & mask] = times[before] as number;
      i--;
    }
    times[(this.#head + i) & mask] = at;
    this.#size++;
  }

  /** How many times are after `t`, and the oldest of them. */
  after(t: number): { count: number; oldest: number | undefined } {
    const times = this.#times;
    const mask = times.length - 1;
    for (let i = 0; i < this.#size; i++) {
      const at = times[(this.#head + i) & mask] as number;
      if (at > t) return { count: this.#size - i, oldest: at };
    }
    return { count: 0, oldest: undefined };
  }

  #grow(): void {
    const old = this.#times;
    const mask = old.length - 1;
    const times = new Float64Array(old.length * 2);
    for (let i = 0; i < this.#size; i++) times[i] = old[(this.#head + i) & mask] as number;
    this.#times = times;
    this.#head = 0;
  }
}
