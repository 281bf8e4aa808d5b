import type { SegmentKey } from './schema.js';

/**
 * Which stored summary group holds each committed segment's summary, so that the group is deleted
 * with the last of its segments. A mistake here costs speed, never a task: a group deleted early
 * leaves segments that the next open reads whole, one never deleted is removed by the next open.
 */
export class SummaryGroups {
  /** Segment (local number) → its group's members, shared by all of them. */
  readonly #groupOf = new Map<number, { key: SegmentKey; members: Set<number> }>();

  /** A group stored under `key` holds the summaries of segments `members`. */
  add(key: SegmentKey, members: readonly number[]): void {
    if (members.length === 0) return;
    const group = { key, members: new Set(members) };
    for (const local of members) this.#groupOf.set(local, group);
  }

  /** Segment `local` is being deleted: the key of its group when no other member is left. */
  release(local: number): SegmentKey | undefined {
    const group = this.#groupOf.get(local);
    if (!group) return undefined;
    this.#groupOf.delete(local);
    group.members.delete(local);
    return group.members.size === 0 ? group.key : undefined;
  }
}
