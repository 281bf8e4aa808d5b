import { afterEach, expect, test } from 'vitest';
import { createScheduler } from '../../src/index.js';
import { closeAll, makeScheduler, moduleLoaded, tasksWorker } from './helpers.js';

afterEach(closeAll);

// biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls throughout
type Loose = any;

/** The rejection of `call` (or its throw), as name and message. */
async function refusal(call: () => unknown): Promise<[string, string]> {
  try {
    await call();
  } catch (error) {
    return [(error as Error).name, (error as Error).message];
  }
  return ['resolved', ''];
}

test('an unknown key in enqueue, enqueueMany, list, close or resize options rejects with a TypeError naming it (and the key it looks like), storing nothing', async () => {
  const s: Loose = await makeScheduler();
  s.pause();
  await moduleLoaded(s);
  const shared = { priority: 'low', timoutMs: 5 };
  const cases: [string, () => unknown, string][] = [
    ['enqueue typo', () => s.enqueue('echo', { value: 1 }, { timoutMs: 100 }), 'Expected no option "timoutMs" (did you mean "timeoutMs"?)'],
    [
      'enqueue wrong case',
      () => s.enqueue('echo', { value: 1 }, { Priority: 'high' }),
      'Expected no option "Priority" (did you mean "priority"?)',
    ],
    ['enqueue unknown', () => s.enqueue('echo', { value: 1 }, { colour: 'red' }), 'Expected no option "colour"'],
    [
      'enqueue with a live key',
      () => s.enqueue('echo', { value: 1 }, { key: 'k', delay: 5 }),
      'Expected no option "delay" (did you mean "delayMs"?)',
    ],
    [
      'retry typo',
      () => s.enqueue('echo', { value: 1 }, { retry: { attempt: 2 } }),
      'Expected no option "retry.attempt" (did you mean "retry.attempts"?)',
    ],
    [
      'backoff typo',
      () => s.enqueue('echo', { value: 1 }, { retry: { backoff: { kind: 'fixed', delay: 5 } } }),
      'Expected no option "retry.backoff.delay" (did you mean "retry.backoff.delayMs"?)',
    ],
    [
      'enqueueMany options typo',
      () =>
        s.enqueueMany([
          { name: 'echo', input: { value: 1 } },
          { name: 'echo', input: { value: 2 }, options: shared },
        ]),
      'Expected no option "items[1].options.timoutMs" (did you mean "items[1].options.timeoutMs"?)',
    ],
    [
      'enqueueMany item typo',
      () =>
        s.enqueueMany([
          { name: 'echo', input: { value: 1 } },
          { name: 'echo', inptu: { value: 2 } },
        ]),
      'Expected no option "items[1].inptu" (did you mean "items[1].input"?)',
    ],
    [
      'dependsOn typo',
      () => s.enqueue('echo', { value: 1 }, { dependOn: ['x'] }),
      'Expected no option "dependOn" (did you mean "dependsOn"?)',
    ],
    [
      'dependsOn entry typo',
      () => s.enqueue('echo', { value: 1 }, { dependsOn: [{ id: 'x', onn: 'failure' }] }),
      'Expected no option "dependsOn[0].onn" (did you mean "dependsOn[0].on"?)',
    ],
    [
      'enqueueMany ref typo',
      () => s.enqueueMany([{ reff: 'a', name: 'echo', input: { value: 1 } }]),
      'Expected no option "items[0].reff" (did you mean "items[0].ref"?)',
    ],
    ['list typo', () => s.list({ stauts: 'queued' }), 'Expected no option "query.stauts" (did you mean "query.status"?)'],
    ['resize typo', () => s.resize({ maxx: 3 }), 'Expected no option "maxx" (did you mean "max"?)'],
    ['close typo', () => s.close({ drian: false }), 'Expected no option "drian" (did you mean "drain"?)'],
  ];
  await s.enqueue('echo', { value: 0 }, { key: 'k' });
  const before = s.metrics().submitted;
  for (const [label, call, message] of cases) {
    const [name, got] = await refusal(call);
    expect([label, name, got.split(';')[0]]).toEqual([label, 'TypeError', expect.stringContaining(message)]);
  }
  expect(s.metrics().submitted).toBe(before);
  expect(await s.list()).toHaveLength(1);
  expect(s.closed).toBe(false);
  expect(s.workers().length).toBeLessThanOrEqual(2);
});

test('an unknown key in createScheduler options or in pool, defaults, retention, retry or backoff rejects with a TypeError naming it', async () => {
  const create = createScheduler as Loose;
  const base = { worker: tasksWorker, store: 'memory' };
  const cases: [Record<string, unknown>, string][] = [
    [{ maxQueue: 5 }, 'Expected no option "maxQueue" (did you mean "maxQueued"?)'],
    [{ workers: tasksWorker }, 'Expected no option "workers" (did you mean "worker"?)'],
    [{ limits: { api: { concurency: 1 } } }, 'Expected no option "limits.api.concurency"'],
    [{ agingMS: 1_000 }, 'Expected no option "agingMS" (did you mean "agingMs"?)'],
    [{ pool: { maxWorkers: 2 } }, 'Expected no option "pool.maxWorkers"'],
    [{ pool: { idelMs: 2 } }, 'Expected no option "pool.idelMs" (did you mean "pool.idleMs"?)'],
    [{ pool: { onBreakerOpen: 'retry' } }, "Expected pool.onBreakerOpen to be 'wait' or 'fail', got \"retry\""],
    [{ defaults: { timeout: 5 } }, 'Expected no option "defaults.timeout" (did you mean "defaults.timeoutMs"?)'],
    [
      { defaults: { retry: { backoff: { jiter: true } } } },
      'Expected no option "defaults.retry.backoff.jiter" (did you mean "defaults.retry.backoff.jitter"?)',
    ],
    [{ retention: { complete: 5 } }, 'Expected no option "retention.complete" (did you mean "retention.completed"?)'],
  ];
  for (const [extra, message] of cases) {
    const [name, got] = await refusal(() => create({ ...base, ...extra }));
    expect([Object.keys(extra)[0], name, got.split(';')[0]]).toEqual([
      Object.keys(extra)[0],
      'TypeError',
      expect.stringContaining(message),
    ]);
  }
  // A bad nested option on the IndexedDB store rejects too, and leaves no connection open behind it.
  const name = `option-keys-${Math.random().toString(36).slice(2)}`;
  await expect(create({ name, worker: tasksWorker, pool: { mx: 1 } })).rejects.toThrow(
    'Expected no option "pool.mx" (did you mean "pool.max"?)',
  );
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('deleteDatabase blocked: the failed createScheduler left its connection open'));
  });
});
