import type { IndexEntry } from '../index-entry.js';
import type { GroupState } from '../metrics.js';
import { checkKeys, checkNumber, checkObject, describe, optionKeys } from '../validate.js';
import type { DispatchGate } from './gates.js';
import { StartWindow } from './start-window.js';

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
  /** Whether the task is in the running set and its attempt's start has not been told to `started` yet. */
  unstarted(id: string): boolean;
  /** Moves a held-back task back to ready with its own `readyAt`; false when it is no longer queued (cancelled). */
  reopen(id: string, readyAt: number, now: number): boolean;
  /** Asks the dispatcher to run a pump. */
  schedulePump(): void;
}

/** A concurrency-blocked task is re-asked at the latest this long after; a slot freeing reopens it earlier. */
const HOLD_MS = 60_000;

interface Group {
  readonly limits: GroupLimits;
  /** Start times within the last `perMs`, and perhaps older ones not dropped yet. */
  readonly starts: StartWindow;
  /**
   * How many tasks taken for a rate-limited group have not started yet (queued inside a worker
   * behind another call): each holds a place in the window until it starts, and then from its
   * start, so the window holds for the handlers' start times, not only for the dispatcher's. Every
   * take adds one and every start told to `started` takes one off (each is told once per attempt,
   * at the latest with its outcome); an attempt that ends unstarted stays counted until a
   * reconcile finds it. So this never counts fewer than there are.
   */
  unstarted: number;
  /**
   * Ids taken for the group since the last reconcile, in take order (those of pump `pendingIn`
   * from `pendingFresh` on): what a reconcile looks at to find attempts that ended unstarted. A
   * list, not a map: a take costs a push, a start nothing here.
   */
  pending: string[];
  pendingFresh: number;
  pendingIn: number;
  /**
   * Tasks taken for the group that may still run, in take order (a task taken again after a
   * requeue may be listed twice until the next prune). Pruned of those that left the running set,
   * and of repeats, only when the group's answer depends on it (its length reaches `concurrency`,
   * or tasks are held back), at most once per pump: a group far from its limit pays one array push
   * per task, no lookup and no scan. Between prunes its length only overcounts, never under.
   */
  running: string[];
  /** The pump (`#pumps`) in which `running` was last pruned. */
  prunedIn: number;
  /**
   * `running[freshFrom..]` were taken in pump `takenIn`: not in the host's running set until that
   * pump sends them, so a prune in that pump keeps them.
   */
  freshFrom: number;
  takenIn: number;
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
  /** Groups holding tasks back for concurrency (the ones `refresh` looks at). */
  readonly #busy = new Set<Group>();
  /**
   * Pumps so far (`refresh` counts them; the dispatcher calls it before each pump). A task taken in
   * a pump is in the host's running set once that pump ends, and its start is told after that, so
   * what a pump took is "fresh" only until the next. A group's running list is pruned at most once
   * in each.
   */
  #pumps = 0;
  /** The entry last asked about and its group: `taken` follows `notBefore` for the same entry, one lookup serves both. */
  #askedEntry: IndexEntry | undefined;
  #askedGroup: Group | undefined;

  constructor(limits: ReadonlyMap<string, GroupLimits>, host: LimitsHost) {
    this.#host = host;
    for (const [name, l] of limits)
      this.#groups.set(name, {
        limits: l,
        starts: new StartWindow(),
        unstarted: 0,
        pending: [],
        pendingFresh: 0,
        pendingIn: -1,
        running: [],
        prunedIn: -1,
        freshFrom: 0,
        takenIn: -1,
        blocked: new Map(),
        pausedUntil: 0,
      });
  }

  /**
   * The group `entry` belongs to, if it has limits: read off the entry (its `group`, else its
   * name), so no task → group map is kept or asked (a lookup that hashes a new id per task).
   */
  #groupOf(entry: IndexEntry): Group | undefined {
    if (entry === this.#askedEntry) return this.#askedGroup;
    const g = this.#groups.get(entry.group ?? entry.name);
    this.#askedEntry = entry;
    this.#askedGroup = g;
    return g;
  }

  notBefore(entry: IndexEntry, now: number): number {
    const g = this.#groupOf(entry);
    if (!g) return now;
    let at = g.pausedUntil;
    const rate = g.limits.rate;
    if (rate) {
      const starts = g.starts;
      starts.dropThrough(now - rate.perMs);
      if (starts.size + g.unstarted >= rate.max) {
        this.#reconcile(g, now);
        // Known starts leave first (the others start now or later); with none known, ask again a window on.
        if (starts.size + g.unstarted >= rate.max) at = Math.max(at, (starts.oldest() ?? now) + rate.perMs);
      }
    }
    const c = g.limits.concurrency;
    if (c !== undefined && g.running.length >= c) this.#prune(g);
    if (c !== undefined && g.running.length >= c && !g.running.includes(entry.id)) {
      if (!g.blocked.has(entry.id)) g.blocked.set(entry.id, entry.readyAt);
      this.#busy.add(g);
      return Math.max(at, now + HOLD_MS);
    }
    if (at > now) return at;
    if (g.blocked.size > 0) g.blocked.delete(entry.id);
    return now;
  }

  taken(entry: IndexEntry, now: number): void {
    const g = this.#groupOf(entry);
    if (!g) return;
    if (g.blocked.size > 0) g.blocked.delete(entry.id);
    if (g.limits.rate) {
      if (g.pendingIn !== this.#pumps) {
        g.pendingIn = this.#pumps;
        g.pendingFresh = g.pending.length;
      }
      g.pending.push(entry.id);
      g.unstarted++;
      // Mostly started ones: the list is cut back to those that may not have (amortized O(1) a take).
      if (g.pending.length >= 2 * g.unstarted + 256) this.#reconcile(g, now);
    }
    if (g.limits.concurrency !== undefined) {
      if (g.takenIn !== this.#pumps) {
        g.takenIn = this.#pumps;
        g.freshFrom = g.running.length;
      }
      g.running.push(entry.id);
    }
  }

  refresh(now: number): void {
    this.#pumps++;
    for (const g of this.#busy) {
      const freed = this.#prune(g);
      if (g.blocked.size === 0) this.#busy.delete(g);
      else if (freed) this.#reopen(g, now);
    }
  }

  /** Drops from `g.running` the tasks no longer running and repeats, once per pump; true if it got shorter. */
  #prune(g: Group): boolean {
    if (g.prunedIn === this.#pumps) return false;
    g.prunedIn = this.#pumps;
    const list = g.running;
    const fresh = g.takenIn === this.#pumps ? g.freshFrom : list.length;
    const seen = new Set<string>();
    const kept: string[] = [];
    let freshFrom = -1;
    let freed = false;
    for (let i = 0; i < list.length; i++) {
      const id = list[i] as string;
      if (seen.has(id)) {
        freed = true;
        continue;
      }
      if (i >= fresh || this.#host.running(id)) {
        if (i >= fresh && freshFrom < 0) freshFrom = kept.length;
        seen.add(id);
        kept.push(id);
      } else freed = true;
    }
    g.running = kept;
    g.freshFrom = freshFrom < 0 ? kept.length : freshFrom;
    return freed;
  }

  /**
   * Makes `unstarted` exact again, asked while the window is full (so a limit never reached costs
   * nothing here) and when `pending` has grown. The tasks still unstarted are those the host says
   * are (running, start not told), and those taken in this pump that are not in the running set
   * yet (not sent until the pump ends). Every other take not told to `started` is an attempt that
   * ended unstarted (before it was sent, or it went back to the queue; one that ran is told with its
   * outcome): each counts as a start now, never earlier than it did.
   */
  #reconcile(g: Group, now: number): void {
    const host = this.#host;
    const list = g.pending;
    const fresh = g.pendingIn === this.#pumps ? g.pendingFresh : list.length;
    const kept: string[] = [];
    let freshFrom = -1;
    for (let i = 0; i < list.length; i++) {
      const id = list[i] as string;
      const isFresh = i >= fresh;
      if (host.unstarted(id) || (isFresh && !host.running(id))) {
        if (isFresh && freshFrom < 0) freshFrom = kept.length;
        kept.push(id);
      }
    }
    for (let missed = g.unstarted - kept.length; missed > 0; missed--) g.starts.add(now);
    g.pending = kept;
    g.pendingFresh = freshFrom < 0 ? kept.length : freshFrom;
    g.unstarted = kept.length;
  }

  /** Task `id` of `group` (its group, else its name) reached the head of its worker at `at`: its place in the group's rate window counts from then. */
  started(_id: string, group: string, at: number): void {
    const g = this.#groups.get(group);
    // Each attempt's start is told once, and only of a task taken here: it is one of `unstarted`.
    if (!g?.limits.rate || g.unstarted === 0) return;
    g.unstarted--;
    g.starts.add(at);
  }

  /** `group` (a task's group, else its name) waits until `until` (a `RateLimitedError`): its held tasks are asked again then. */
  pauseGroup(group: string, until: number): void {
    const g = this.#groups.get(group);
    if (g && until > g.pausedUntil) g.pausedUntil = until;
  }

  /** Until when `group` waits, if it does (for the panel and tests). */
  waitsUntil(group: string, now: number): number | undefined {
    if (!this.#groups.has(group)) return undefined;
    // Asked between pumps: what the last pump took has been sent (or dropped), none is fresh.
    this.#pumps++;
    const at = this.notBefore({ id: '', name: group, priority: 0, readyAt: now, seq: 0 }, now);
    return at > now ? at : undefined;
  }

  /** Every group's state now, for `metrics().groups`. */
  groups(now: number): GroupState[] {
    const out: GroupState[] = [];
    for (const [name, g] of this.#groups) {
      this.#prune(g);
      const state: GroupState = { name, running: g.running.length };
      const { rate, concurrency } = g.limits;
      if (concurrency !== undefined) state.concurrency = concurrency;
      let until = g.pausedUntil;
      if (rate) {
        const inWindow = g.starts.after(now - rate.perMs);
        state.rate = { starts: inWindow.count + g.unstarted, max: rate.max, perMs: rate.perMs };
        if (inWindow.count + g.unstarted >= rate.max) until = Math.max(until, (inWindow.oldest ?? now) + rate.perMs);
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
    let room = c - g.running.length;
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
