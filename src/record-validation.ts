import { DEFAULT_BACKOFF } from './backoff.js';
import { CorruptRecordError, StorageError, serializeError } from './errors.js';
import type { SerializedError, TaskRecord } from './types.js';

const LIVE = new Set(['queued', 'retrying', 'running', 'waiting']);
const CONDITIONS = new Set(['success', 'failure', 'completion']);
const KINDS = new Set(['fixed', 'linear', 'exponential']);

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;

/**
 * What is wrong with a live record read back from storage, as short phrases (`status is "zombie"`);
 * empty when it can go back into the queue. Recovery trusts nothing it reads: the record may come
 * from an older or newer schema, a hand edit, or a partial write by a buggy version.
 */
export function recordProblems(raw: unknown): string[] {
  if (!isObject(raw)) return [`record is ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}, not an object`];
  const problems: string[] = [];
  const bad = (field: string, expected: string) => {
    const v = raw[field];
    const shown = typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'missing' : isObject(v) ? 'an object' : String(v);
    problems.push(`${field} is ${shown}, expected ${expected}`);
  };
  if (typeof raw.id !== 'string' || raw.id === '') bad('id', 'a non-empty string');
  if (typeof raw.name !== 'string' || raw.name === '') bad('name', 'a non-empty string');
  if (!LIVE.has(raw.status as string)) bad('status', "'queued', 'retrying', 'running' or 'waiting'");
  if (!isCount(raw.priority) || (raw.priority as number) > 4) bad('priority', 'an integer 0..4');
  if (!isNum(raw.runAt)) bad('runAt', 'a finite number');
  if (!isNum(raw.seq)) bad('seq', 'a finite number');
  if (!isCount(raw.attempt)) bad('attempt', 'an integer >= 0');
  if (!isNum(raw.timeoutMs) || raw.timeoutMs < 0) bad('timeoutMs', 'a finite number >= 0');
  if (!isNum(raw.createdAt)) bad('createdAt', 'a finite number');
  if (!Array.isArray(raw.errors)) bad('errors', 'an array');
  if (raw.stalls !== undefined && !isCount(raw.stalls)) bad('stalls', 'an integer >= 0');
  if (raw.key !== undefined && typeof raw.key !== 'string') bad('key', 'a string');
  if (raw.keyTtlMs !== undefined && (!isNum(raw.keyTtlMs) || raw.keyTtlMs < 0)) bad('keyTtlMs', 'a finite number >= 0');
  if (raw.requires !== undefined && raw.requires !== 'online') bad('requires', "'online'");
  if (raw.group !== undefined && typeof raw.group !== 'string') bad('group', 'a string');
  if (raw.exclusive !== undefined && typeof raw.exclusive !== 'string') bad('exclusive', 'a string');
  const deps = raw.dependsOn;
  if (
    deps !== undefined &&
    !(Array.isArray(deps) && deps.every((d) => isObject(d) && typeof d.id === 'string' && CONDITIONS.has(d.on as string)))
  )
    bad('dependsOn', 'an array of { id, on }');
  else if (raw.status === 'waiting' && !(Array.isArray(deps) && deps.length > 0)) bad('dependsOn', 'the dependencies of a waiting task');
  if (raw.dependencyOutcomes !== undefined && !isObject(raw.dependencyOutcomes)) bad('dependencyOutcomes', 'an object');
  if (raw.lease !== undefined && !(isObject(raw.lease) && typeof raw.lease.owner === 'string' && isNum(raw.lease.until)))
    bad('lease', '{ owner, until }');
  const retry = raw.retry;
  const backoff = isObject(retry) ? retry.backoff : undefined;
  const backoffOk =
    backoff === 'function' ||
    (isObject(backoff) &&
      KINDS.has(backoff.kind as string) &&
      isNum(backoff.delayMs) &&
      isNum(backoff.maxMs) &&
      isNum(backoff.factor) &&
      typeof backoff.jitter === 'boolean');
  if (!isObject(retry) || !isCount(retry.attempts, 1) || !backoffOk) bad('retry', '{ attempts >= 1, backoff }');
  return problems;
}

/**
 * The record that replaces a corrupt one: `failed`, with a `CorruptRecordError` saying what was
 * wrong, keeping whatever of the original is still readable (its id, name, input, error history)
 * so it can be inspected in the dead-letter set. `id` is the record's primary key as stored.
 */
export function corruptToFailed(raw: unknown, id: string, problems: readonly string[], now: number): TaskRecord {
  const r = isObject(raw) ? raw : {};
  const name = typeof r.name === 'string' && r.name !== '' ? r.name : '(corrupt)';
  const priority = isCount(r.priority) && r.priority <= 4 ? (r.priority as TaskRecord['priority']) : 2;
  const history = Array.isArray(r.errors)
    ? (r.errors.filter((e) => isObject(e) && typeof e.message === 'string') as SerializedError[])
    : [];
  const error = serializeError(
    new CorruptRecordError(`stored record ${id} (task "${name}") failed validation on load: ${problems.join('; ')}`),
  );
  const attempt = isCount(r.attempt) ? r.attempt : 0;
  return {
    id,
    name,
    input: isObject(raw) ? raw.input : raw,
    priority,
    runAt: isNum(r.runAt) ? r.runAt : now,
    seq: isNum(r.seq) ? r.seq : 0,
    status: 'failed',
    attempt,
    retry: { attempts: Math.max(1, attempt), backoff: DEFAULT_BACKOFF },
    timeoutMs: isNum(r.timeoutMs) && r.timeoutMs >= 0 ? r.timeoutMs : 0,
    errors: [...history, { ...error, attempt, at: now }],
    createdAt: isNum(r.createdAt) ? r.createdAt : now,
    finishedAt: now,
    stalls: isCount(r.stalls) ? r.stalls : 0,
  };
}

/**
 * The record of a queued task whose stored record is gone (its database was deleted or cleared
 * while the task waited, and this page did not hold it): `failed` with a `StorageError`, from what
 * the queue still knows of it. Its input is gone with it.
 */
export function lostToFailed(
  task: { id: string; name: string; priority: TaskRecord['priority']; readyAt: number; seq: number },
  now: number,
): TaskRecord {
  const error = serializeError(
    new StorageError(
      `the stored record of task "${task.name}" (${task.id}) is gone (its database was deleted or cleared), so it cannot run`,
    ),
  );
  return {
    id: task.id,
    name: task.name,
    input: undefined,
    priority: task.priority,
    runAt: task.readyAt,
    seq: task.seq,
    status: 'failed',
    attempt: 0,
    retry: { attempts: 1, backoff: DEFAULT_BACKOFF },
    timeoutMs: 0,
    errors: [{ ...error, attempt: 0, at: now }],
    createdAt: now,
    finishedAt: now,
    stalls: 0,
  };
}
