import type { MintedIds } from '../id-run.js';
import type { IndexEntry } from '../index-entry.js';
import type { TaskIndex } from '../task-index.js';
import { RUN_MIN } from '../task-table.js';

/** An enqueueMany's records as minted: the i-th has the i-th id of `minted` and seq `firstSeq + i`. */
export interface BatchOrigin {
  readonly minted: MintedIds;
  readonly firstSeq: number;
}

/** A task that may join the queue: its entry, and the batch it came from if its id and seq are still as minted. */
export interface Releasable {
  readonly entry: IndexEntry;
  readonly origin: BatchOrigin | undefined;
}

/**
 * Tasks join the queue at their places in line (their entries' keys). A run of `RUN_MIN` or more
 * of one batch's tasks, consecutive in seq (a fan-out's dependents, released by one dependency's
 * end), goes in as one `addBatch`, held as a few lanes as a plain batch is, instead of an entry,
 * a hashed id and a heap push each; the rest go in one by one.
 */
export function release(index: Pick<TaskIndex, 'add' | 'addBatch'>, tasks: readonly Releasable[], now: number): void {
  let from = 0;
  for (let i = 1; i <= tasks.length; i++) {
    const prev = tasks[i - 1] as Releasable;
    const t = tasks[i];
    if (t && prev.origin !== undefined && t.origin === prev.origin && t.entry.seq === prev.entry.seq + 1) continue;
    if (i - from >= RUN_MIN && prev.origin) addRun(index, tasks, from, i, prev.origin, now);
    else for (let k = from; k < i; k++) index.add((tasks[k] as Releasable).entry, now);
    from = i;
  }
}

/** `tasks[from..to)`, one batch's tasks consecutive in seq (so in id), into the index as one batch. */
function addRun(
  index: Pick<TaskIndex, 'addBatch'>,
  tasks: readonly Releasable[],
  from: number,
  to: number,
  origin: BatchOrigin,
  now: number,
): void {
  const at = (i: number) => (tasks[from + i] as Releasable).entry;
  const first = at(0).seq - origin.firstSeq;
  index.addBatch(
    {
      size: to - from,
      id: (i) => at(i).id,
      name: (i) => at(i).name,
      priority: (i) => at(i).priority,
      runAt: (i) => at(i).readyAt,
      seq: (i) => at(i).seq,
      group: (i) => at(i).group,
    },
    { prefix: origin.minted.prefix, first: origin.minted.first + first },
    now,
  );
}
