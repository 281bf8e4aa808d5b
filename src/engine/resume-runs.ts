import type { RecoveredRun } from '../store.js';
import { entryOf, type TaskIndex } from '../task-index.js';
import { yieldToEventLoop } from '../yield.js';
import { type GateTags, hasTags } from './task-settings.js';

/** Recovered queued tasks put back into the index per event-loop task, about. */
const RESUME_SLICE = 65_536;

/** What putting recovered runs back needs of the scheduler. */
export interface ResumeHost {
  readonly index: TaskIndex;
  /** Seqs minted from now on come after `seq`. */
  noteSeq(seq: number): void;
  /** Idempotency key → task id of live tasks. */
  readonly keys: Map<string, string>;
  /** The gates learn a task's tags. */
  noteTags(id: string, tags: GateTags): void;
}

/**
 * Recovery: queued tasks the store knows only by their ordering fields go back into the index as
 * batches (by position where their ids were minted in a row), over a few event-loop tasks, none long.
 */
export async function resumeRuns(host: ResumeHost, runs: readonly RecoveredRun[], now: number): Promise<void> {
  let since = 0;
  for (const run of runs) {
    resumeRun(host, run, now);
    if ((since += run.tasks.size) >= RESUME_SLICE) {
      since = 0;
      await yieldToEventLoop();
    }
  }
}

function resumeRun(host: ResumeHost, run: RecoveredRun, now: number): void {
  const { tasks, minted } = run;
  host.noteSeq(run.topSeq);
  if (minted) host.index.addBatch(tasks, minted, now);
  else
    for (let i = 0; i < tasks.size; i++)
      host.index.add(
        entryOf({
          id: tasks.id(i),
          name: tasks.name(i),
          priority: tasks.priority(i),
          runAt: tasks.runAt(i),
          seq: tasks.seq(i),
          group: tasks.group?.(i),
        }),
        now,
      );
  for (const [i, extras] of run.extras ?? []) {
    const id = tasks.id(i);
    if (extras.key !== undefined) host.keys.set(extras.key, id);
    if (hasTags(extras)) host.noteTags(id, extras);
  }
}

/**
 * Ids of the first `n` tasks of the run whose first task is likely first in line (ready at `now`,
 * by priority, then readyAt, then seq): read ahead while the runs go back into the index, so the
 * first dispatch finds its records read. A guess: a wrong one costs one read.
 */
export function likelyFirst(runs: readonly RecoveredRun[], n: number, now: number): string[] {
  let best: RecoveredRun | undefined;
  for (const run of runs) {
    const t = run.tasks;
    if (t.size === 0 || t.runAt(0) > now) continue;
    const b = best?.tasks;
    if (
      !b ||
      (t.priority(0) !== b.priority(0)
        ? t.priority(0) < b.priority(0)
        : t.runAt(0) !== b.runAt(0)
          ? t.runAt(0) < b.runAt(0)
          : t.seq(0) < b.seq(0))
    )
      best = run;
  }
  if (!best) return [];
  const ids: string[] = new Array(Math.min(n, best.tasks.size));
  for (let i = 0; i < ids.length; i++) ids[i] = best.tasks.id(i);
  return ids;
}
