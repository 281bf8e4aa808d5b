import type { GroupState } from '../metrics.js';
import type { IndexEntry } from '../task-index.js';
import { checkKeys, checkNumber, checkObject, describe, optionKeys } from '../validate.js';
import type { DispatchGate } from './gates.js';

/** One group's limits. */
export interface GroupLimits {
  /** At most `max` starts in any window of `perMs` ms (a sliding window over the last starts). */
  rate?: { max: number; perMs: number };
  /** At most this many of the group's tasks run at once. */
  concurrency?: number;
}

/** `createScheduler`'s `limits`: by group name (a task's group is its `group` option, else its name). */
export type LimitsOptions = Readonly<Record<string, GroupLimits>>;

const GROUP_KEYS = optionKeys<GroupLimits>({ rate: true, concurrency: true });
const RATE_KEYS = optionKeys<{ max: number; perMs: number }>({ max: true, perMs: true });

/** Validates `limits`: named TypeErrors, nothing kept of a bad object. Undefined when there are no groups. */
export function normalizeLimits(limits: unknown): Map<string, GroupLimits> | undefined {
  const o = checkObject('limits', limits) as LimitsOptions | undefined;
  if (!o) return undefined;
  const out = new Map<string, GroupLimits>();
  for (const group of Object.keys(o)) {
    const at = `limits.${group}`;
    const g = checkObject(at, o[group]) as GroupLimits | undefined;
    if (!g) throw new TypeError(`Expected ${at} to be an object, got ${describe(o[group])}`);
    checkKeys(at, g, GROUP_KEYS);
    const limit: GroupLimits = {};
    const r = checkObject(`${at}.rate`, g.rate) as GroupLimits['rate'];
    if (r) {
      checkKeys(`${at}.rate`, r, RATE_KEYS);
      limit.rate = { max: checkNumber(`${at}.rate.max`, r.max, 1, true), perMs: checkNumber(`${at}.rate.perMs`, r.perMs, 1) };
    }
    if (g.concurrency !== undefined) limit.concurrency = checkNumber(`${at}.concurrency`, g.concurrency, 1, true);
    out.set(group, limit);
  }
  return out.size > 0 ? out : undefined;
}

export interface LimitsHost {
  /** Whether the task is still in the running set (taken, not yet finished or requeued). */
  running(id: string): boolean;
  /** Moves a held-back task back to ready with its own `readyAt`; false when it is no longer queued (cancelled). */
  reopen(id: string, readyAt: number, now: number): boolean;
  /** Asks the dispatcher to run a pump. */
  schedulePump(): void;
}

/** A concurrency-blocked task is re-asked at the latest this long after; a slot freeing reopens it earlier. */
const HOLD_MS = 60_000;

interface Group {
  readonly limits: GroupLimits;
  /** Start times within the last `perMs` (oldest first), at most `max`. */
  starts: number[];
  /**
   * Tasks taken for a rate-limited group that have not started yet (queued inside a worker behind
   * another call): each holds a place in the window until it starts, and then from its start, so
   * the window holds for the handlers' start times, not only for the dispatcher's.
   */
  unstarted: Map<string, number>;
  running: Set<string>;
  /** Tasks held back for concurrency: id → their own readyAt. */
  blocked: Map<string, number>;
  /** Paused by a `RateLimitedError` until this time. */
  pausedUntil: number;
}

/**
 * Rate limits and concurrency groups, as one dispatch gate. A limited task goes back to the queue
 * delayed until its group reopens, so it holds no worker: for a rate, until the oldest start of
 * the window leaves it; for concurrency, until a running task of the group ends (seen in `refresh`,
 * which the dispatcher calls before each pump, and every attempt's end is followed by a pump).
 */
export class Limits implements DispatchGate {
  readonly name = 'limits';
  readonly #host: LimitsHost;
  readonly #groups = new Map<string, Group>();
  /** Groups with a task running (the ones `refresh` looks at). */
  readonly #busy = new Set<Group>();
  /** Task id → its group, for live tasks whose group is not their name (`group` option). */
  readonly #groupIds = new Map<string, string>();

  constructor(limits: ReadonlyMap<string, GroupLimits>, host: LimitsHost) {
    this.#host = host;
    for (const [name, l] of limits)
      this.#groups.set(name, { limits: l, starts: [], unstarted: new Map(), running: new Set(), blocked: new Map(), pausedUntil: 0 });
  }

  /** Task `id` joins `group` instead of the group of its name, until it ends. */
  noteGroup(id: string, group: string): void {
    this.#groupIds.set(id, group);
  }

  finished(id: string): void {
    if (this.#groupIds.size > 0) this.#groupIds.delete(id);
  }

  /** The group `entry` belongs to, if it has limits. */
  #groupOf(entry: IndexEntry): Group | undefined {
    return this.#groups.get(this.#groupIds.size > 0 ? (this.#groupIds.get(entry.id) ?? entry.name) : entry.name);
  }

  notBefore(entry: IndexEntry, now: number): number {
    const g = this.#groupOf(entry);
    if (!g) return now;
    let at = g.pausedUntil;
    const rate = g.limits.rate;
    if (rate) {
      const starts = g.starts;
      while (starts.length > 0 && (starts[0] as number) <= now - rate.perMs) starts.shift();
      if (starts.length + g.unstarted.size >= rate.max) {
        this.#missedStarts(g, now);
        // Known starts leave first (the others start now or later); with none known, ask again a window on.
        if (starts.length + g.unstarted.size >= rate.max) at = Math.max(at, (starts[0] ?? now) + rate.perMs);
      }
    }
    const c = g.limits.concurrency;
    if (c !== undefined && g.running.size >= c && !g.running.has(entry.id)) {
      if (!g.blocked.has(entry.id)) g.blocked.set(entry.id, entry.readyAt);
      return Math.max(at, now + HOLD_MS);
    }
    if (at > now) return at;
    g.blocked.delete(entry.id);
    return now;
  }

  taken(entry: IndexEntry, now: number): void {
    const g = this.#groupOf(entry);
    if (!g) return;
    g.blocked.delete(entry.id);
    if (g.limits.rate) g.unstarted.set(entry.id, now);
    if (g.limits.concurrency !== undefined) {
      g.running.add(entry.id);
      this.#busy.add(g);
    }
  }

  refresh(now: number): void {
    for (const g of this.#busy) {
      let freed = false;
      for (const id of g.running)
        if (!this.#host.running(id)) {
          g.running.delete(id);
          freed = true;
        }
      if (g.running.size === 0) this.#busy.delete(g);
      if (freed) this.#reopen(g, now);
    }
  }

  /**
   * Only asked while the window is full, so a limit never reached costs nothing here. A task taken
   * in an earlier pump that left the running set unseen by `started` (it ran and finished within
   * one reply of its worker, or its attempt ended before the send) counts as started now, never
   * earlier than it did; one taken in this pump is not in the running set until its send.
   */
  #missedStarts(g: Group, now: number): void {
    for (const [id, takenAt] of g.unstarted)
      if (takenAt < now && !this.#host.running(id)) {
        g.unstarted.delete(id);
        g.starts.push(now);
      }
  }

  /** Task `id` (named `name`) reached the head of its worker at `at`: its place in its group's rate window counts from then. */
  started(id: string, name: string, at: number): void {
    const g = this.#groupOf({ id, name, priority: 0, readyAt: at, seq: 0 });
    if (!g?.unstarted.delete(id)) return;
    const starts = g.starts;
    let i = starts.length;
    while (i > 0 && (starts[i - 1] as number) > at) i--;
    starts.splice(i, 0, at);
  }

  /** The group of task `id` (named `name`) waits until `until` (a `RateLimitedError`): its held tasks are asked again then. */
  pauseGroupOf(id: string, name: string, until: number): void {
    const g = this.#groupOf({ id, name, priority: 0, readyAt: until, seq: 0 });
    if (g && until > g.pausedUntil) g.pausedUntil = until;
  }

  /** Until when `group` waits, if it does (for the panel and tests). */
  waitsUntil(group: string, now: number): number | undefined {
    if (!this.#groups.has(group)) return undefined;
    const at = this.notBefore({ id: '', name: group, priority: 0, readyAt: now, seq: 0 }, now);
    return at > now ? at : undefined;
  }

  /** Every group's state now, for `metrics().groups`. */
  groups(now: number): GroupState[] {
    const out: GroupState[] = [];
    for (const [name, g] of this.#groups) {
      const state: GroupState = { name, running: g.running.size };
      const { rate, concurrency } = g.limits;
      if (concurrency !== undefined) state.concurrency = concurrency;
      let until = g.pausedUntil;
      if (rate) {
        const inWindow = g.starts.filter((t) => t > now - rate.perMs);
        state.rate = { starts: inWindow.length + g.unstarted.size, max: rate.max, perMs: rate.perMs };
        if (inWindow.length + g.unstarted.size >= rate.max) until = Math.max(until, (inWindow[0] ?? now) + rate.perMs);
      }
      if (until > now) {
        state.waitsUntil = until;
        if (g.pausedUntil > now) state.paused = true;
      }
      out.push(state);
    }
    return out;
  }

  #reopen(g: Group, now: number): void {
    const c = g.limits.concurrency as number;
    let room = c - g.running.size;
    if (room <= 0 || g.blocked.size === 0) return;
    for (const [id, readyAt] of g.blocked) {
      if (room <= 0) break;
      g.blocked.delete(id);
      // A held task that has left the queue (cancelled) takes no slot from the others.
      if (this.#host.reopen(id, readyAt, now)) room--;
    }
    this.#host.schedulePump();
  }
}
