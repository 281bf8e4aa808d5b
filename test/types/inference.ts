/**
 * Type tests, checked by `npm run typecheck` (never run): each `@ts-expect-error` must be an error,
 * or tsc fails with "Unused '@ts-expect-error' directive".
 */
import type { Scheduler } from '../../src/index.js';
import type { Tasks } from '../browser/fixtures/tasks.worker.js';

export async function typeTests(s: Scheduler<Tasks>): Promise<void> {
  const sum = await s.enqueue('add', { a: 1, b: 2 });
  const n: number = await sum.result;
  // @ts-expect-error the result of 'add' is a number, not a string
  const wrong: string = await sum.result;
  // @ts-expect-error unknown task name
  await s.enqueue('substract', { a: 1, b: 2 });
  // @ts-expect-error wrong input type
  await s.enqueue('add', { a: '1', b: 2 });
  // @ts-expect-error missing field
  await s.enqueue('add', { a: 1 });
  // @ts-expect-error unknown priority name
  await s.enqueue('add', { a: 1, b: 2 }, { priority: 'urgent' });
  const slept: string = await (await s.enqueue('sleep', { ms: 1 })).result;
  const buffer: ArrayBuffer = await (await s.enqueue('buffer', { size: 1 })).result;
  // @ts-expect-error enqueueMany checks names too
  await s.enqueueMany([{ name: 'nope', input: null }]);
  // A graph: items name each other by ref; dependsOn takes ids, refs and { id, on }.
  await s.enqueueMany([
    { ref: 'a', name: 'add', input: { a: 1, b: 2 } },
    { name: 'sum', input: { add: 1 }, options: { dependsOn: ['a', { id: sum.id, on: 'completion' }] } },
  ]);
  // @ts-expect-error an unknown condition
  await s.enqueue('add', { a: 1, b: 2 }, { dependsOn: [{ id: sum.id, on: 'always' }] });
  // @ts-expect-error a ref is a string
  await s.enqueueMany([{ ref: 1, name: 'add', input: { a: 1, b: 2 } }]);
  void [n, wrong, slept, buffer];
}
