/**
 * Ids minted from a counter: the i-th is `prefix` + base 36 of `first + i`. The scheduler mints
 * every task id this way, so a run of them can be found by position instead of by hashing each id.
 */
export interface MintedIds {
  readonly prefix: string;
  readonly first: number;
}

/**
 * The counter value `id` was minted from under `prefix` (`prefix` + base 36 of it), or -1 if it
 * cannot be one (a leading zero, as in `x-01`, is not how an id is minted). Parsed by hand (no
 * substring, no parseInt): this runs for every lookup of a task held by position, so a caller asking
 * several runs with one prefix parses once.
 */
export function mintedNumber(prefix: string, id: string): number {
  const start = prefix.length;
  const length = id.length;
  if (length <= start || (id.charCodeAt(start) === 48 && length > start + 1)) return -1;
  let n = 0;
  for (let k = start; k < length; k++) {
    const c = id.charCodeAt(k);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
    if (digit < 0) return -1;
    n = n * 36 + digit;
  }
  // By hand, from the end (where ids of two schedulers differ first): a quarter faster than startsWith.
  for (let k = start - 1; k >= 0; k--) if (id.charCodeAt(k) !== prefix.charCodeAt(k)) return -1;
  return n;
}

/** Where `id` sits among `count` ids minted from `minted` (its i in `prefix` + base 36 of `first + i`), or -1. */
export function mintedPosition(minted: MintedIds, count: number, id: string): number {
  const n = mintedNumber(minted.prefix, id);
  const i = n - minted.first;
  return n >= 0 && i >= 0 && i < count ? i : -1;
}

/** The id minted at position `i`. */
export function mintedId(minted: MintedIds, i: number): string {
  return minted.prefix + (minted.first + i).toString(36);
}

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * Mints the ids `mintedId` would, in order, for a batch: all but the last digit are shared by 36
 * ids in a row, so each id is one concatenation of a shared stem and a one-character string. No
 * number is formatted per id (formatting was most of the cost of minting a million), and each id
 * holds only its own last character.
 */
export class IdMinter {
  #n: number;
  #stem = '';
  #stemOf = -1;

  constructor(
    readonly prefix: string,
    first: number,
  ) {
    this.#n = first;
  }

  next(): string {
    const n = this.#n++;
    const high = Math.floor(n / 36);
    if (high !== this.#stemOf) {
      this.#stemOf = high;
      this.#stem = high === 0 ? this.prefix : this.prefix + high.toString(36);
    }
    return this.#stem + (DIGITS[n - high * 36] as string);
  }
}

/**
 * Values whose ids were minted consecutively, kept in an array by position: a value is found by
 * parsing its id, so a run of any size needs no id → value map (no id is hashed to hold it). The
 * i-th slot holds the value with the i-th minted id, or undefined once deleted.
 */
export class IdRun<T extends { id: string }> implements MintedIds {
  readonly #values: (T | undefined)[];
  #size: number;

  /**
   * `values[i]` must carry the i-th minted id (`mintedId`), or be a hole; the run takes the array
   * over. `size`: how many are not holes (by default, all).
   */
  constructor(
    readonly prefix: string,
    readonly first: number,
    values: (T | undefined)[],
    size = values.length,
  ) {
    this.#values = values;
    this.#size = size;
  }

  /** Values held (not deleted). */
  get size(): number {
    return this.#size;
  }

  /** Positions minted for the run, held or not. */
  get span(): number {
    return this.#values.length;
  }

  at(i: number, id: string): T | undefined {
    const value = this.#values[i];
    return value?.id === id ? value : undefined;
  }

  /** Replaces the value held at `i` under `value.id`; false (and nothing changes) if none is held. */
  replaceAt(i: number, value: T): boolean {
    if (this.#values[i]?.id !== value.id) return false;
    this.#values[i] = value;
    return true;
  }

  deleteAt(i: number, id: string): boolean {
    if (this.#values[i]?.id !== id) return false;
    this.#values[i] = undefined;
    this.#size--;
    return true;
  }

  *values(): IterableIterator<T> {
    for (const value of this.#values) if (value) yield value;
  }
}
