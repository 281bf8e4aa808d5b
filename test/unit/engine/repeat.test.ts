import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { CATCH_UP_MAX, Repeat, runId } from '../../../src/engine/repeat.js';
import { dueAfter, normalizeSpec } from '../../../src/engine/schedule-spec.js';
import type { NormalizedDefaults } from '../../../src/engine/task-settings.js';
import { StorageError } from '../../../src/errors.js';
import { MemoryStore } from '../../../src/memory-store.js';
import type { ScheduleRecord, ScheduleSpec } from '../../../src/schedule-types.js';
import { scheduleStoreOf } from '../../../src/store.js';
import type { EnqueueOptions } from '../../../src/types.js';

const defaults: NormalizedDefaults = {
  timeoutMs: 1_000,
  priority: 2,
  retry: { stored: { attempts: 1, backoff: { kind: 'fixed', delayMs: 0, maxMs: 0, factor: 2, jitter: false } } },
};
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MIN = 60_000;

function setup(clock = new ManualClock(T0), store = new MemoryStore()) {
  const enqueued: { id: string; name: string; input: unknown; options: EnqueueOptions }[] = [];
  const stored = new Set<string>();
  const warnings: Error[] = [];
  let changes = 0;
  let failWith: Error | undefined;
  const repeat = new Repeat({
    clock,
    store: scheduleStoreOf(store),
    defaults,
    checkName: () => {},
    has: async (id) => stored.has(id),
    enqueue: async (id, name, input, options) => {
      if (failWith) throw failWith;
      stored.add(id);
      enqueued.push({ id, name, input, options });
    },
    warn: (e) => warnings.push(e),
    changed: () => changes++,
  });
  /** Lets the serialised work (timer callbacks, store writes) run. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
  };
  return {
    clock,
    store,
    repeat,
    enqueued,
    stored,
    warnings,
    settle,
    changes: () => changes,
    fail: (e: Error | undefined) => {
      failWith = e;
    },
  };
}

const timing = (spec: Partial<ScheduleRecord>): ScheduleRecord =>
  ({
    id: 's',
    name: 'n',
    input: null,
    misfire: 'once',
    next: undefined,
    count: 0,
    createdAt: 0,
    updatedAt: 0,
    anchor: T0,
    ...spec,
  }) as ScheduleRecord;

describe('dueAfter', () => {
  test('every counts from the anchor (first run one period in) or from startAt (itself a run), never from t', () => {
    const s = timing({ every: 1_000 });
    expect(dueAfter(s, T0)).toBe(T0 + 1_000);
    expect(dueAfter(s, T0 + 1_000)).toBe(T0 + 2_000);
    expect(dueAfter(s, T0 + 1_234)).toBe(T0 + 2_000);
    const started = timing({ every: 1_000, startAt: T0 + 500 });
    expect(dueAfter(started, T0)).toBe(T0 + 500);
    expect(dueAfter(started, T0 + 500)).toBe(T0 + 1_500);
  });

  test('cron in a time zone follows its clock across a DST change; endAt ends it', () => {
    const s = timing({ cron: '0 2 * * *', tz: 'Europe/Berlin' });
    // 2026-03-29 02:00 does not exist in Berlin: croner runs it at 03:00 CEST (01:00Z).
    expect(new Date(dueAfter(s, Date.UTC(2026, 2, 28, 2)) as number).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(new Date(dueAfter(s, Date.UTC(2026, 2, 27, 2)) as number).toISOString()).toBe('2026-03-28T01:00:00.000Z');
    const ended = timing({ cron: '*/5 * * * *', endAt: T0 + 10 * MIN });
    expect(dueAfter(ended, T0 + 5 * MIN)).toBe(T0 + 10 * MIN);
    expect(dueAfter(ended, T0 + 10 * MIN)).toBeUndefined();
  });
});

describe('normalizeSpec refuses what it cannot run, naming the field', () => {
  const cases: [string, unknown, RegExp][] = [
    ['no spec', undefined, /spec to be an object/],
    ['neither', {}, /exactly one of cron or every, got neither/],
    ['both', { cron: '* * * * *', every: 5 }, /exactly one of cron or every, got both/],
    ['malformed cron', { cron: '61 * * * *' }, /spec.cron to be a cron expression, got "61 \* \* \* \*" \(.*minute/],
    ['not a string', { cron: 5 }, /spec.cron to be a cron expression, got 5/],
    ['unknown zone', { cron: '* * * * *', tz: 'Mars/Olympus' }, /spec.tz to be an IANA time zone name, got "Mars\/Olympus"/],
    ['tz with every', { every: 1_000, tz: 'UTC' }, /spec.tz only with spec.cron/],
    ['every 0', { every: 0 }, /spec.every to be a finite number >= 1, got 0/],
    ['limit 1.5', { every: 1_000, limit: 1.5 }, /spec.limit to be a finite integer >= 1/],
    ['misfire', { every: 1_000, misfire: 'later' }, /spec.misfire to be 'skip', 'once' or 'all', got "later"/],
    ['endAt before startAt', { every: 1_000, startAt: 10, endAt: 5 }, /spec.endAt to be at or after spec.startAt/],
    ['unknown key', { every: 1_000, evry: 1 }, /evry/],
    ['a key for runs', { every: 1_000, options: { key: 'k' } }, /spec.options without key/],
    ['a delay for runs', { every: 1_000, options: { delayMs: 5 } }, /spec.options without delayMs/],
    ['a function backoff', { every: 1_000, options: { retry: { backoff: () => 1 } } }, /backoff to be a policy object, got a function/],
    ['a bad run option', { every: 1_000, options: { priority: 'urgent' } }, /spec.options.priority/],
  ];
  test.each(cases)('%s', (_, spec, message) => {
    expect(() => normalizeSpec(spec, defaults, T0)).toThrow(TypeError);
    expect(() => normalizeSpec(spec, defaults, T0)).toThrow(message);
  });
});

describe('Repeat', () => {
  test('enqueues each run at its due time, under an id and key made of the schedule id and due time', async () => {
    const { clock, repeat, enqueued, settle } = setup();
    await repeat.open();
    const info = await repeat.schedule('tick', 'n', { a: 1 }, { every: 1_000, options: { priority: 'high' } });
    expect(info.next).toBe(T0 + 1_000);
    clock.advance(999);
    await settle();
    expect(enqueued).toHaveLength(0);
    clock.advance(1);
    await settle();
    clock.advance(1_000);
    await settle();
    expect(enqueued.map((e) => e.id)).toEqual([runId('tick', T0 + 1_000), runId('tick', T0 + 2_000)]);
    expect(enqueued[0]?.options).toEqual({ priority: 'high', key: runId('tick', T0 + 1_000), runAt: T0 + 1_000 });
    expect(enqueued[0]?.input).toEqual({ a: 1 });
    const [listed] = await repeat.list();
    expect([listed?.count, listed?.next, listed?.lastRun]).toEqual([2, T0 + 3_000, T0 + 2_000]);
  });

  test('a late timer does not drift the schedule: the next run stays on the grid', async () => {
    const { clock, repeat, enqueued, settle } = setup();
    await repeat.schedule('tick', 'n', null, { every: 1_000, misfire: 'all' });
    clock.advance(1_300); // the page was busy: the run fires 300 ms late
    await settle();
    expect((await repeat.list())[0]?.next).toBe(T0 + 2_000);
    expect(enqueued.map((e) => e.options.runAt)).toEqual([T0 + 1_000]);
  });

  /** A schedule every 5 minutes, closed (no Repeat running) from 00:02 to 00:31: six runs fell due meanwhile. */
  async function closedPeriod(misfire: 'skip' | 'once' | 'all', limit?: number) {
    const first = setup(new ManualClock(T0 + 1_000));
    const spec: ScheduleSpec = { cron: '*/5 * * * *', misfire };
    if (limit !== undefined) spec.limit = limit;
    await first.repeat.schedule('report', 'n', null, spec);
    first.clock.advance(2 * MIN);
    first.repeat.stop();
    first.clock.advance(29 * MIN);
    const reopened = setup(first.clock, first.store);
    await reopened.repeat.open();
    return reopened;
  }

  test("misfire 'skip' drops every run that fell due while closed", async () => {
    const r = await closedPeriod('skip');
    expect(r.enqueued).toHaveLength(0);
    expect((await r.repeat.list())[0]?.next).toBe(T0 + 35 * MIN);
  });

  test("misfire 'once' runs the latest of them once", async () => {
    const r = await closedPeriod('once');
    expect(r.enqueued.map((e) => e.options.runAt)).toEqual([T0 + 30 * MIN]);
    expect((await r.repeat.list())[0]).toMatchObject({ count: 1, next: T0 + 35 * MIN });
  });

  test("misfire 'all' runs each, oldest first, bounded by limit", async () => {
    const all = await closedPeriod('all');
    expect(all.enqueued.map((e) => (e.options.runAt as number) - T0)).toEqual([5, 10, 15, 20, 25, 30].map((m) => m * MIN));
    const limited = await closedPeriod('all', 4);
    expect(limited.enqueued).toHaveLength(4);
    // Its limit reached, the schedule ended and is gone.
    expect(await limited.repeat.list()).toEqual([]);
  });

  test("'all' catches up at most CATCH_UP_MAX at once and says it dropped the rest", async () => {
    const first = setup();
    await first.repeat.schedule('fast', 'n', null, { every: 10, misfire: 'all' });
    first.repeat.stop();
    first.clock.advance(10 * (CATCH_UP_MAX + 50));
    const reopened = setup(first.clock, first.store);
    await reopened.repeat.open();
    expect(reopened.enqueued).toHaveLength(CATCH_UP_MAX);
    expect(reopened.enqueued[0]?.options.runAt).toBe(T0 + 10);
    expect(reopened.warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['E_MISFIRE']);
    expect((await reopened.repeat.list())[0]?.next).toBe(T0 + 10 * (CATCH_UP_MAX + 51));
  });

  test('a run already stored (enqueued before a crash) is counted, not enqueued again', async () => {
    const first = setup();
    await first.repeat.schedule('s', 'n', null, { every: 1_000 });
    first.repeat.stop();
    first.clock.advance(1_000);
    const reopened = setup(first.clock, first.store);
    reopened.stored.add(runId('s', T0 + 1_000));
    await reopened.repeat.open();
    expect(reopened.enqueued).toHaveLength(0);
    expect((await reopened.repeat.list())[0]).toMatchObject({ count: 1, next: T0 + 2_000 });
  });

  test('the same id again: same timing keeps its next run and count; another timing starts afresh', async () => {
    const { clock, repeat, enqueued, settle } = setup();
    await repeat.schedule('s', 'n', { v: 1 }, { every: 1_000 });
    clock.advance(1_500);
    await settle();
    const same = await repeat.schedule('s', 'n', { v: 2 }, { every: 1_000 });
    expect([same.next, same.count, same.input]).toEqual([T0 + 2_000, 1, { v: 2 }]);
    clock.advance(500);
    await settle();
    expect(enqueued.map((e) => e.input)).toEqual([{ v: 1 }, { v: 2 }]);
    const changed = await repeat.schedule('s', 'n', { v: 3 }, { every: 10_000 });
    expect([changed.next, changed.count]).toEqual([T0 + 12_000, 0]);
    expect(await repeat.list()).toHaveLength(1);
  });

  test('a run that cannot be stored is tried again later and the schedule does not move past it', async () => {
    const { clock, repeat, enqueued, settle, fail } = setup();
    await repeat.schedule('s', 'n', null, { every: 1_000 });
    fail(new StorageError('quota'));
    clock.advance(1_000);
    await settle();
    expect((await repeat.list())[0]?.next).toBe(T0 + 1_000);
    fail(undefined);
    clock.advance(5_000);
    await settle();
    // Caught up by the default policy ('once'): the latest due run.
    expect(enqueued.map((e) => e.options.runAt)).toEqual([T0 + 6_000]);
  });

  test('unschedule removes it from the store; bad calls change nothing', async () => {
    const { repeat, store } = setup();
    await repeat.schedule('s', 'n', null, { every: 1_000 });
    await expect(repeat.schedule('', 'n', null, { every: 1_000 })).rejects.toThrow(/id to be a non-empty string/);
    await expect(repeat.schedule('t', 'n', () => 1, { every: 1_000 })).rejects.toMatchObject({ name: 'DataCloneError' });
    await expect(repeat.schedule('t', 'n', null, { cron: 'nope' })).rejects.toThrow(TypeError);
    await expect(repeat.schedule('t', 'n', null, { every: 1_000, endAt: T0 - 1 })).rejects.toThrow(/has passed/);
    expect((await store.readSchedules()).map((s) => s.id)).toEqual(['s']);
    expect(await repeat.unschedule('s')).toBe(true);
    expect(await repeat.unschedule('s')).toBe(false);
    expect(await store.readSchedules()).toEqual([]);
  });
});
