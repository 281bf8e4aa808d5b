import { StalledError, serializeError } from './errors.js';
import { noteError } from './transition.js';
import type { TaskRecord } from './types.js';

export interface RecoveryPlan {
  /** Records that go back into the index as they are (queued, retrying, or re-queued stalls). */
  resume: TaskRecord[];
  /** Records waiting for their dependencies: they go back to waiting, not into the index. */
  waiting: TaskRecord[];
  /** Records changed by recovery that must be written back before anything runs. */
  changed: TaskRecord[];
  /** Records recovery failed (too many stalls). */
  failed: TaskRecord[];
}

/**
 * Decides what happens to each live record found on open. A record still `running` belongs to a
 * tab that died (or is still alive, which `ownerAlive` tells): a dead owner's task is re-queued
 * with its attempt counted and a `stalled` error, keeping its place in line (same priority, runAt,
 * seq), or failed once it stalled more than `maxStalls` times. This is where at-least-once comes
 * from: the handler may have done part or all of its work before the tab died.
 */
export function planRecovery(
  records: readonly TaskRecord[],
  now: number,
  options: { maxStalls: number; ownerAlive(owner: string): boolean },
): RecoveryPlan {
  const plan: RecoveryPlan = { resume: [], waiting: [], changed: [], failed: [] };
  for (const record of records) {
    if (record.status === 'waiting') {
      plan.waiting.push(record);
      continue;
    }
    if (record.status === 'queued' || record.status === 'retrying') {
      plan.resume.push(record);
      continue;
    }
    if (record.status !== 'running') continue;
    if (record.lease && options.ownerAlive(record.lease.owner)) continue;
    record.stalls = (record.stalls ?? 0) + 1;
    const error = serializeError(
      new StalledError(`task "${record.name}" (${record.id}) was running when its tab went away (stall ${record.stalls})`),
    );
    noteError(record, error, now);
    record.lease = undefined;
    if (record.stalls > options.maxStalls) {
      record.status = 'failed';
      record.finishedAt = now;
      plan.failed.push(record);
    } else {
      record.status = 'queued';
      plan.resume.push(record);
    }
    plan.changed.push(record);
  }
  return plan;
}
