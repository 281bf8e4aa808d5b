const noop = (): void => {};

/**
 * Read-modify-write edits of a stored record that has not started (`reprioritize`, an `onDuplicate:
 * 'replace'`), one at a time per task: each reads the record only once the edit before it has
 * requested its write, so two edits of one task never write back each other's stale copy.
 */
export class RecordEdits {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `edit` once every edit of task `id` requested before it has settled. */
  edit<T>(id: string, edit: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(id);
    const run = before ? before.then(edit) : edit();
    const tail = run.then(noop, noop);
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return run;
  }
}
