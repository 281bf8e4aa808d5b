/** What a dependency's end means for a task waiting on it: whether it may run, the outcome it keeps, or why it is skipped. */
import { DependencyError, serializeError } from '../errors.js';
import type { Dependency, DependencyCondition, DependencyOutcome, SerializedError, TaskRecord, TaskStatus } from '../types.js';

/** Whether a dependency that ended with `status` lets a dependent waiting `on` it run. */
export function conditionHolds(on: DependencyCondition, status: TaskStatus): boolean {
  return on === 'completion' || (on === 'success' ? status === 'completed' : status === 'failed');
}

/** How a finished record ended, as its dependents keep it: its result, or its last error. */
export function outcomeOf(record: TaskRecord): DependencyOutcome {
  if (record.status === 'completed') return { status: 'completed', result: record.result };
  const last = record.errors[record.errors.length - 1];
  const error: SerializedError = last ?? { name: 'Error', message: `task ${record.id} ended ${record.status}` };
  return { status: record.status as 'failed' | 'cancelled' | 'skipped', error };
}

/** `outcomes` in the order of `deps` (what `ctx.dependencies` iterates in). */
export function inOrder(outcomes: Readonly<Record<string, DependencyOutcome>> | undefined, deps: readonly Dependency[]) {
  // One dependency: already in order (and perhaps shared with the other dependents of the same task).
  if (outcomes && deps.length === 1 && Object.isFrozen(outcomes)) return outcomes;
  const out: Record<string, DependencyOutcome> = {};
  if (outcomes) for (const d of deps) if (Object.hasOwn(outcomes, d.id)) out[d.id] = outcomes[d.id] as DependencyOutcome;
  return out;
}

const WANTS: Readonly<Record<DependencyCondition, string>> = {
  success: 'to complete',
  failure: 'to fail',
  completion: 'to end',
};

/** The error a dependent is skipped with: it names the dependency and how it ended. */
export function brokenBy(dependent: { id: string; name: string }, dep: Dependency, record: TaskRecord | undefined): SerializedError {
  let how: string;
  if (!record) how = 'is no longer stored (discarded, or trimmed by retention), so how it ended is unknown';
  else if (record.status === 'completed') how = 'completed';
  else {
    const last = record.errors[record.errors.length - 1];
    how = `${record.status === 'failed' ? 'failed' : `was ${record.status}`}${last ? ` (${last.name}: ${last.message})` : ''}`;
  }
  const named = record ? `"${record.name}" (${dep.id})` : dep.id;
  return serializeError(
    new DependencyError(
      `task "${dependent.name}" (${dependent.id}) was skipped: its dependency ${named} ${how}, and it waited for it ${WANTS[dep.on]}`,
    ),
  );
}
