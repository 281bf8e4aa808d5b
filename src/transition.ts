import { backoffDelay } from './backoff.js';
import { isRetryable } from './errors.js';
import type { BackoffFunction, SerializedError, TaskRecord } from './types.js';

/**
 * The state machine of a record. Each function moves one record from one status to the next and
 * says what happened; none touches storage, workers or events (the scheduler does that, in that
 * order: persist, then act, then tell).
 *
 *   queued ──start──▶ running ──complete──▶ completed
 *     ▲                 │ fail ──▶ retrying ──(runAt)──▶ running …
 *     │                 │ fail (no attempts left / non-retryable) ──▶ failed ──retry()──▶ queued
 *     └──unstart────────┘ (sent to a worker that died before starting it)
 *   any live status ──cancel──▶ cancelled
 */

/** The error history of a task that has none yet: shared, frozen; a history is replaced, never pushed to. */
export const NO_ERRORS: readonly SerializedError[] = Object.freeze([]);

/** Appends `error`, stamped with the current attempt and `now`, to the record's history; returns the entry. */
export function noteError(record: TaskRecord, error: SerializedError, now: number): SerializedError {
  const entry: SerializedError = { ...error, attempt: record.attempt, at: now };
  record.errors = record.errors.length === 0 ? [entry] : [...record.errors, entry];
  return entry;
}

export function startAttempt(record: TaskRecord, now: number, owner: string, leaseMs: number): void {
  record.status = 'running';
  record.attempt++;
  record.startedAt = now;
  record.progress = 0;
  record.lease = { owner, until: now + leaseMs };
}

/** Undoes `startAttempt` for a call that never began running (its worker died first). */
export function unstartAttempt(record: TaskRecord, priorStatus: 'queued' | 'retrying'): void {
  record.status = priorStatus;
  record.attempt = Math.max(0, record.attempt - 1);
  record.lease = undefined;
}

export function completeAttempt(record: TaskRecord, value: unknown, now: number): void {
  record.status = 'completed';
  record.result = value;
  record.finishedAt = now;
  record.progress = 1;
  record.lease = undefined;
}

export type FailureOutcome = { kind: 'retry'; delayMs: number } | { kind: 'fail' };

/**
 * Records `error` against the current attempt, then either schedules a retry (status `retrying`,
 * `runAt` moved by the backoff) or fails the task for good. `uncounted`: the attempt failed for a
 * reason outside the task (an online-only task while the browser is offline): it is not counted and
 * the task goes back in line at once, for its gate to hold.
 */
export function failAttempt(
  record: TaskRecord,
  error: SerializedError,
  now: number,
  backoffFn?: BackoffFunction,
  random: () => number = Math.random,
  uncounted = false,
): FailureOutcome {
  const entry = noteError(record, error, now);
  record.lease = undefined;
  if (uncounted) {
    record.attempt = Math.max(0, record.attempt - 1);
    record.status = 'retrying';
    record.runAt = now;
    return { kind: 'retry', delayMs: 0 };
  }
  if (error.code === 'E_RATE_LIMITED' && error.retryAfterMs !== undefined) {
    // A server's limit, not a failure: the attempt is not counted; the task waits out the limit.
    record.attempt = Math.max(0, record.attempt - 1);
    record.status = 'retrying';
    record.runAt = now + error.retryAfterMs;
    return { kind: 'retry', delayMs: error.retryAfterMs };
  }
  if (record.attempt < record.retry.attempts && isRetryable(error)) {
    const policy = record.retry.backoff === 'function' ? backoffFn : record.retry.backoff;
    const delayMs = policy ? backoffDelay(policy, record.attempt, entry, random) : 0;
    record.status = 'retrying';
    record.runAt = now + delayMs;
    return { kind: 'retry', delayMs };
  }
  record.status = 'failed';
  record.finishedAt = now;
  return { kind: 'fail' };
}

export function cancelRecord(record: TaskRecord, error: SerializedError, now: number): void {
  record.status = 'cancelled';
  noteError(record, error, now);
  record.finishedAt = now;
  record.lease = undefined;
}

/** Puts a failed (dead-letter) task back in the queue with a fresh set of attempts. */
export function requeueFailed(record: TaskRecord, now: number, seq: number): void {
  record.status = 'queued';
  record.runAt = now;
  record.seq = seq;
  record.retry = { ...record.retry, attempts: record.attempt + record.retry.attempts };
  record.finishedAt = undefined;
  record.result = undefined;
}
