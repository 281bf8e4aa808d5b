import { afterEach, expect, test } from 'vitest';
import { createScheduler, ManualClock, type TaskEvent } from '../../src/index.js';
import { closeAll, makeScheduler, outcome, tasksWorker } from './helpers.js';

/**
 * Aging on real workers: a background task gets through an endless stream of high ones (and
 * without `agingMs` it starves until the stream ends), and bad `agingMs` values are refused.
 */

afterEach(closeAll);

/**
 * One worker, a background task and three high ones queued, then every start adds another high
 * task and moves the clock 100 ms: there is always a high task waiting. Returns the background
 * task's place among the starts.
 */
async function backgroundPlace(agingMs: number | undefined): Promise<{ place: number; starts: number }> {
  const clock = new ManualClock(1_000_000);
  const s = await makeScheduler({ pool: { max: 1 }, clock, ...(agingMs === undefined ? {} : { agingMs }) });
  s.pause();
  // Tasks of a few ms go to the worker one at a time (only sub-millisecond ones are batched), so
  // every start is a choice between the background task and the high ones waiting.
  const bg = await s.enqueue('sleep', { ms: 2, label: 'bg' }, { priority: 'background' });
  for (let i = 0; i < 3; i++) await s.enqueue('sleep', { ms: 2 }, { priority: 'high' });
  const log: string[] = [];
  let fed = 0;
  const feeding: Promise<unknown>[] = [];
  s.addEventListener('started', (e) => {
    log.push((e as TaskEvent).task.id === bg.id ? 'bg' : 'high');
    clock.advance(100);
    if (fed++ < 40) feeding.push(s.enqueue('sleep', { ms: 2 }, { priority: 'high' }));
  });
  s.resume();
  expect(await bg.result).toBe('bg');
  await Promise.all(feeding);
  await s.drain();
  return { place: log.indexOf('bg'), starts: log.length };
}

test('agingMs lets a background task through an endless stream of high ones; without it, it starves', async () => {
  const starved = await backgroundPlace(undefined);
  expect(starved).toEqual({ place: 43, starts: 44 });
  // 300 ms per level: after 900 ms waiting it competes at high's level as the oldest task there.
  const aged = await backgroundPlace(300);
  expect(aged.starts).toBe(44);
  expect(aged.place).toBeGreaterThanOrEqual(8);
  expect(aged.place).toBeLessThanOrEqual(12);
});

test('agingMs must be a finite number > 0: anything else is refused with a TypeError, nothing opened', async () => {
  const cases: [unknown, string][] = [
    [-5, 'Expected agingMs to be a finite number > 0, got -5'],
    [0, 'Expected agingMs to be a finite number > 0, got 0'],
    [Number.NaN, 'Expected agingMs to be a finite number > 0, got NaN'],
    [Number.POSITIVE_INFINITY, 'Expected agingMs to be a finite number > 0, got Infinity'],
    ['1000', 'Expected agingMs to be a finite number > 0, got "1000"'],
  ];
  for (const [agingMs, message] of cases) {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls
    const got = await outcome(createScheduler({ worker: tasksWorker, store: 'memory', agingMs } as any));
    expect(got.ok ? 'accepted' : [got.error.name, got.error.message]).toEqual(['TypeError', message]);
  }
});
