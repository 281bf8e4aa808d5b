import { expect, test } from 'vitest';
import { RecordEdits } from '../../../src/engine/record-edits.js';

test('edits of one task run one at a time in call order, a failed one does not stop the next; other tasks do not wait', async () => {
  const edits = new RecordEdits();
  const log: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const first = edits.edit('a', async () => {
    log.push('a1 start');
    await gate;
    log.push('a1 end');
    throw new Error('a1 failed');
  });
  const second = edits.edit('a', async () => {
    log.push('a2');
    return 2;
  });
  const other = edits.edit('b', async () => {
    log.push('b1');
    return 'b';
  });
  expect(await other).toBe('b');
  expect(log).toEqual(['a1 start', 'b1']);
  release();
  await expect(first).rejects.toThrow('a1 failed');
  expect(await second).toBe(2);
  expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
});
