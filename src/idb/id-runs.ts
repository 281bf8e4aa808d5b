import { mintedNumber } from '../id-run.js';
import { lastAtOrBefore } from '../sorted.js';

const firstOf = (slot: RunSlot) => slot.first;

/** A segment found on open whose versions' ids are one minted run: `prefix` + base 36 of `first + i`. */
export class RunSlot {
  /** 1 where the version at that position is not its task's current one (superseded, or dropped); made on the first. */
  #gone: Uint8Array | undefined;
  /** Positions gone. */
  goneCount = 0;

  constructor(
    readonly local: number,
    readonly prefix: string,
    readonly first: number,
    readonly n: number,
  ) {}

  isGone(pos: number): boolean {
    return this.#gone !== undefined && this.#gone[pos] !== 0;
  }

  /** Marks `pos` gone; false if it already was. */
  markGone(pos: number): boolean {
    this.#gone ??= new Uint8Array(this.n);
    if (this.#gone[pos] !== 0) return false;
    this.#gone[pos] = 1;
    this.goneCount++;
    return true;
  }
}

/**
 * Where the segment map keeps segments found on open whose ids form a minted run (the usual case: a
 * batch enqueued in one go), by position instead of one map entry per id, so opening a big queue
 * hashes no id. Holds, per prefix, the runs sorted by first id; a position is current unless `gone`.
 */
export class RunTable {
  readonly #byPrefix = new Map<string, RunSlot[]>();
  readonly #byLocal = new Map<number, RunSlot>();
  #unsorted = false;
  #longest = 0;

  get size(): number {
    return this.#byLocal.size;
  }

  add(local: number, prefix: string, first: number, n: number): RunSlot {
    const slot = new RunSlot(local, prefix, first, n);
    this.#byLocal.set(local, slot);
    const list = this.#byPrefix.get(prefix);
    if (!list) this.#byPrefix.set(prefix, [slot]);
    else {
      if ((list.at(-1) as RunSlot).first > first) this.#unsorted = true;
      list.push(slot);
    }
    this.#longest = Math.max(this.#longest, n);
    return slot;
  }

  slot(local: number): RunSlot | undefined {
    return this.#byLocal.get(local);
  }

  /** The segment `local` left the map: its run with it. */
  remove(local: number): void {
    const slot = this.#byLocal.get(local);
    if (!slot) return;
    this.#byLocal.delete(local);
    const list = this.#byPrefix.get(slot.prefix) as RunSlot[];
    list.splice(list.indexOf(slot), 1);
    if (list.length === 0) this.#byPrefix.delete(slot.prefix);
  }

  /** Calls `visit` with every run holding a version of `id`, and its position there. */
  holding(id: string, visit: (slot: RunSlot, pos: number) => void): void {
    const cut = id.lastIndexOf('-') + 1;
    if (cut === 0) return;
    const list = this.#byPrefix.get(id.slice(0, cut));
    if (!list) return;
    const n = mintedNumber(list[0]?.prefix as string, id);
    if (n < 0) return;
    this.#sort();
    // The last run starting at or before n; any run holding n starts less than `#longest` before it.
    for (let k = lastAtOrBefore(list, firstOf, n); k >= 0; k--) {
      const slot = list[k] as RunSlot;
      if (slot.first + this.#longest <= n) break;
      if (slot.first <= n && n < slot.first + slot.n) visit(slot, n - slot.first);
    }
  }

  /** The run holding `id`'s current version (at most one does), and its position. */
  current(id: string): [RunSlot, number] | undefined {
    let found: [RunSlot, number] | undefined;
    this.holding(id, (slot, pos) => {
      if (!slot.isGone(pos)) found = [slot, pos];
    });
    return found;
  }

  /**
   * Marks every position held by more than one run gone in all but the newest (highest local) of
   * them: a version with a newer one anywhere is not current. Calls `lost(slot)` for each position
   * newly marked.
   */
  settleOverlaps(lost: (slot: RunSlot) => void): void {
    this.#sort();
    for (const list of this.#byPrefix.values())
      for (let i = 0; i < list.length; i++) {
        const a = list[i] as RunSlot;
        for (let j = i + 1; j < list.length; j++) {
          const b = list[j] as RunSlot;
          if (b.first >= a.first + a.n) break;
          const older = a.local < b.local ? a : b;
          const from = Math.max(a.first, b.first);
          const to = Math.min(a.first + a.n, b.first + b.n);
          for (let x = from; x < to; x++) {
            const pos = x - older.first;
            if (older.markGone(pos)) lost(older);
          }
        }
      }
  }

  /** Every run, in no particular order. */
  slots(): IterableIterator<RunSlot> {
    return this.#byLocal.values();
  }

  #sort(): void {
    if (!this.#unsorted) return;
    for (const list of this.#byPrefix.values()) list.sort((a, b) => a.first - b.first);
    this.#unsorted = false;
  }
}
