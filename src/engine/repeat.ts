import type { Clock, TimerHandle } from '../clock.js';
import { TasklaneError } from '../errors.js';
import type { ScheduleInfo, ScheduleRecord, ScheduleSpec } from '../schedule-types.js';
import type { ScheduleStore } from '../store.js';
import type { EnqueueOptions } from '../types.js';
import { assertCloneable } from '../validate.js';
import { checkScheduleId } from './schedule-id.js';
import { dueAfter, latestDue, normalizeSpec, sameTiming } from './schedule-spec.js';
import { checkTaskName, type NormalizedDefaults } from './task-settings.js';

/** Runs one catch-up enqueues at most under `misfire: 'all'`; older missed runs beyond it are dropped, with a warning. */
export const CATCH_UP_MAX = 1_000;
/** A run is on time (not a misfire) within half its period of its due time, and never more than this late. */
export const MISFIRE_GRACE_MAX_MS = 60_000;
/** After a run could not be stored (storage trouble, a full queue), it is tried again this much later. */
const RETRY_MS = 5_000;

export interface RepeatHost {
  readonly clock: Clock;
  /** Where schedules are kept; undefined for a custom store that keeps none. */
  readonly store: ScheduleStore | undefined;
  readonly defaults: NormalizedDefaults;
  /** Refuses a task name the loaded module does not define (once it is known). */
  checkName(name: string): void;
  /** Whether a task with this id is live or stored: a run found there was enqueued before. */
  has(id: string): Promise<boolean>;
  /** Enqueues one run under its own id; resolves once it is stored. */
  enqueue(id: string, name: string, input: unknown, options: EnqueueOptions): Promise<unknown>;
  warn(error: Error): void;
  /** The set of schedules, or one's next run, changed: the `schedules` event. */
  changed(): void;
}

/** The id (and idempotency key) of the run of schedule `id` due at `due`: the same in every tab and after a reload. */
export const runId = (id: string, due: number): string => `schedule:${id}:${due}`;

/**
 * Repeat schedules: stored by id, each run computed from the schedule (never from when a timer
 * fired) and enqueued under an id made of the schedule's id and due time, so a reload, a second
 * tab or a crash between the enqueue and the schedule's own write never enqueues a run twice.
 * Runs that fell due while no tab ran the queue are caught up on open by the misfire policy.
 * One timer, for the soonest next run; every change is serialised.
 */
export class Repeat {
  readonly #host: RepeatHost;
  readonly #schedules = new Map<string, ScheduleRecord>();
  #chain: Promise<unknown> = Promise.resolve();
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(host: RepeatHost) {
    this.#host = host;
  }

  /**
   * Loads the stored schedules (or takes `stored`, already read from the store) and catches up what
   * fell due meanwhile. What fails once stopped (closed meanwhile) is not an error.
   */
  open(stored?: readonly ScheduleRecord[]): Promise<void> {
    return this.#serial(async () => {
      const store = this.#host.store;
      if (!store || this.#stopped) return;
      for (const s of stored ?? (await store.readSchedules())) this.#schedules.set(s.id, s);
      await this.#catchUp();
    }).catch((error) => {
      if (!this.#stopped) throw error;
    });
  }

  /** See `Scheduler.schedule`. Validates now (a bad call changes nothing), stores, then arms. */
  schedule(id: string, name: string, input: unknown, spec: ScheduleSpec): Promise<ScheduleInfo> {
    const host = this.#host;
    let parts: ReturnType<typeof normalizeSpec>;
    try {
      checkScheduleId(id);
      checkTaskName(name, 'name');
      host.checkName(name);
      assertCloneable(input);
      parts = normalizeSpec(spec, host.defaults, host.clock.now());
      if (!host.store)
        throw new TypeError('Expected a store that keeps schedules (readSchedules, writeSchedule, removeSchedule), got one without');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serial(async () => {
      const now = host.clock.now();
      const old = this.#schedules.get(id);
      const keep = old !== undefined && sameTiming(old, parts);
      const record: ScheduleRecord = {
        id,
        name,
        input,
        ...parts,
        anchor: keep ? old.anchor : Math.ceil(now),
        next: keep ? old.next : undefined,
        count: keep ? old.count : 0,
        createdAt: old?.createdAt ?? now,
        updatedAt: now,
      };
      if (keep && old.lastRun !== undefined) record.lastRun = old.lastRun;
      // A new timing starts now: its first run is the first due time from this moment on.
      if (!keep) record.next = dueAfter(record, now - 1);
      if (record.next === undefined)
        throw new TypeError(`Expected schedule "${id}" to have a run after now, got none (its endAt ${record.endAt} has passed)`);
      await (host.store as ScheduleStore).writeSchedule(record);
      this.#schedules.set(id, record);
      host.changed();
      this.#arm();
      return infoOf(record);
    });
  }

  /** See `Scheduler.unschedule`: runs already enqueued stay. */
  unschedule(id: string): Promise<boolean> {
    try {
      checkScheduleId(id);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serial(async () => {
      if (!this.#schedules.has(id)) return false;
      await this.#host.store?.removeSchedule(id);
      this.#schedules.delete(id);
      this.#host.changed();
      this.#arm();
      return true;
    });
  }

  /** Every stored schedule with its next run, soonest first. */
  list(): Promise<ScheduleInfo[]> {
    return this.#serial(async () => [...this.#schedules.values()].sort((a, b) => (a.next ?? Infinity) - (b.next ?? Infinity)).map(infoOf));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#host.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  #arm(retryAt?: number): void {
    const clock = this.#host.clock;
    if (this.#timer) clock.clearTimer(this.#timer);
    this.#timer = undefined;
    if (this.#stopped) return;
    let soonest = retryAt ?? Infinity;
    for (const s of this.#schedules.values()) if (s.next !== undefined && s.next < soonest) soonest = s.next;
    if (soonest === Infinity) return;
    this.#timer = clock.setTimer(
      () => {
        this.#timer = undefined;
        this.#serial(() => this.#catchUp()).catch((error) => this.#stopped || this.#host.warn(error as Error));
      },
      Math.max(0, soonest - clock.now()),
    );
  }

  /** Enqueues what is due of every schedule, by its misfire policy, then arms for the next. */
  async #catchUp(): Promise<void> {
    let retryAt: number | undefined;
    for (const s of [...this.#schedules.values()]) {
      if (this.#stopped) return;
      const now = this.#host.clock.now();
      if (s.next === undefined || s.next > now) continue;
      if (!(await this.#fire(s, now))) retryAt = now + RETRY_MS;
    }
    this.#arm(retryAt);
  }

  /** Enqueues the runs of `s` due by `now` and moves it on; false when a run could not be stored (tried again later). */
  async #fire(s: ScheduleRecord, now: number): Promise<boolean> {
    const host = this.#host;
    const { dues, next, dropped } = duesBy(s, now);
    if (dropped)
      host.warn(
        new TasklaneError(
          `schedule "${s.id}": missed runs beyond the ${CATCH_UP_MAX} that misfire 'all' catches up at once were dropped`,
          'E_MISFIRE',
        ),
      );
    let done = 0;
    for (const due of dues) {
      const id = runId(s.id, due);
      try {
        if (!(await host.has(id)) && !this.#stopped) await host.enqueue(id, s.name, s.input, { ...s.options, key: id, runAt: due });
        // Stopped (closing): what is not recorded yet is caught up by the next open, and found stored.
        if (this.#stopped) return true;
      } catch (error) {
        const name = (error as Error).name;
        // Storage trouble, a full or closing queue: the run is tried again; anything else (an unknown task name) it keeps hitting.
        if (name === 'StorageError' || name === 'QueueFullError' || name === 'SchedulerClosedError') {
          if (done > 0) await this.#advance(s, dues[done - 1] as number, done, dues[done] as number);
          return false;
        }
        host.warn(
          new TasklaneError(
            `schedule "${s.id}": its run due at ${new Date(due).toISOString()} was not enqueued: ${(error as Error).message}`,
            'E_SCHEDULE_RUN',
            { cause: error },
          ),
        );
      }
      done++;
    }
    await this.#advance(s, dues.at(-1), dues.length, next);
    return true;
  }

  /** Records `count` more runs (the last due at `last`) and the next due time; an ended schedule is removed. */
  async #advance(s: ScheduleRecord, last: number | undefined, count: number, next: number | undefined): Promise<void> {
    const record: ScheduleRecord = { ...s, count: s.count + count, next };
    if (last !== undefined) record.lastRun = last;
    if (record.limit !== undefined && record.count >= record.limit) record.next = undefined;
    const store = this.#host.store as ScheduleStore;
    if (record.next === undefined) {
      await store.removeSchedule(s.id);
      this.#schedules.delete(s.id);
    } else {
      await store.writeSchedule(record);
      this.#schedules.set(s.id, record);
    }
    this.#host.changed();
  }
}

/**
 * The due times of `s` from its `next` up to `now` that its misfire policy runs, the first due time
 * after `now`, and how many `'all'` had to drop. A due time is missed when a later one is also due,
 * or it is later than the grace (half the period, at most `MISFIRE_GRACE_MAX_MS`): `'skip'` runs
 * only an on-time one, `'once'` the latest, `'all'` each, oldest first. `limit` bounds them all.
 */
export function duesBy(s: ScheduleRecord, now: number): { dues: number[]; next: number | undefined; dropped: boolean } {
  const first = s.next as number;
  const left = s.limit === undefined ? Infinity : s.limit - s.count;
  const next = dueAfter(s, now);
  if (left <= 0) return { dues: [], next, dropped: false };
  if (s.misfire === 'all') {
    const dues: number[] = [];
    const most = Math.min(left, CATCH_UP_MAX);
    let d: number | undefined = first;
    for (; d !== undefined && d <= now && dues.length < most; d = dueAfter(s, d)) dues.push(d);
    return { dues, next, dropped: dues.length === CATCH_UP_MAX && dues.length < left && d !== undefined && d <= now };
  }
  const latest = latestDue(s, first, now);
  if (s.misfire === 'once') return { dues: [latest], next, dropped: false };
  const period = next === undefined ? Infinity : next - latest;
  const grace = Math.min(MISFIRE_GRACE_MAX_MS, period / 2);
  return { dues: now - latest <= grace ? [latest] : [], next, dropped: false };
}

function infoOf(s: ScheduleRecord): ScheduleInfo {
  const { anchor: _anchor, ...info } = s;
  return info;
}
