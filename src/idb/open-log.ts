import { yieldToEventLoop } from '../yield.js';
import { ByKey } from './by-key.js';
import { type Loaded, readSegments, writeSummaries } from './connection.js';
import { type LoadResult, LogLoad } from './log-load.js';
import type { SegmentKey } from './schema.js';
import type { SegmentMap } from './segment-map.js';
import type { SummaryGroups } from './summary-groups.js';

/** Versions whose bookkeeping one event-loop task does while opening, at most. */
const LOAD_SLICE = 16_384;

/**
 * Builds a new connection's segment map from what `openConnection` found, a slice per event-loop
 * task, then reads whole the few versions no summary describes, and registers the summary groups
 * on disk with `groups`. Summaries for segments found without one are stored in the background (a
 * failure only means the next open reads them whole again).
 */
export async function openLog(db: IDBDatabase, map: SegmentMap, groups: SummaryGroups, loaded: Loaded, now: number): Promise<LoadResult> {
  const load = new LogLoad(map, loaded.found, now);
  while (!load.step(LOAD_SLICE)) await yieldToEventLoop();
  const needed = load.needed();
  if (needed.length > 0) load.fill(await readSegments(db, needed));
  const result = load.finish();
  const localOf = new ByKey<number>();
  for (const f of loaded.found) if (f.local !== undefined) localOf.set(f.key, f.local);
  const register = (stored: readonly { key: SegmentKey; members: SegmentKey[] }[]) => {
    for (const g of stored) {
      const members: number[] = [];
      for (const k of g.members) {
        const local = localOf.get(k);
        if (local !== undefined) members.push(local);
      }
      groups.add(g.key, members);
    }
  };
  register(loaded.groups);
  if (result.backfill.length > 0 || loaded.strays.length > 0) register(writeSummaries(db, result.backfill, loaded.strays));
  return result;
}
