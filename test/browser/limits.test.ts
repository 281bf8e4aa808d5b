import { afterEach, expect, test } from 'vitest';
import { createScheduler, type TaskEvent } from '../../src/index.js';
import type { TabApi } from './fixtures/tab-frame.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { closeAll, FRAME_PRELUDE, makeScheduler, moduleLoaded, outcome, tasksWorker } from './helpers.js';
import { closeAfter, closeOpened, dbName } from './idb-helpers.js';

/**
 * Rate limits and concurrency groups on real workers: starts per window, a group's concurrency
 * never exceeded while other groups keep the rest of the pool, bad options refused with nothing
 * stored, and a limited queue that survives a reload.
 */

// biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls
type Loose = any;

const frames: HTMLIFrameElement[] = [];

afterEach(async () => {
  await closeAll();
  for (const frame of frames.splice(0)) frame.remove();
  await closeOpened();
});

/** Start and end messages of `counted` tasks on `channel`, with how many ran at once at most. */
function concurrencyOf(channel: string): { max: () => number; starts: number[]; close: () => void } {
  const bc = new BroadcastChannel(channel);
  let now = 0;
  let max = 0;
  const starts: number[] = [];
  bc.onmessage = (e: MessageEvent<{ phase: string }>) => {
    if (e.data.phase === 'start') {
      starts.push(performance.now());
      max = Math.max(max, ++now);
    } else now--;
  };
  return { max: () => max, starts, close: () => bc.close() };
}

test('rate max 3 per 200 ms over 12 tasks: no window holds more than 3 starts', async () => {
  const s = await makeScheduler({ pool: { max: 2 }, limits: { echo: { rate: { max: 3, perMs: 200 } } } });
  await moduleLoaded(s);
  const starts: number[] = [];
  s.addEventListener('started', () => starts.push(performance.now()));
  const handles = await Promise.all(Array.from({ length: 12 }, (_, i) => s.enqueue('echo', { value: i })));
  expect(await Promise.all(handles.map((h) => h.result))).toEqual(Array.from({ length: 12 }, (_, i) => i));
  expect(starts.length).toBe(12);
  // 12 starts at 3 per 200 ms need at least three full windows after the first start.
  expect((starts[11] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(500);
  // Events reach the page a little after the start they tell of: a window 50 ms short of perMs
  // leaves room for that delay and still catches a fourth start in a window.
  for (const t of starts) expect(starts.filter((u) => u >= t && u < t + 150).length).toBeLessThanOrEqual(3);
});

test('a concurrency 1 group on a pool of 2 never runs two at once; other groups use the second worker', async () => {
  const channel = `limits-${Math.random()}`;
  const seen = concurrencyOf(channel);
  try {
    const s = await makeScheduler({ pool: { max: 2, min: 2 }, limits: { counted: { concurrency: 1 } } });
    await moduleLoaded(s);
    const order: string[] = [];
    s.addEventListener('completed', (e: TaskEvent) => order.push(e.task.name));
    const group = await Promise.all(Array.from({ length: 4 }, (_, i) => s.enqueue('counted', { channel, label: `c${i}`, ms: 150 })));
    const other = await s.enqueue('add', { a: 1, b: 2 });
    expect(await other.result).toBe(3);
    await Promise.all(group.map((h) => h.result));
    expect(seen.max()).toBe(1);
    expect(seen.starts.length).toBe(4);
    // The other group's task did not wait for the limited group: it finished before the group's last task.
    expect(order.indexOf('add')).toBeLessThan(order.lastIndexOf('counted'));
  } finally {
    seen.close();
  }
});

test('RateLimitedError(150) pauses its group ~150 ms and does not use up an attempt', async () => {
  const s = await makeScheduler({ pool: { max: 1 }, limits: { rateLimited: { concurrency: 4 } } });
  await moduleLoaded(s);
  const retrying = new Promise<{ at: number; error: Error & { code?: string; retryAfterMs?: number } }>((resolve) =>
    s.addEventListener('retrying', (e: Loose) => resolve({ at: performance.timeOrigin + performance.now(), error: e.error })),
  );
  const first = await s.enqueue('rateLimited', { key: `a${Math.random()}`, retryAfterMs: 150 }, { retry: { attempts: 1 } });
  const { at, error } = await retrying;
  expect([error.name, error.code, error.retryAfterMs]).toEqual(['RateLimitedError', 'E_RATE_LIMITED', 150]);
  // Another task of the group, ready now, waits for the group to reopen too.
  const second = await s.enqueue('rateLimited', { key: 'b', retryAfterMs: 0 });
  const [r1, r2] = await Promise.all([first.result, second.result]);
  // attempts: 1, and it still succeeded: the rate-limited attempt was not counted.
  expect(r1.attempt).toBe(1);
  expect(r2.attempt).toBe(1);
  // The wait was the group's: neither ran before about 150 ms had passed (timers may fire a little early or late).
  expect(r1.at - at).toBeGreaterThanOrEqual(100);
  expect(r2.at - at).toBeGreaterThanOrEqual(100);
  expect((await s.inspect(first.id))?.status).toBe('completed');
});

test('bad limits are refused with a named TypeError before anything opens', async () => {
  const create = createScheduler as Loose;
  const base = { worker: tasksWorker, store: 'memory' };
  const cases: [unknown, string][] = [
    [{ api: { rate: { max: -1, perMs: 100 } } }, 'Expected limits.api.rate.max to be a finite integer >= 1, got -1'],
    [{ api: { rate: { max: 3, perMs: 0 } } }, 'Expected limits.api.rate.perMs to be a finite number >= 1, got 0'],
    [{ api: { concurrency: 0 } }, 'Expected limits.api.concurrency to be a finite integer >= 1, got 0'],
    [{ api: { concurency: 1 } }, 'Expected no option "limits.api.concurency"'],
    [{ api: 'fast' }, 'Expected limits.api to be an object'],
  ];
  for (const [limits, message] of cases) {
    const got = await outcome(create({ ...base, limits }));
    expect(got.ok).toBe(false);
    if (!got.ok) {
      expect(got.error.name).toBe('TypeError');
      expect(got.error.message).toContain(message);
    }
  }
});

/** Opens a test tab (an iframe of this page: same origin, so it shares Web Locks and IndexedDB). */
async function openTab(): Promise<{ frame: HTMLIFrameElement; api: TabApi }> {
  const id = `limits-tab${frames.length}-${Math.random().toString(36).slice(2, 6)}`;
  const frame = document.createElement('iframe');
  const module = new URL('./fixtures/tab-frame.ts', import.meta.url).href;
  frame.srcdoc = `${FRAME_PRELUDE}<script>window.tabId=${JSON.stringify(id)}</script><script type="module">import ${JSON.stringify(module)};</script>`;
  const ready = new Promise<void>((resolve) => {
    const onMessage = (event: MessageEvent) => {
      if ((event.data as { tabReady?: string })?.tabReady !== id) return;
      window.removeEventListener('message', onMessage);
      resolve();
    };
    window.addEventListener('message', onMessage);
  });
  document.body.append(frame);
  frames.push(frame);
  await ready;
  return { frame, api: (frame.contentWindow as unknown as { tab: TabApi }).tab };
}

/** Removes a tab running the queue `db` (as a tab closing) and resolves once the browser released its locks. */
async function killTab(frame: HTMLIFrameElement, db: string): Promise<void> {
  const { held = [] } = await navigator.locks.query();
  const locks = held.map((l) => l.name ?? '').filter((name) => name.startsWith(`tasklane:${db}:`));
  frame.remove();
  for (const name of locks) await navigator.locks.request(name, async () => {});
}

test('a rate-limited queue survives a reload (IndexedDB) and finishes under its limit', async () => {
  const db = dbName('limits-reload');
  const limits = { echo: { rate: { max: 2, perMs: 300 } } };
  const tab = await openTab();
  const before = await tab.api.open({ name: db, pool: { max: 1 } });
  before.pause();
  const ids = (await Promise.all(Array.from({ length: 6 }, (_, i) => before.enqueue('echo', { value: i })))).map((h) => h.id);
  await killTab(tab.frame, db);
  const s = closeAfter(await createScheduler<Tasks>({ name: db, worker: tasksWorker, pool: { max: 2 }, limits }));
  const starts: number[] = [];
  s.addEventListener('started', () => starts.push(performance.now()));
  const handles = await Promise.all(ids.map((id) => s.get(id)));
  expect(await Promise.all(handles.map((h) => h?.result))).toEqual([0, 1, 2, 3, 4, 5]);
  expect(starts.length).toBe(6);
  // 6 starts at 2 per 300 ms need at least two full windows after the first start.
  expect((starts[5] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(500);
});

test("group: 'api' puts tasks of two names in one concurrency group of 2, never exceeded; kept on the record", async () => {
  const channel = `group-${Math.random()}`;
  const seen = concurrencyOf(channel);
  try {
    const s = await makeScheduler({ pool: { max: 4, min: 4 }, limits: { api: { concurrency: 2 } } });
    await moduleLoaded(s);
    const grouped = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.enqueue('counted', { channel, label: `g${i}`, ms: 60 }, { group: 'api' })),
    );
    // A task of another name in the same group takes one of its two slots.
    const sleeper = await s.enqueue('sleep', { ms: 60 }, { group: 'api' });
    await Promise.all([...grouped, sleeper].map((h) => h.result));
    expect(seen.starts.length).toBe(8);
    expect(seen.max()).toBeLessThanOrEqual(2);
    expect((await s.inspect(sleeper.id))?.group).toBe('api');
    // Control: without the group the same tasks use all four workers.
    const free = await Promise.all(Array.from({ length: 8 }, (_, i) => s.enqueue('counted', { channel, label: `f${i}`, ms: 60 })));
    await Promise.all(free.map((h) => h.result));
    expect(seen.max()).toBeGreaterThan(2);
    const bad = await outcome(s.enqueue('sleep', { ms: 1 }, { group: '' }));
    expect(bad).toMatchObject({ ok: false });
  } finally {
    seen.close();
  }
});

test('RateLimitedError from a task with group pauses that group, not the group of its name', async () => {
  const s = await makeScheduler({ pool: { max: 2 }, limits: { api: { concurrency: 4 }, rateLimited: { concurrency: 4 } } });
  await moduleLoaded(s);
  const key = `k-${Math.random()}`;
  const limited = await s.enqueue('rateLimited', { key, retryAfterMs: 300 }, { group: 'api' });
  await new Promise<void>((r) => s.addEventListener('retrying', () => r(), { once: true }));
  const t0 = performance.now();
  // Same group: waits out the pause. The group of its name: not paused.
  const same = await s.enqueue('add', { a: 1, b: 1 }, { group: 'api' });
  const byName = await s.enqueue('rateLimited', { key: `${key}-2`, retryAfterMs: 0 });
  await byName.result;
  const byNameMs = performance.now() - t0;
  await same.result;
  const sameMs = performance.now() - t0;
  expect(byNameMs).toBeLessThan(200);
  expect(sameMs).toBeGreaterThanOrEqual(200);
  expect(((await limited.result) as { attempt: number }).attempt).toBe(1);
});
