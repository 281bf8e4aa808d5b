import { type ListQuery, matchesQuery } from '../store.js';
import type { TaskRecord } from '../types.js';
import type { Connection } from './connection-parts.js';
import { copyRecord, type Entry, isTombstone } from './schema.js';

type Reads = (TaskRecord | undefined)[];

/**
 * Current versions on `conn` matching `query`, for `IdbStore.list`: uncommitted ones first, then
 * segment by segment, newest first. The map may move on while segments are read: a version counts
 * only from the segment the map says holds it now, and a task whose version moved to a segment not
 * listed (or to an uncommitted one) is read again at the end through `read`, the store's, which
 * follows a lost connection.
 */
export async function listCurrent(
  conn: Connection,
  query: ListQuery,
  read: (ids: readonly string[]) => Reads | Promise<Reads>,
): Promise<TaskRecord[]> {
  const { map, commit, cache } = conn;
  map.settle();
  const limit = query.limit ?? 100;
  if (limit <= 0) return [];
  const out: TaskRecord[] = [];
  const seen = new Set<string>();
  const take = (e: Entry) => {
    if (seen.has(e.id)) return;
    seen.add(e.id);
    if (!isTombstone(e) && matchesQuery(e, query)) out.push(e);
  };
  const pending = commit.pending;
  for (const e of [...pending.values()].reverse()) {
    if (out.length >= limit) return out;
    take(isTombstone(e) ? e : copyRecord(e));
  }
  const locals = map.liveNewestFirst();
  const listed = new Set(locals);
  const moved = new Set<string>();
  for (let i = 0; i < locals.length && out.length < limit; i += 8) {
    const some = locals.slice(i, i + 8);
    const values = await cache.readSegments(some);
    map.settle();
    for (let k = 0; k < some.length && out.length < limit; k++) {
      const local = some[k] as number;
      for (const e of values[k]?.records ?? []) {
        if (out.length >= limit) break;
        if (seen.has(e.id)) continue;
        const at = map.where(e.id);
        if (at === local && !pending.has(e.id)) take(e);
        else if (pending.has(e.id) || (at !== undefined && !listed.has(at))) moved.add(e.id);
      }
    }
  }
  const again = [...moved].filter((id) => !seen.has(id));
  if (again.length > 0 && out.length < limit) for (const r of await read(again)) if (r && out.length < limit) take(r);
  return out;
}
