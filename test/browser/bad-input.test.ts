import { afterEach, expect, test } from 'vitest';
import { createScheduler, type EnqueueOptions } from '../../src/index.js';
import { closeAll, makeScheduler, moduleLoaded, tasksWorker } from './helpers.js';

afterEach(closeAll);

test('each bad enqueue rejects with a named error and stores nothing', async () => {
  const s = await makeScheduler({ store: 'memory', maxQueued: 3 });
  s.pause();
  // Names are checked once known; before that an unknown one fails at dispatch (module-faults.test.ts).
  await moduleLoaded(s);
  // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls
  const loose = s as any;
  const cases: [string, () => Promise<unknown>, Record<string, unknown>][] = [
    ['unknown task name', () => loose.enqueue('nope', null), { name: 'UnknownTaskError', code: 'E_UNKNOWN_TASK' }],
    ['non-cloneable input', () => loose.enqueue('echo', { value: () => 1 }), { name: 'DataCloneError', code: 'E_DATA_CLONE' }],
    ['non-cloneable nested DOM node', () => loose.enqueue('echo', { value: document.createElement('div') }), { name: 'DataCloneError' }],
    [
      'negative timeoutMs',
      () => s.enqueue('echo', { value: 1 }, { timeoutMs: -5 }),
      { name: 'TypeError', message: 'Expected timeoutMs to be a finite number >= 0, got -5' },
    ],
    [
      'NaN timeoutMs',
      () => s.enqueue('echo', { value: 1 }, { timeoutMs: Number.NaN }),
      { name: 'TypeError', message: 'Expected timeoutMs to be a finite number >= 0, got NaN' },
    ],
    [
      'negative delayMs',
      () => s.enqueue('echo', { value: 1 }, { delayMs: -1 }),
      { name: 'TypeError', message: 'Expected delayMs to be a finite number >= 0, got -1' },
    ],
    [
      'zero attempts',
      () => s.enqueue('echo', { value: 1 }, { retry: { attempts: 0 } }),
      { name: 'TypeError', message: 'Expected retry.attempts to be a finite integer >= 1, got 0' },
    ],
    [
      'unknown priority',
      () => loose.enqueue('echo', { value: 1 }, { priority: 'urgent' }),
      { name: 'TypeError', message: expect.stringContaining('got "urgent"') },
    ],
    ['priority out of range', () => loose.enqueue('echo', { value: 1 }, { priority: 7 }), { name: 'TypeError' }],
    [
      'options of the wrong type',
      () => loose.enqueue('echo', { value: 1 }, 'fast'),
      { name: 'TypeError', message: 'Expected options to be an object, got "fast"' },
    ],
    [
      'timeoutMs of the wrong type',
      () => loose.enqueue('echo', { value: 1 }, { timeoutMs: '10' }),
      { name: 'TypeError', message: expect.stringContaining('got "10"') },
    ],
    [
      'delayMs and runAt together',
      () => s.enqueue('echo', { value: 1 }, { delayMs: 1, runAt: 5 } as EnqueueOptions),
      { name: 'TypeError' },
    ],
    ['invalid Date', () => s.enqueue('echo', { value: 1 }, { runAt: new Date('nope') }), { name: 'TypeError' }],
    ['signal that is not a signal', () => loose.enqueue('echo', { value: 1 }, { signal: {} }), { name: 'TypeError' }],
    ['empty key', () => s.enqueue('echo', { value: 1 }, { key: '' }), { name: 'TypeError' }],
    ['dependsOn that is not an array', () => loose.enqueue('echo', { value: 1 }, { dependsOn: 'x' }), { name: 'TypeError' }],
    [
      'dependsOn with a bad on',
      () => loose.enqueue('echo', { value: 1 }, { dependsOn: [{ id: 'x', on: 'later' }] }),
      { name: 'TypeError' },
    ],
    [
      'dependsOn naming an unknown task',
      () => s.enqueue('echo', { value: 1 }, { dependsOn: ['x'] }),
      { name: 'DependencyError', code: 'E_DEPENDENCY', message: expect.stringContaining('"x"') },
    ],
    [
      'a dependency cycle',
      () =>
        s.enqueueMany([
          { ref: 'a', name: 'echo', input: { value: 1 }, options: { dependsOn: ['b'] } },
          { ref: 'b', name: 'echo', input: { value: 2 }, options: { dependsOn: ['a'] } },
        ]),
      { name: 'DependencyError', code: 'E_DEPENDENCY' },
    ],
    [
      'enqueueMany with one bad item',
      () =>
        loose.enqueueMany([
          { name: 'echo', input: { value: 1 } },
          { name: 'echo', input: { value: 1 }, options: { priority: 9 } },
        ]),
      { name: 'TypeError' },
    ],
    [
      'enqueueMany with an unknown name',
      () =>
        loose.enqueueMany([
          { name: 'echo', input: { value: 1 } },
          { name: 'nope', input: null },
        ]),
      { name: 'UnknownTaskError' },
    ],
  ];
  for (const [label, call, expected] of cases) {
    await expect(call(), label).rejects.toMatchObject(expected);
  }
  expect(s.metrics().submitted).toBe(0);
  expect(await s.list()).toEqual([]);
  // A full queue.
  await s.enqueueMany([1, 2, 3].map((value) => ({ name: 'echo' as const, input: { value } })));
  await expect(s.enqueue('echo', { value: 4 })).rejects.toMatchObject({ name: 'QueueFullError', code: 'E_QUEUE_FULL' });
  expect(s.metrics().queued).toBe(3);
  s.resume();
  await s.drain();
  // Enqueue after close.
  await s.close();
  await expect(s.enqueue('echo', { value: 1 })).rejects.toMatchObject({ name: 'SchedulerClosedError' });
  await expect(s.enqueueMany([])).rejects.toMatchObject({ name: 'SchedulerClosedError' });
});

test('bad scheduler options are refused with TypeError saying expected vs got', async () => {
  // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong calls
  const create = createScheduler as any;
  await expect(create()).rejects.toThrow('Expected options to be an object, got undefined');
  await expect(create({})).rejects.toThrow('Expected options.worker to be a function returning a Worker, got undefined');
  await expect(create({ worker: tasksWorker, pool: { max: 0 } })).rejects.toThrow('Expected pool.max to be a finite integer >= 1, got 0');
  await expect(create({ worker: tasksWorker, pool: { max: 1, min: 2 } })).rejects.toThrow('Expected pool.min to be <= pool.max (1), got 2');
  await expect(create({ worker: tasksWorker, defaults: { timeoutMs: -1 } })).rejects.toThrow(
    'Expected defaults.timeoutMs to be a finite number >= 0, got -1',
  );
  await expect(create({ worker: tasksWorker, store: 'disk' })).rejects.toThrow(TypeError);
});

test('enqueueMany names the bad item, however deep in a big batch, and stores none of it', async () => {
  const s = await makeScheduler({ store: 'memory' });
  s.pause();
  // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong items
  const items: any[] = Array.from({ length: 60_000 }, (_, i) => ({ name: 'echo', input: { value: i }, options: { priority: 'low' } }));
  items[59_999] = { name: 'echo', input: { value: 1 }, options: { priority: 9 } };
  const named = (what: string) => expect.stringContaining(`items[59999].${what}`);
  await expect(s.enqueueMany(items)).rejects.toMatchObject({ name: 'TypeError', message: named('options.priority') });
  items[59_999] = { name: 'echo', input: { value: 1 }, options: { delayMs: -1 } };
  await expect(s.enqueueMany(items)).rejects.toThrow('Expected items[59999].options.delayMs to be a finite number >= 0, got -1');
  items[59_999] = { name: '', input: null };
  await expect(s.enqueueMany(items)).rejects.toThrow('Expected items[59999].name to be a task name (non-empty string), got ""');
  items[59_999] = { name: 'echo', input: { value: () => 1 } };
  await expect(s.enqueueMany(items)).rejects.toMatchObject({ name: 'DataCloneError', message: named('input') });
  items[59_999] = { name: 'echo', input: null, options: { key: 'k' } };
  await expect(s.enqueueMany(items)).rejects.toThrow('Expected items[59999].options to have no signal or key');
  const nameless = [{ input: null }, ...items];
  await expect(s.enqueueMany(nameless)).rejects.toThrow('Expected items[0].name to be a task name (non-empty string), got undefined');
  expect(s.metrics().submitted).toBe(0);
  expect(s.metrics().queued).toBe(0);
  expect(await s.list()).toEqual([]);
  items[59_999] = items[0];
  expect(await s.enqueueMany(items)).toHaveLength(60_000);
  expect(s.metrics().queued).toBe(60_000);
});
