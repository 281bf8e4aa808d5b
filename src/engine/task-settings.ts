import type { IndexEntry } from '../index-entry.js';
import { NO_ERRORS } from '../transition.js';
import type { Dependency, EnqueueOptions, PriorityLevel, TaskRecord } from '../types.js';
import {
  checkKeys,
  checkNumber,
  checkObject,
  checkOptionalNumber,
  describe,
  type NormalizedRetry,
  normalizePriority,
  normalizeRetry,
  normalizeRunAt,
  optionKeys,
} from '../validate.js';
import { normalizeDependsOn } from './dependency-graph.js';

/** The scheduler's `defaults`, validated. */
export interface NormalizedDefaults {
  timeoutMs: number;
  retry: NormalizedRetry;
  priority: IndexEntry['priority'];
}

/** An options object, validated: what every task given that object shares. */
export interface TaskSettings extends GateTags {
  priority: PriorityLevel;
  timeoutMs: number;
  runAt: number;
  retry: NormalizedRetry;
  /** As given: each entry an id, or (in `enqueueMany`) a ref of the batch; undefined when none. */
  dependsOn?: readonly Dependency[];
  /** How long a finished task's key still dedupes (only with `key`). */
  keyTtlMs?: number;
  /** What a call that finds a task with its key does (only with `key`). */
  onDuplicate?: 'return' | 'replace';
}

/** What a task carries for the gates that may hold it back (online, limits groups, Web Locks); kept on its record. */
export interface GateTags {
  requires?: 'online';
  group?: string;
  exclusive?: string;
}

export const hasTags = (t: GateTags): boolean => t.requires !== undefined || t.group !== undefined || t.exclusive !== undefined;

/** An option's name in messages: `priority` for `enqueue`'s own options, `items[3].options.priority` in a batch. */
export function fieldName(at: string, name: string): string {
  return at ? `${at}.${name}` : name;
}

export function checkTaskName(name: unknown, what: string): void {
  if (typeof name !== 'string' || name === '')
    throw new TypeError(`Expected ${what ? `${what} to be ` : ''}a task name (non-empty string), got ${describe(name)}`);
}

const ENQUEUE_KEYS = optionKeys<EnqueueOptions>({
  priority: true,
  delayMs: true,
  runAt: true,
  timeoutMs: true,
  retry: true,
  key: true,
  keyTtlMs: true,
  onDuplicate: true,
  dependsOn: true,
  requires: true,
  group: true,
  exclusive: true,
  signal: true,
});

/**
 * Validates an options object (`at` names it in messages: `''` for `enqueue`'s own). Pure: the
 * result depends only on `options` and `now`, so one result serves every task given the same object.
 */
export function settingsOf(d: NormalizedDefaults, options: unknown, now: number, at: string): TaskSettings {
  const o = checkObject(at || 'options', options) as EnqueueOptions | undefined;
  if (!o) return { priority: d.priority, timeoutMs: d.timeoutMs, runAt: now, retry: d.retry, dependsOn: undefined };
  checkKeys(at, o, ENQUEUE_KEYS);
  const priority = o.priority === undefined ? d.priority : normalizePriority(o.priority, fieldName(at, 'priority'));
  const timeoutMs = checkOptionalNumber(fieldName(at, 'timeoutMs'), o.timeoutMs, d.timeoutMs);
  if (o.delayMs !== undefined && o.runAt !== undefined)
    throw new TypeError(`Expected either ${fieldName(at, 'delayMs')} or ${fieldName(at, 'runAt')}, got both`);
  const runAt =
    o.runAt !== undefined
      ? normalizeRunAt(o.runAt, fieldName(at, 'runAt'))
      : now + checkOptionalNumber(fieldName(at, 'delayMs'), o.delayMs, 0);
  const retry = o.retry === undefined ? d.retry : normalizeRetry(o.retry, d.retry, fieldName(at, 'retry'));
  const dependsOn = o.dependsOn === undefined ? undefined : normalizeDependsOn(o.dependsOn, fieldName(at, 'dependsOn'));
  const settings: TaskSettings = { priority, timeoutMs, runAt, retry, dependsOn };
  if (o.keyTtlMs !== undefined || o.onDuplicate !== undefined) idempotencyOf(o, at, settings);
  if (o.requires !== undefined) {
    if (o.requires !== 'online') throw new TypeError(`Expected ${fieldName(at, 'requires')} to be 'online', got ${describe(o.requires)}`);
    settings.requires = 'online';
  }
  if (o.group !== undefined) settings.group = checkTag(o.group, fieldName(at, 'group'));
  if (o.exclusive !== undefined) {
    const lock = checkTag(o.exclusive, fieldName(at, 'exclusive'));
    // Web Locks reserve names starting with '-'; tasklane's own locks start with 'tasklane:'.
    if (lock.startsWith('-') || lock.startsWith('tasklane:'))
      throw new TypeError(
        `Expected ${fieldName(at, 'exclusive')} to be a lock name not starting with '-' or 'tasklane:', got ${describe(lock)}`,
      );
    if (typeof navigator === 'undefined' || !navigator.locks)
      throw new TypeError(`Expected Web Locks (navigator.locks) for ${fieldName(at, 'exclusive')}: this context has none`);
    settings.exclusive = lock;
  }
  return settings;
}

/** `keyTtlMs` and `onDuplicate` into `settings`: both say what a `key` does, so neither comes without one. */
function idempotencyOf(o: EnqueueOptions, at: string, settings: TaskSettings): void {
  for (const option of ['keyTtlMs', 'onDuplicate'] as const)
    if (o[option] !== undefined && o.key === undefined)
      throw new TypeError(`Expected ${fieldName(at, 'key')} with ${fieldName(at, option)} (it says what a key does), got no key`);
  if (o.keyTtlMs !== undefined) settings.keyTtlMs = checkNumber(fieldName(at, 'keyTtlMs'), o.keyTtlMs, 0);
  if (o.onDuplicate !== undefined) {
    if (o.onDuplicate !== 'return' && o.onDuplicate !== 'replace')
      throw new TypeError(`Expected ${fieldName(at, 'onDuplicate')} to be 'return' or 'replace', got ${describe(o.onDuplicate)}`);
    settings.onDuplicate = o.onDuplicate;
  }
}

/** A group or lock name: a non-empty string of at most 200 characters. */
function checkTag(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 200)
    throw new TypeError(`Expected ${what} to be a non-empty string of at most 200 characters, got ${describe(value)}`);
  return value;
}

/** A new queued record, from validated parts (no `settings`: the defaults, ready now). */
export function newRecord(
  d: NormalizedDefaults,
  id: string,
  seq: number,
  name: string,
  input: unknown,
  settings: TaskSettings | undefined,
  now: number,
): TaskRecord {
  const retry = settings ? settings.retry : d.retry;
  const record: TaskRecord = {
    id,
    name,
    input,
    priority: settings ? settings.priority : d.priority,
    runAt: settings ? settings.runAt : now,
    seq,
    status: 'queued',
    attempt: 0,
    retry: retry.stored,
    timeoutMs: settings ? settings.timeoutMs : d.timeoutMs,
    errors: NO_ERRORS,
    createdAt: now,
    stalls: 0,
  };
  if (settings) {
    if (settings.requires) record.requires = settings.requires;
    if (settings.group !== undefined) record.group = settings.group;
    if (settings.exclusive !== undefined) record.exclusive = settings.exclusive;
    if (settings.keyTtlMs !== undefined) record.keyTtlMs = settings.keyTtlMs;
  }
  return record;
}
