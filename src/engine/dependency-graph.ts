/** A call's `dependsOn`: validated, refs resolved to ids, self-dependencies and cycles refused, an order to admit in. */
import { DependencyError } from '../errors.js';
import type { Dependency, DependencyCondition, TaskRecord } from '../types.js';
import { checkKeys, describe, optionKeys } from '../validate.js';

/** How `dependsOn` names a dependency in a call: an id (or a ref), or `{ id, on }`. */
type DependencySpec = string | { id: string; on?: DependencyCondition };

const DEPENDENCY_KEYS = optionKeys<{ id: string; on?: DependencyCondition }>({ id: true, on: true });

/**
 * Validates a `dependsOn` option (`what` names it in messages) into `{ id, on }` entries, `on`
 * defaulting to `'success'`; undefined for an empty list. Throws `TypeError` saying what is wrong.
 */
export function normalizeDependsOn(value: unknown, what: string): readonly Dependency[] | undefined {
  if (!Array.isArray(value)) throw new TypeError(`Expected ${what} to be an array of task ids or { id, on }, got ${describe(value)}`);
  if (value.length === 0) return undefined;
  const out: Dependency[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const entry = value[i] as DependencySpec | unknown;
    let dep: Dependency;
    if (typeof entry === 'string' && entry !== '') dep = { id: entry, on: 'success' };
    else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      checkKeys(`${what}[${i}]`, entry, DEPENDENCY_KEYS);
      const { id, on = 'success' } = entry as { id?: unknown; on?: unknown };
      if (typeof id !== 'string' || id === '')
        throw new TypeError(`Expected ${what}[${i}].id to be a task id (non-empty string), got ${describe(id)}`);
      if (on !== 'success' && on !== 'failure' && on !== 'completion')
        throw new TypeError(`Expected ${what}[${i}].on to be 'success', 'failure' or 'completion', got ${describe(on)}`);
      dep = { id, on };
    } else throw new TypeError(`Expected ${what}[${i}] to be a task id (non-empty string) or { id, on }, got ${describe(entry)}`);
    if (seen.has(dep.id)) throw new TypeError(`Expected ${what} to name each task once, got ${describe(dep.id)} twice`);
    seen.add(dep.id);
    out.push(dep);
  }
  return out;
}

/**
 * Resolves the dependencies of one call's new tasks (`specs[i]` for `records[i]`, as validated by
 * `normalizeDependsOn`): a name that is the `ref` of an item of the batch (`refs`: ref → position)
 * means that item (a ref wins over an id), anything else is the id of a stored task. Sets each
 * record's `dependsOn` to ids. Returns the positions in an order where every task comes after the
 * tasks of the call it depends on, or undefined when the call's own order is one (no task depends
 * on an item after it: a fan-out or a chain written in order is not sorted). Throws
 * `DependencyError` for a task that depends on itself or a cycle, naming them; stores nothing.
 * Items sharing one options object share one resolved list.
 */
export function resolveGraph(
  records: readonly TaskRecord[],
  specs: readonly (readonly Dependency[] | undefined)[],
  refs: ReadonlyMap<string, number> | undefined,
  where: (i: number) => string,
): number[] | undefined {
  const n = records.length;
  const resolved = new Map<readonly Dependency[], { deps: Dependency[]; local: number[]; last: number }>();
  // Whether some task depends on an item after it: only then is the call's own order not one that works.
  let forward = false;
  for (let i = 0; i < n; i++) {
    const spec = specs[i];
    if (!spec) continue;
    let r = resolved.get(spec);
    if (!r) {
      r = { deps: [], local: [], last: -1 };
      for (const d of spec) {
        const j = refs?.get(d.id);
        if (j === undefined) r.deps.push(d);
        else {
          r.deps.push({ id: (records[j] as TaskRecord).id, on: d.on });
          r.local.push(j);
          if (j > r.last) r.last = j;
        }
      }
      resolved.set(spec, r);
    }
    const record = records[i] as TaskRecord;
    if (r.local.includes(i) || dependsOnId(r.deps, record.id))
      throw new DependencyError(`${where(i)} depends on itself (${refOf(refs, i) ?? record.id}): a task cannot wait for its own end`);
    record.dependsOn = r.deps;
    if (r.last > i) forward = true;
  }
  if (!forward) return undefined;
  const local: (number[] | undefined)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const spec = specs[i];
    const on = spec && resolved.get(spec)?.local;
    if (on && on.length > 0) local[i] = on;
  }
  // Kahn's algorithm: a task goes in once every task of the call it depends on has.
  const pending = new Int32Array(n);
  const dependents: (number[] | undefined)[] = new Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const on = local[i];
    if (!on) continue;
    pending[i] = on.length;
    for (const j of on) (dependents[j] ??= []).push(i);
  }
  for (let i = 0; i < n; i++) if (pending[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k++) {
    const next = dependents[order[k] as number];
    if (next) for (const i of next) if (--(pending[i] as number) === 0) order.push(i);
  }
  if (order.length === n) return order;
  // What is left holds a cycle: walk from task to dependency among those left until one repeats.
  let at = pending.findIndex((p) => p > 0);
  const path: number[] = [];
  const onPath = new Map<number, number>();
  while (!onPath.has(at)) {
    onPath.set(at, path.length);
    path.push(at);
    at = (local[at] as number[]).find((j) => (pending[j] as number) > 0) as number;
  }
  const cycle = path.slice(onPath.get(at));
  cycle.push(cycle[0] as number);
  const names = cycle.map((i) => `"${refOf(refs, i) ?? (records[i] as TaskRecord).id}"`).join(' → ');
  throw new DependencyError(`enqueueMany() was given a dependency cycle: ${names} (each waits for the next to end)`);
}

function dependsOnId(deps: readonly Dependency[], id: string): boolean {
  for (let k = 0; k < deps.length; k++) if ((deps[k] as Dependency).id === id) return true;
  return false;
}

function refOf(refs: ReadonlyMap<string, number> | undefined, i: number): string | undefined {
  if (refs) for (const [ref, j] of refs) if (j === i) return ref;
  return undefined;
}
