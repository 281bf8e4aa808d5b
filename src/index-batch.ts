import type { IndexEntry } from './task-index.js';

/**
 * The entries of one `enqueueMany`, staged for `TaskIndex.addMany`, with consecutive ids minted
 * here: `prefix` plus a base-36 counter from `first` on. Entries are found by position, parsed out
 * of the id, so a batch of any size needs no id → entry map (no id is hashed to index it).
 * Once added, the index owns the batch and `delete`s entries as they leave.
 */
export class IndexBatch {
  readonly #entries: (IndexEntry | undefined)[] = [];
  #size = 0;

  constructor(
    readonly prefix: string,
    readonly first: number,
  ) {}

  /** Entries pushed and not deleted since. */
  get size(): number {
    return this.#size;
  }

  /** In push order; a deleted entry's slot holds undefined. */
  get entries(): readonly (IndexEntry | undefined)[] {
    return this.#entries;
  }

  /** The id the next pushed entry must carry. */
  nextId(): string {
    return this.prefix + (this.first + this.#entries.length).toString(36);
  }

  push(entry: IndexEntry): void {
    this.#entries.push(entry);
    this.#size++;
  }

  get(id: string): IndexEntry | undefined {
    const entry = this.#entries[this.#position(id)];
    return entry?.id === id ? entry : undefined;
  }

  delete(id: string): boolean {
    const i = this.#position(id);
    if (this.#entries[i]?.id !== id) return false;
    this.#entries[i] = undefined;
    this.#size--;
    return true;
  }

  *values(): IterableIterator<IndexEntry> {
    for (const entry of this.#entries) if (entry) yield entry;
  }

  /** Where an entry with this id would sit: -1 if it cannot be one of ours. */
  #position(id: string): number {
    if (!id.startsWith(this.prefix)) return -1;
    const i = Number.parseInt(id.slice(this.prefix.length), 36) - this.first;
    return i >= 0 && i < this.#entries.length ? i : -1;
  }
}
