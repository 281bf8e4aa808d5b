import type { EnqueueOptions } from './types.js';

/**
 * What a repeat schedule does about runs that fell due while no tab ran the queue (or the page was
 * frozen): `'skip'` drops them, `'once'` runs the latest of them once, `'all'` runs each (at most
 * `limit`, and at most 1,000 per catch-up).
 */
export type MisfirePolicy = 'skip' | 'once' | 'all';

/** The options each run of a schedule is enqueued with: `key`, `runAt`, `delayMs`, `dependsOn` and `signal` are the schedule's to decide. */
export type ScheduleTaskOptions = Omit<EnqueueOptions, 'key' | 'keyTtlMs' | 'onDuplicate' | 'runAt' | 'delayMs' | 'dependsOn' | 'signal'>;

/** When a schedule runs: `cron` or `every`, exactly one. */
export interface ScheduleSpec {
  /** A cron expression (5 fields, or 6 with seconds first), read by croner. */
  cron?: string;
  /** Milliseconds between runs, counted from `startAt` (or from the `schedule` call): the first run is one `every` after it, unless `startAt` is given. */
  every?: number;
  /** IANA time zone the cron expression is read in. Only with `cron`. @default the browser's */
  tz?: string;
  /** No run before this moment (Date or epoch ms); with `every`, the first run. */
  startAt?: Date | number;
  /** No run after this moment (Date or epoch ms): the schedule ends there. */
  endAt?: Date | number;
  /** Runs in all, after which the schedule ends. @default unlimited */
  limit?: number;
  /** @default 'once' */
  misfire?: MisfirePolicy;
  /** What each run is enqueued with. */
  options?: ScheduleTaskOptions;
}

/** A stored schedule as `schedules()` shows it. */
export interface ScheduleInfo {
  id: string;
  name: string;
  input: unknown;
  cron?: string;
  every?: number;
  tz?: string;
  startAt?: number;
  endAt?: number;
  limit?: number;
  misfire: MisfirePolicy;
  options?: ScheduleTaskOptions;
  /** Epoch ms of the next run; undefined once the schedule has ended. */
  next: number | undefined;
  /** Runs enqueued so far. */
  count: number;
  /** Epoch ms of the last run enqueued. */
  lastRun?: number;
  createdAt: number;
  updatedAt: number;
}

/** A schedule as stored: what `schedules()` shows, plus where `every` counts from. */
export interface ScheduleRecord extends ScheduleInfo {
  /** With `every`: the moment runs are counted from (`startAt`, or the time of the `schedule` call). */
  anchor: number;
}
