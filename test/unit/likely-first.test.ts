import { describe, expect, test } from 'vitest';
import { likelyFirst } from '../../src/engine/resume-runs.js';
import { type NewTask, newTasksOf } from '../../src/index-entry.js';
import type { RecoveredRun } from '../../src/store.js';
import type { PriorityLevel } from '../../src/types.js';

function run(prefix: string, priority: PriorityLevel, runAt: number, seq0: number, n = 3): RecoveredRun {
  const tasks: NewTask[] = Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, name: 'x', priority, runAt, seq: seq0 + i }));
  return { tasks: newTasksOf(tasks), minted: undefined, extras: undefined, topSeq: seq0 + n - 1 };
}

describe('likelyFirst: the records read ahead at open', () => {
  test('picks the ready run first by priority, then readyAt, then seq, and returns at most n ids', () => {
    const runs = [run('low', 3, 0, 1), run('hiLate', 1, 50, 10), run('hi', 1, 20, 20), run('hiSame', 1, 20, 30)];
    expect(likelyFirst(runs, 2, 100)).toEqual(['hi0', 'hi1']);
    expect(likelyFirst(runs, 10, 100)).toEqual(['hi0', 'hi1', 'hi2']);
  });

  test('skips runs not yet due and empty runs; nothing due reads nothing', () => {
    const runs = [run('later', 0, 500, 1), run('empty', 0, 0, 5, 0), run('now', 4, 0, 9)];
    expect(likelyFirst(runs, 5, 100)).toEqual(['now0', 'now1', 'now2']);
    expect(likelyFirst([run('later', 0, 500, 1)], 5, 100)).toEqual([]);
    expect(likelyFirst([], 5, 100)).toEqual([]);
  });
});
