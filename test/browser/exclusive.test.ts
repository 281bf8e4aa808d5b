import { afterEach, expect, test } from 'vitest';
import { closeAll, makeScheduler, moduleLoaded } from './helpers.js';

/**
 * `exclusive` tasks on real workers and the browser's real Web Locks: one at a time across two
 * schedulers of the page (as across tabs: the lock is the origin's), held back while other code
 * holds the lock, holding no worker meanwhile, and the lock released when each attempt ends.
 */

afterEach(async () => {
  await closeAll();
});

/** Start and end messages of `counted` tasks on `channel`, with how many ran at once at most. */
function concurrencyOf(channel: string): { max: () => number; starts: () => number; close: () => void } {
  const bc = new BroadcastChannel(channel);
  let now = 0;
  let max = 0;
  let starts = 0;
  bc.onmessage = (e: MessageEvent<{ phase: string }>) => {
    if (e.data.phase === 'start') {
      starts++;
      max = Math.max(max, ++now);
    } else now--;
  };
  return { max: () => max, starts: () => starts, close: () => bc.close() };
}

const heldLocks = async () => ((await navigator.locks.query()).held ?? []).map((l) => l.name);

test('two schedulers, 8 tasks exclusive on one lock: never two at once, all run; without it they overlap', async () => {
  const lock = `x-${Math.random()}`;
  const channel = `exclusive-${Math.random()}`;
  const seen = concurrencyOf(channel);
  try {
    const a = await makeScheduler({ pool: { max: 2, min: 2 } });
    const b = await makeScheduler({ pool: { max: 2, min: 2 } });
    await Promise.all([moduleLoaded(a), moduleLoaded(b)]);
    const handles = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).enqueue('counted', { channel, label: `e${i}`, ms: 40 }, { exclusive: lock })),
    );
    await Promise.all(handles.map((h) => h.result));
    expect(seen.starts()).toBe(8);
    expect(seen.max()).toBe(1);
    expect(await heldLocks()).not.toContain(lock);
    // Control: the same tasks without the lock run side by side on the four workers.
    const free = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).enqueue('counted', { channel, label: `f${i}`, ms: 40 })),
    );
    await Promise.all(free.map((h) => h.result));
    expect(seen.max()).toBeGreaterThan(1);
  } finally {
    seen.close();
  }
});

test('a lock held by other code holds the task back without a worker; it starts once the lock is released', async () => {
  const lock = `y-${Math.random()}`;
  const s = await makeScheduler({ pool: { max: 1 } });
  await moduleLoaded(s);
  let release!: () => void;
  const holding = new Promise<void>((held) => {
    void navigator.locks.request(lock, () => {
      held();
      return new Promise<void>((r) => {
        release = r;
      });
    });
  });
  await holding;
  const task = await s.enqueue('add', { a: 1, b: 2 }, { exclusive: lock, priority: 'critical' });
  // The only worker is free for others meanwhile.
  const plain = await s.enqueue('add', { a: 2, b: 2 }, { priority: 'low' });
  expect(await plain.result).toBe(4);
  await new Promise((r) => setTimeout(r, 150));
  expect(task.status).toBe('queued');
  release();
  expect(await task.result).toBe(3);
  await new Promise((r) => setTimeout(r, 20));
  expect(await heldLocks()).not.toContain(lock);
});

test('each attempt takes the lock anew: a retried task releases it between attempts', async () => {
  const lock = `z-${Math.random()}`;
  const s = await makeScheduler({ pool: { max: 1 } });
  await moduleLoaded(s);
  const task = await s.enqueue(
    'flaky',
    { succeedOn: 3 },
    { exclusive: lock, retry: { attempts: 3, backoff: { kind: 'fixed', delayMs: 200 } } },
  );
  // While the task waits out its 200 ms backoff, other code gets the lock. Not within the same turn:
  // a Web Lock is let go asynchronously (Firefox grants it to the next request a few turns later).
  await new Promise<void>((r) => s.addEventListener('retrying', () => r(), { once: true }));
  const got = await navigator.locks.request(lock, { signal: AbortSignal.timeout(150) }, () => task.status);
  expect(got).toBe('retrying');
  expect(await task.result).toBe(3);
});

test('cancelling a task waiting for its lock lets the next one have it; bad lock names are refused, nothing stored', async () => {
  const lock = `w-${Math.random()}`;
  const s = await makeScheduler({ pool: { max: 2 } });
  await moduleLoaded(s);
  const first = await s.enqueue('sleep', { ms: 150 }, { exclusive: lock });
  const second = await s.enqueue('sleep', { ms: 10 }, { exclusive: lock });
  const third = await s.enqueue('add', { a: 1, b: 1 }, { exclusive: lock });
  await new Promise((r) => setTimeout(r, 30));
  await s.cancel(second.id);
  await expect(second.result).rejects.toMatchObject({ name: 'CancelledError' });
  expect(await third.result).toBe(2);
  await first.result;
  const before = (await s.list({ limit: 100 })).length;
  for (const bad of ['', '-reserved', 'tasklane:app:leader', 42])
    await expect(s.enqueue('add', { a: 1, b: 1 }, { exclusive: bad as never })).rejects.toThrow(TypeError);
  expect((await s.list({ limit: 100 })).length).toBe(before);
});
