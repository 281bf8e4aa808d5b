import { describe, expect, test } from 'vitest';
import { corruptToFailed, recordProblems } from '../../src/record-validation.js';
import type { TaskRecord } from '../../src/types.js';

const valid = (): TaskRecord => ({
  id: 'a',
  name: 'resize',
  input: { w: 1 },
  priority: 2,
  runAt: 10,
  seq: 3,
  status: 'queued',
  attempt: 0,
  retry: { attempts: 3, backoff: { kind: 'exponential', delayMs: 1000, maxMs: 60000, factor: 2, jitter: false } },
  timeoutMs: 30000,
  errors: [],
  createdAt: 5,
  stalls: 0,
});

describe('recordProblems', () => {
  test('a well-formed live record has none', () => {
    expect(recordProblems(valid())).toEqual([]);
    expect(recordProblems({ ...valid(), status: 'running', attempt: 1, lease: { owner: 'x', until: 1 } })).toEqual([]);
    expect(recordProblems({ ...valid(), retry: { attempts: 1, backoff: 'function' }, stalls: undefined })).toEqual([]);
  });

  test('each bad field is named with what it was and what was expected', () => {
    expect(recordProblems({ ...valid(), priority: 9 })).toEqual(['priority is 9, expected an integer 0..4']);
    expect(recordProblems({ ...valid(), key: 'k', keyTtlMs: -1 })).toEqual(['keyTtlMs is -1, expected a finite number >= 0']);
    expect(recordProblems({ ...valid(), key: 'k', keyTtlMs: 60_000 })).toEqual([]);
    expect(recordProblems({ ...valid(), status: 'zombie' })).toEqual([
      `status is "zombie", expected 'queued', 'retrying', 'running' or 'waiting'`,
    ]);
    expect(recordProblems({ ...valid(), retry: { attempts: 0, backoff: 'function' } })).toEqual([
      'retry is an object, expected { attempts >= 1, backoff }',
    ]);
    expect(recordProblems({ ...valid(), lease: { owner: 1 } })).toEqual(['lease is an object, expected { owner, until }']);
    const { name: _name, ...noName } = valid();
    expect(recordProblems(noName)).toEqual(['name is missing, expected a non-empty string']);
  });

  test('non-objects are rejected outright', () => {
    expect(recordProblems(null)).toEqual(['record is null, not an object']);
    expect(recordProblems([1])).toEqual(['record is an array, not an object']);
    expect(recordProblems('x')).toEqual(['record is string, not an object']);
  });
});

describe('corruptToFailed', () => {
  test('keeps what is readable, fails the task with a CorruptRecordError naming the problems', () => {
    const raw = { ...valid(), priority: 9, errors: [{ name: 'Error', message: 'earlier' }, 'junk'] };
    const failed = corruptToFailed(raw, 'a', recordProblems(raw), 1000);
    expect(failed).toMatchObject({
      id: 'a',
      name: 'resize',
      input: { w: 1 },
      priority: 2,
      status: 'failed',
      finishedAt: 1000,
      createdAt: 5,
    });
    expect(failed.errors.map((e) => e.message)).toEqual(['earlier', expect.stringContaining('priority is 9')]);
    expect(failed.errors[1]).toMatchObject({ name: 'CorruptRecordError', code: 'E_CORRUPT_RECORD', at: 1000 });
    // What it produces is itself a valid record, apart from being terminal.
    expect(recordProblems({ ...failed, status: 'queued' })).toEqual([]);
  });

  test('a record with nothing usable still becomes a readable failed record', () => {
    const failed = corruptToFailed(42, 'k', ['record is number, not an object'], 7);
    expect(failed).toMatchObject({ id: 'k', name: '(corrupt)', input: 42, status: 'failed', attempt: 0, createdAt: 7 });
  });
});
