import { afterEach, expect, test } from 'vitest';
import { closeAll, makeScheduler } from './helpers.js';

afterEach(closeAll);

test('runs a task in a real worker and returns its typed result', async () => {
  const s = await makeScheduler();
  const task = await s.enqueue('add', { a: 2, b: 3 });
  expect(await task.result).toBe(5);
  expect(task.status).toBe('completed');
});
