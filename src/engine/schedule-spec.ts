import { Cron } from 'croner';
import type { MisfirePolicy, ScheduleRecord, ScheduleSpec } from '../schedule-types.js';
import { checkKeys, checkNumber, checkObject, describe, normalizeRunAt, optionKeys } from '../validate.js';
import { type NormalizedDefaults, settingsOf } from './task-settings.js';

/** What decides when a schedule runs: a change of any of these makes it a new schedule (its runs counted afresh). */
export type Timing = Pick<ScheduleRecord, 'cron' | 'every' | 'tz' | 'startAt' | 'endAt' | 'limit'>;

const SPEC_KEYS = optionKeys<ScheduleSpec>({
  cron: true,
  every: true,
  tz: true,
  startAt: true,
  endAt: true,
  limit: true,
  misfire: true,
  options: true,
});

/** Options a run cannot take: the schedule decides them (or, for a function backoff and a signal, they cannot be stored). */
const NOT_FOR_RUNS = ['key', 'keyTtlMs', 'onDuplicate', 'runAt', 'delayMs', 'dependsOn', 'signal'] as const;

const MISFIRES: readonly MisfirePolicy[] = ['skip', 'once', 'all'];

/**
 * Validates `schedule()`'s spec into the stored fields (the timing, misfire policy and run options),
 * throwing `TypeError` naming the field; `now` only checks the run options as enqueue would.
 */
export function normalizeSpec(
  spec: unknown,
  defaults: NormalizedDefaults,
  now: number,
): Timing & { misfire: MisfirePolicy; options?: ScheduleRecord['options'] } {
  const s = checkObject('spec', spec) as ScheduleSpec | undefined;
  if (!s) throw new TypeError('Expected spec to be an object with cron or every, got undefined');
  checkKeys('spec', s, SPEC_KEYS);
  if ((s.cron === undefined) === (s.every === undefined))
    throw new TypeError(`Expected spec to have exactly one of cron or every, got ${s.cron === undefined ? 'neither' : 'both'}`);
  const out: Timing & { misfire: MisfirePolicy; options?: ScheduleRecord['options'] } = { misfire: 'once' };
  if (s.tz !== undefined) {
    if (s.cron === undefined) throw new TypeError('Expected spec.tz only with spec.cron, got it with every');
    if (typeof s.tz !== 'string' || s.tz === '')
      throw new TypeError(`Expected spec.tz to be an IANA time zone name, got ${describe(s.tz)}`);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: s.tz });
    } catch {
      throw new TypeError(`Expected spec.tz to be an IANA time zone name, got ${describe(s.tz)}`);
    }
    out.tz = s.tz;
  }
  if (s.cron !== undefined) {
    if (typeof s.cron !== 'string') throw new TypeError(`Expected spec.cron to be a cron expression, got ${describe(s.cron)}`);
    try {
      cronOf(s.cron, out.tz);
    } catch (error) {
      throw new TypeError(`Expected spec.cron to be a cron expression, got ${describe(s.cron)} (${(error as Error).message})`);
    }
    out.cron = s.cron;
  } else out.every = checkNumber('spec.every', s.every, 1);
  if (s.startAt !== undefined) out.startAt = normalizeRunAt(s.startAt, 'spec.startAt');
  if (s.endAt !== undefined) out.endAt = normalizeRunAt(s.endAt, 'spec.endAt');
  if (out.startAt !== undefined && out.endAt !== undefined && out.endAt < out.startAt)
    throw new TypeError(`Expected spec.endAt to be at or after spec.startAt, got ${out.endAt} < ${out.startAt}`);
  if (s.limit !== undefined) out.limit = checkNumber('spec.limit', s.limit, 1, true);
  if (s.misfire !== undefined) {
    if (!MISFIRES.includes(s.misfire))
      throw new TypeError(`Expected spec.misfire to be 'skip', 'once' or 'all', got ${describe(s.misfire)}`);
    out.misfire = s.misfire;
  }
  if (s.options !== undefined) {
    const o = checkObject('spec.options', s.options) as Record<string, unknown>;
    for (const key of NOT_FOR_RUNS)
      if (o[key] !== undefined) throw new TypeError(`Expected spec.options without ${key}: the schedule decides it for each run`);
    const retry = o.retry as { backoff?: unknown } | undefined;
    if (typeof retry?.backoff === 'function')
      throw new TypeError(
        'Expected spec.options.retry.backoff to be a policy object, got a function (a schedule is stored; a function cannot be)',
      );
    settingsOf(defaults, o, now, 'spec.options');
    out.options = o as ScheduleRecord['options'];
  }
  return out;
}

export function sameTiming(a: Timing, b: Timing): boolean {
  return a.cron === b.cron && a.every === b.every && a.tz === b.tz && a.startAt === b.startAt && a.endAt === b.endAt && a.limit === b.limit;
}

function cronOf(pattern: string, tz: string | undefined): Cron {
  return new Cron(pattern, tz === undefined ? {} : { timezone: tz });
}

/** Parsed cron expressions by pattern and zone: parsing is most of what `dueAfter` costs. */
const crons = new Map<string, Cron>();

/**
 * The first due time of `s` strictly after `t` (epoch ms), or undefined when it has none (past its
 * `endAt`). Computed from the schedule alone, never from when a timer fired, so runs do not drift.
 */
export function dueAfter(s: Pick<ScheduleRecord, keyof Timing | 'anchor'>, t: number): number | undefined {
  let due: number | undefined;
  if (s.every !== undefined) {
    // `startAt` is itself a due time; without one the first run is one `every` after the anchor.
    const first = s.startAt ?? s.anchor + s.every;
    due = t < first ? first : first + (Math.floor((t - first) / s.every) + 1) * s.every;
  } else {
    const from = s.startAt !== undefined && s.startAt - 1 > t ? s.startAt - 1 : t;
    due = cachedCron(s).nextRun(new Date(from))?.getTime();
  }
  return due === undefined || (s.endAt !== undefined && due > s.endAt) ? undefined : due;
}

/** The latest due time of `s` at or before `now`, given that `first` (one of its due times) is. */
export function latestDue(s: Pick<ScheduleRecord, keyof Timing>, first: number, now: number): number {
  if (s.every !== undefined) return first + Math.floor((now - first) / s.every) * s.every;
  const previous = cachedCron(s)
    .previousRuns(1, new Date(now + 1))[0]
    ?.getTime();
  return previous !== undefined && previous >= first ? previous : first;
}

function cachedCron(s: Pick<ScheduleRecord, 'cron' | 'tz'>): Cron {
  const key = `${s.tz ?? ''}\u0000${s.cron}`;
  let cron = crons.get(key);
  if (!cron) {
    cron = cronOf(s.cron as string, s.tz);
    if (crons.size > 256) crons.clear();
    crons.set(key, cron);
  }
  return cron;
}
