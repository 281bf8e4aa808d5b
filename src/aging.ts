/**
 * Aging: a ready task's effective priority rises one level per `agingMs` it has waited since its
 * `readyAt`, never past 0, so low-priority work cannot starve behind an endless stream of urgent
 * work. Pure functions: the index asks them, nothing else knows the rule.
 */

/** The ordering key of a queued task (or a heap node standing for several). */
export interface AgingKey {
  readonly priority: number;
  readonly readyAt: number;
  readonly seq: number;
}

/** The level a task of `priority`, ready since `readyAt`, competes at `now`. */
export function effectivePriority(priority: number, readyAt: number, now: number, agingMs: number): number {
  if (priority === 0 || now <= readyAt) return priority;
  const levels = Math.floor((now - readyAt) / agingMs);
  return levels >= priority ? 0 : priority - levels;
}

/**
 * Ready order with aging at `now`: lowest effective priority, then earliest `readyAt`, then `seq`.
 * Within one priority level that is the level's own order (readyAt, seq), so the most urgent task of
 * the whole queue is always the head of one of the levels: comparing the heads is enough.
 */
export function agedLess(a: AgingKey, b: AgingKey, now: number, agingMs: number): boolean {
  const pa = effectivePriority(a.priority, a.readyAt, now, agingMs);
  const pb = effectivePriority(b.priority, b.readyAt, now, agingMs);
  if (pa !== pb) return pa < pb;
  return a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq;
}
