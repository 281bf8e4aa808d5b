import { describe, expect, test } from 'vitest';
import { DEFAULT_BACKOFF } from '../../src/backoff.js';
import { ManualClock } from '../../src/clock.js';
import { planRecovery } from '../../src/recovery.js';
import {
  cancelRecord,
  completeAttempt,
  failAttempt,
  NO_ERRORS,
  requeueFailed,
  startAttempt,
  unstartAttempt,
} from '../../src/transition.js';
import type { TaskRecord } from '../../src/types.js';

const record = (over: Partial<TaskRecord> = {}): TaskRecord => ({
  id: 't1',
  name: 'job',
  input: null,
  priority: 2,
  runAt: 0,
  seq: 0,
  status: 'queued',
  attempt: 0,
  retry: { attempts: 3, backoff: { ...DEFAULT_BACKOFF, delayMs: 100 } },
  timeoutMs: 1_000,
  errors: [],
  createdAt: 0,
  stalls: 0,
  ...over,
});

describe('transitions', () => {
  test('records start with the shared empty history; a failure or cancel gives that record its own, leaving the shared one empty', () => {
    const a = record({ errors: NO_ERRORS });
    const b = record({ id: 't2', errors: NO_ERRORS });
    startAttempt(a, 0, 'me', 1_000);
    failAttempt(a, { name: 'Error', message: 'boom' }, 5);
    cancelRecord(b, { name: 'CancelledError', message: 'stop' }, 6);
    expect(a.errors.map((e) => e.message)).toEqual(['boom']);
    expect(b.errors.map((e) => e.message)).toEqual(['stop']);
    expect(NO_ERRORS).toEqual([]);
    expect(Object.isFrozen(NO_ERRORS)).toBe(true);
  });

  test('a task retried with exponential backoff on an injected clock: attempts, delays, error history', () => {
    const clock = new ManualClock(0);
    const r = record();
    const log: string[] = [];
    for (let i = 0; i < 3; i++) {
      startAttempt(r, clock.now(), 'me', 30_000);
      const out = failAttempt(r, { name: 'Error', message: `fail ${r.attempt}` }, clock.now());
      log.push(`${r.attempt}:${r.status}:${out.kind === 'retry' ? out.delayMs : '-'}`);
      if (out.kind === 'retry') {
        expect(r.runAt).toBe(clock.now() + out.delayMs);
        clock.advance(out.delayMs);
      }
    }
    expect(log).toEqual(['1:retrying:100', '2:retrying:200', '3:failed:-']);
    expect(r.errors.map((e) => [e.attempt, e.message, e.at])).toEqual([
      [1, 'fail 1', 0],
      [2, 'fail 2', 100],
      [3, 'fail 3', 300],
    ]);
    expect(r.finishedAt).toBe(300);
  });

  test('non-retryable errors fail at once', () => {
    const r = record();
    startAttempt(r, 0, 'me', 1);
    expect(failAttempt(r, { name: 'NonRetryableError', code: 'E_NON_RETRYABLE', message: 'no' }, 5)).toEqual({ kind: 'fail' });
    expect(r.status).toBe('failed');
  });

  test('a function backoff is used when the stored policy says so', () => {
    const r = record({ retry: { attempts: 2, backoff: 'function' } });
    startAttempt(r, 0, 'me', 1);
    expect(failAttempt(r, { name: 'Error', message: 'x' }, 0, (attempt) => attempt * 1_234)).toEqual({ kind: 'retry', delayMs: 1_234 });
  });

  test('unstart gives back the attempt; complete, cancel and requeue', () => {
    const r = record({ status: 'retrying', attempt: 1 });
    startAttempt(r, 10, 'me', 1);
    expect(r.attempt).toBe(2);
    unstartAttempt(r, 'retrying');
    expect([r.status, r.attempt, r.lease]).toEqual(['retrying', 1, undefined]);
    startAttempt(r, 10, 'me', 1);
    completeAttempt(r, 42, 20);
    expect([r.status, r.result, r.finishedAt]).toEqual(['completed', 42, 20]);
    const c = record();
    cancelRecord(c, { name: 'CancelledError', message: 'bye' }, 3);
    expect(c.status).toBe('cancelled');
    const f = record({ status: 'failed', attempt: 3, finishedAt: 9 });
    requeueFailed(f, 50, 77);
    expect([f.status, f.runAt, f.seq, f.retry.attempts, f.finishedAt]).toEqual(['queued', 50, 77, 6, undefined]);
  });

  test("recovery: queued come back as they are, a dead tab's running task is re-queued, then failed after maxStalls", () => {
    const queued = record({ id: 'q' });
    const running = record({ id: 'r', status: 'running', attempt: 1, lease: { owner: 'dead', until: 0 } });
    const alive = record({ id: 'a', status: 'running', attempt: 1, lease: { owner: 'alive', until: 0 } });
    const stalledTwice = record({ id: 's', status: 'running', attempt: 2, stalls: 1, lease: { owner: 'dead', until: 0 } });
    const done = record({ id: 'd', status: 'completed' });
    const plan = planRecovery([queued, running, alive, stalledTwice, done], 500, { maxStalls: 1, ownerAlive: (o) => o === 'alive' });
    expect(plan.resume.map((r) => r.id)).toEqual(['q', 'r']);
    expect(plan.failed.map((r) => r.id)).toEqual(['s']);
    expect(plan.changed.map((r) => r.id)).toEqual(['r', 's']);
    expect(running).toMatchObject({ status: 'queued', attempt: 1, stalls: 1 });
    expect(running.errors[0]).toMatchObject({ name: 'StalledError', code: 'E_STALLED', attempt: 1, at: 500 });
    expect(stalledTwice.status).toBe('failed');
  });
});

describe('a rate-limited attempt', () => {
  test('is not counted: same attempt number, retrying after retryAfterMs, even with attempts: 1', () => {
    const r = record({ status: 'running', attempt: 1, retry: { attempts: 1, backoff: DEFAULT_BACKOFF } });
    const out = failAttempt(r, { name: 'RateLimitedError', code: 'E_RATE_LIMITED', message: 'slow down', retryAfterMs: 150 }, 5_000);
    expect(out).toEqual({ kind: 'retry', delayMs: 150 });
    expect([r.status, r.attempt, r.runAt]).toEqual(['retrying', 0, 5_150]);
  });
});
