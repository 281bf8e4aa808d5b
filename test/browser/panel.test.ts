import { afterEach, expect, test } from 'vitest';
import { userEvent } from 'vitest/browser';
import type { Scheduler } from '../../src/index.js';
import '../../src/panel.js';
import type { TasklanePanel } from '../../src/panel.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, makeScheduler, outcome } from './helpers.js';

const mounted: TasklanePanel[] = [];

afterEach(async () => {
  for (const panel of mounted.splice(0)) panel.remove();
  await closeAll();
});

function mount(scheduler: Scheduler<Tasks>): TasklanePanel {
  const panel = document.createElement('tasklane-panel');
  panel.scheduler = scheduler;
  document.body.append(panel);
  mounted.push(panel);
  return panel;
}

const q = (panel: TasklanePanel, selector: string) => panel.shadowRoot?.querySelector<HTMLElement>(selector) ?? null;
const qa = (panel: TasklanePanel, selector: string) => [...(panel.shadowRoot?.querySelectorAll<HTMLElement>(selector) ?? [])];
const text = (panel: TasklanePanel, selector: string) => q(panel, selector)?.textContent?.replace(/\s+/g, ' ').trim();
const button = (panel: TasklanePanel, action: string, id: string) =>
  q(panel, `button[data-action="${action}"][data-id="${id}"]`) as HTMLButtonElement | null;

test('shows the count of each lane, the next tasks in it and delayed tasks after a burst', async () => {
  const s = await makeScheduler();
  s.pause();
  const panel = mount(s);
  await s.enqueueMany([
    ...Array.from({ length: 30 }, () => ({ name: 'noop' as const, input: null, options: { priority: 'normal' as const } })),
    ...Array.from({ length: 7 }, () => ({ name: 'noop' as const, input: null, options: { priority: 'high' as const } })),
    ...Array.from({ length: 2 }, () => ({ name: 'noop' as const, input: null, options: { priority: 'background' as const } })),
  ]);
  const delayed = await s.enqueue('noop', null, { priority: 'low', delayMs: 60_000 });

  await expect.poll(() => text(panel, '[data-lane="normal"] [data-count]')).toBe('30');
  // The delayed task came in a later enqueue than the burst: a frame may show the burst without it.
  // Once its lane shows it, the rest below is of that frame or a later one (one snapshot per frame).
  await expect.poll(() => text(panel, '[data-lane="low"] [data-count]')).toBe('1');
  expect(text(panel, '[data-lane="high"] [data-count]')).toBe('7');
  expect(text(panel, '[data-lane="background"] [data-count]')).toBe('2');
  expect(text(panel, '[data-lane="critical"] [data-count]')).toBe('0');
  expect(text(panel, '[data-metric="queued"]')).toBe('40');
  // Only the top of each lane is rendered: 3 chips and a "+27 more".
  expect(qa(panel, '[data-lane="normal"] .chip')).toHaveLength(3);
  expect(text(panel, '[data-lane="normal"] .more')).toBe('+27 more');
  // The delayed task is listed with its status in words and a countdown.
  const row = q(panel, `.rows [data-task="${delayed.id}"]`);
  expect(row?.textContent).toContain('delayed');
  // 60,000 ms exactly (no clock tick since the enqueue: Firefox's clock is coarser) reads `1 m 00 s`.
  expect(row?.textContent).toMatch(/in (59 s|60 s|1 m 00 s)/);
  // Every control is a real, focusable button.
  for (const b of qa(panel, '[data-action]')) expect(b.tagName).toBe('BUTTON');
});

test('a worker card goes busy with its task and progress, then back to idle', async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  const panel = mount(s);
  const task = await s.enqueue('progress', { steps: 200 });

  await expect.poll(() => q(panel, '.worker[data-state="busy"]')?.textContent ?? '').toContain('progress');
  const card = () => q(panel, '.worker[data-state="busy"]');
  expect(card()?.textContent).toContain('timeout 30 s');
  await expect.poll(() => (card()?.querySelector('progress') as HTMLProgressElement | null)?.value ?? 0).toBeGreaterThan(0);
  expect(await task.result).toBe(200);
  await expect.poll(() => q(panel, '.worker')?.dataset.state).toBe('idle');
  await expect.poll(() => q(panel, `tr[data-task="${task.id}"]`)?.dataset.status).toBe('completed');
});

test('Cancel from the panel cancels a queued task and a running one', async () => {
  const s = await makeScheduler({ pool: { max: 1 } });
  const panel = mount(s);
  const running = await s.enqueue('sleep', { ms: 30_000 });
  const queued = await s.enqueue('sleep', { ms: 30_000 }, { priority: 'high' });

  await expect.poll(() => button(panel, 'cancel', queued.id)).not.toBeNull();
  button(panel, 'cancel', queued.id)?.click();
  const q1 = await outcome(queued.result);
  expect(q1.ok).toBe(false);
  if (!q1.ok) expect(q1.error.name).toBe('CancelledError');

  // The running task's Cancel sits on its worker card.
  await expect.poll(() => q(panel, `.worker[data-state="busy"] button[data-id="${running.id}"]`)).not.toBeNull();
  q(panel, `.worker[data-state="busy"] button[data-id="${running.id}"]`)?.click();
  const r1 = await outcome(running.result);
  expect(r1.ok).toBe(false);
  if (!r1.ok) expect(r1.error.name).toBe('CancelledError');
  expect(running.status).toBe('cancelled');
  await expect.poll(() => text(panel, '.notice')).toContain('Cancelled');
  await expect.poll(() => q(panel, `tr[data-task="${running.id}"]`)?.dataset.status).toBe('cancelled');
  expect(text(panel, `tr[data-task="${running.id}"]`)).toContain('cancelled from the panel');
});

test('Retry from the dead-letter list re-runs the failed task', async () => {
  const s = await makeScheduler();
  const panel = mount(s);
  const task = await s.enqueue('flaky', { succeedOn: 2 }, { retry: { attempts: 1 } });
  expect((await outcome(task.result)).ok).toBe(false);

  await expect.poll(() => button(panel, 'retry', task.id)).not.toBeNull();
  expect(text(panel, `.rows [data-task="${task.id}"]`)).toContain('E_FLAKY');
  expect(text(panel, '[data-failed-count]')).toBe('1');
  button(panel, 'retry', task.id)?.click();

  // Retried under the same id with a fresh attempt: the fixture succeeds on attempt 2.
  await expect.poll(() => q(panel, `tr[data-task="${task.id}"]`)?.dataset.status).toBe('completed');
  expect(await (await s.get(task.id))?.result).toBe(2);
  expect(button(panel, 'retry', task.id)).toBeNull();
  expect(text(panel, '[data-failed-count]')).toBe('0');
});

test('Discard from the dead-letter list (by keyboard) removes the failed task from the store', async () => {
  const s = await makeScheduler();
  const panel = mount(s);
  const task = await s.enqueue('fatal', null);
  expect((await outcome(task.result)).ok).toBe(false);

  // With the keyboard: focus the button, press Enter.
  await expect.poll(() => button(panel, 'discard', task.id)).not.toBeNull();
  button(panel, 'discard', task.id)?.focus();
  await userEvent.keyboard('{Enter}');
  await expect.poll(() => button(panel, 'discard', task.id)).toBeNull();
  expect(await s.inspect(task.id)).toBeUndefined();
  expect(text(panel, '.notice')).toContain('Discarded');
});

test('the dead-letter list includes tasks that failed before the panel was attached', async () => {
  const s = await makeScheduler();
  const task = await s.enqueue('fatal', null);
  await outcome(task.result);
  const panel = mount(s);
  await expect.poll(() => button(panel, 'retry', task.id)).not.toBeNull();
});

test('discard() removes finished tasks, refuses live ones and ignores unknown ids', async () => {
  const s = await makeScheduler();
  s.pause();
  const live = await s.enqueue('noop', null);
  await expect(s.discard(live.id)).rejects.toThrow(TypeError);
  await expect(s.discard(live.id)).rejects.toThrow(/live task/);
  expect(await s.discard('no-such-task')).toBe(false);
  await expect(s.discard(42 as unknown as string)).rejects.toThrow(TypeError);
  s.resume();
  await live.result;
  expect(await s.discard(live.id)).toBe(true);
  expect(await s.inspect(live.id)).toBeUndefined();
  expect(await s.discard(live.id)).toBe(false);
});

test('stays cheap with 10,000 queued: one snapshot per frame, counts plus the top of each lane', async () => {
  const s = await makeScheduler();
  s.pause();
  const panel = mount(s);
  await panel.updateComplete;
  const before = panel.controller.flushes;
  const priorities = ['critical', 'high', 'normal', 'low', 'background'] as const;
  await s.enqueueMany(
    Array.from({ length: 10_000 }, (_, i) => ({ name: 'noop' as const, input: null, options: { priority: priorities[i % 5] } })),
  );

  await expect.poll(() => text(panel, '[data-metric="queued"]')).toBe('10,000');
  expect(text(panel, '[data-lane="low"] [data-count]')).toBe('2,000');
  // 10,000 'enqueued' events, a handful of snapshots.
  expect(panel.controller.flushes - before).toBeLessThan(10);
  expect(qa(panel, '.chip').length).toBe(15);
  const t0 = performance.now();
  s.peekLanes(3);
  s.metrics();
  expect(performance.now() - t0).toBeLessThan(50);
});

test('subscribes while connected only, and follows a new scheduler', async () => {
  const s = await makeScheduler();
  const panel = mount(s);
  await expect.poll(() => text(panel, '[data-metric="completed"]')).toBe('0');
  panel.remove();
  const flushes = panel.controller.flushes;
  await (await s.enqueue('add', { a: 1, b: 2 })).result;
  await new Promise(requestAnimationFrame);
  await new Promise(requestAnimationFrame);
  expect(panel.controller.flushes).toBe(flushes);

  document.body.append(panel);
  await expect.poll(() => text(panel, '[data-metric="completed"]')).toBe('1');

  const other = await makeScheduler({ name: 'other' });
  panel.scheduler = other;
  await expect.poll(() => text(panel, 'h2')).toContain('other');
  expect(text(panel, '[data-metric="completed"]')).toBe('0');
  expect(text(panel, '[data-leader]')).toContain('this tab');
});

test("in a tab that does not lead, shows the leader's queue, workers and counts, and says another tab leads", async () => {
  const name = `tasklane-test-panel-tabs-${Math.random().toString(36).slice(2)}`;
  // Two schedulers of one shared queue in this page: the first leads, the second follows it as another tab would.
  const leader = await makeScheduler({ name, store: 'indexeddb' });
  const follower = await makeScheduler({ name, store: 'indexeddb' });
  expect(follower.leader).toMatchObject({ thisTab: false, shared: true });
  const panel = mount(follower);
  await expect.poll(() => text(panel, '[data-leader]')).toContain('another tab');
  expect(text(panel, '[data-leader]')).toContain('since');
  const handles = await Promise.all(Array.from({ length: 5 }, (_, i) => follower.enqueue('add', { a: i, b: 1 })));
  expect(await Promise.all(handles.map((h) => h.result))).toEqual([1, 2, 3, 4, 5]);
  await expect.poll(() => text(panel, '[data-metric="completed"]')).toBe('5');
  await expect.poll(() => qa(panel, '[data-worker]').length).toBeGreaterThan(0);
  const lead = mount(leader);
  await expect.poll(() => text(lead, '[data-leader]')).toContain('this tab');
  await follower.close();
  await leader.close();
  indexedDB.deleteDatabase(name);
});

test('the workflow section shows a rate-limited group until when it waits, a schedule with its next run, and what a waiting task waits on', async () => {
  const s = await makeScheduler({ pool: { max: 2 }, limits: { upload: { rate: { max: 1, perMs: 5_000 } } } });
  const panel = mount(s);
  // No schedules, no waits, but a limits group: the section is there with just the group, open.
  await expect.poll(() => q(panel, '[data-group="upload"]')?.dataset.waits).toBe('no');
  expect(q(panel, '[data-schedules]')).toBeNull();
  const uploads = await Promise.all([1, 2].map((n) => s.enqueue('add', { a: n, b: 0 }, { group: 'upload' })));
  await uploads[0]?.result;
  // The second start must wait out the window: the row says until when.
  await expect.poll(() => q(panel, '[data-group="upload"]')?.dataset.waits).toBe('yes');
  expect(text(panel, '[data-group="upload"]')).toMatch(/1\/1 per 5\.0 s .*waits until .*\(in [1-5] s\)/);

  const info = await s.schedule('autosave', 'add', { a: 1, b: 1 }, { every: 3_600_000 });
  await expect
    .poll(() => text(panel, '[data-schedule="autosave"]'))
    .toMatch(/autosave → add · every 60 m 00 s · 0 runs.*next .*\(in (59 m 5\d s|60 m 00 s)\)/);
  expect(info.next).toBeGreaterThan(Date.now());

  const [slow] = await s.enqueueMany([
    { ref: 'slow', name: 'sleep', input: { ms: 60_000 } },
    { name: 'add', input: { a: 0, b: 0 }, options: { dependsOn: ['slow'] } },
  ]);
  await expect.poll(() => qa(panel, '[data-deps] [data-task]').length).toBe(1);
  expect(text(panel, '[data-deps]')).toContain(`waits on 1 of 1: #${(slow as string).split('-').pop()}`);
  await s.cancel(slow as string);
  // The dependent was skipped: nothing waits, the list goes (read again on the event, not polled).
  await expect.poll(() => q(panel, '[data-deps]')).toBeNull();
  expect(await s.unschedule('autosave')).toBe(true);
  await expect.poll(() => q(panel, '[data-schedules]')).toBeNull();
});
