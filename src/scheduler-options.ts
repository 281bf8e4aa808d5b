/** `createScheduler`'s options, validated before anything is opened (in every tab: one that does not lead opens nothing). */
import { DEFAULT_BACKOFF } from './backoff.js';
import { type GroupLimits, normalizeLimits } from './engine/limits.js';
import type { NormalizedDefaults } from './engine/task-settings.js';
import { type NormalizedPoolOptions, normalizePoolOptions } from './pool.js';
import type { SchedulerOptions } from './scheduler-api.js';
import type { ListQuery } from './store.js';
import type { RetentionOptions, TaskDefaults } from './types.js';
import {
  checkKeys,
  checkNumber,
  checkObject,
  checkOptionalNumber,
  describe,
  normalizePriority,
  normalizeRetry,
  optionKeys,
} from './validate.js';

const SCHEDULER_KEYS = optionKeys<SchedulerOptions>({
  name: true,
  worker: true,
  store: true,
  durability: true,
  persist: true,
  pool: true,
  defaults: true,
  retention: true,
  maxQueued: true,
  maxStalls: true,
  shared: true,
  leaderTimeoutMs: true,
  limits: true,
  agingMs: true,
  clock: true,
  random: true,
});
const DEFAULTS_KEYS = optionKeys<TaskDefaults>({ timeoutMs: true, retry: true, priority: true });
const RETENTION_KEYS = optionKeys<RetentionOptions>({ completed: true, failed: true });
export const LIST_KEYS = optionKeys<ListQuery>({ status: true, name: true, limit: true });
export const CLOSE_KEYS = optionKeys<{ drain?: boolean }>({ drain: true });

/** `createScheduler`'s options, validated before anything is opened. */
export interface NormalizedOptions {
  defaults: NormalizedDefaults;
  retention: { completed: number; failed: number };
  pool: NormalizedPoolOptions;
  maxQueued: number;
  maxStalls: number;
  shared: boolean;
  leaderTimeoutMs: number;
  limits: Map<string, GroupLimits> | undefined;
  /** Aging step in ms, or undefined: no aging. */
  agingMs: number | undefined;
}

export function normalizeOptions(options: SchedulerOptions): NormalizedOptions {
  checkKeys('', options, SCHEDULER_KEYS);
  // Checked here as well as where the store opens: a tab that does not lead opens none.
  const durability = options.durability ?? 'relaxed';
  if (durability !== 'relaxed' && durability !== 'strict')
    throw new TypeError(`Expected options.durability to be 'relaxed' or 'strict', got ${describe(durability)}`);
  if (options.persist !== undefined && typeof options.persist !== 'boolean')
    throw new TypeError(`Expected options.persist to be a boolean, got ${describe(options.persist)}`);
  const d = (checkObject('defaults', options.defaults) ?? {}) as TaskDefaults;
  checkKeys('defaults', d, DEFAULTS_KEYS);
  const r = (checkObject('retention', options.retention) ?? {}) as RetentionOptions;
  checkKeys('retention', r, RETENTION_KEYS);
  return {
    defaults: {
      timeoutMs: checkOptionalNumber('defaults.timeoutMs', d.timeoutMs, 30_000),
      retry: normalizeRetry(d.retry, { stored: { attempts: 3, backoff: DEFAULT_BACKOFF } }, 'defaults.retry'),
      priority: d.priority === undefined ? 2 : normalizePriority(d.priority, 'defaults.priority'),
    },
    retention: {
      completed: checkOptionalNumber('retention.completed', r.completed, 1_000, 0, true),
      failed: checkOptionalNumber('retention.failed', r.failed, 10_000, 0, true),
    },
    pool: normalizePoolOptions(options.pool),
    maxQueued: options.maxQueued === undefined ? Number.POSITIVE_INFINITY : checkNumber('maxQueued', options.maxQueued, 1, true),
    maxStalls: checkOptionalNumber('maxStalls', options.maxStalls, 1, 0, true),
    shared: normalizeShared(options),
    leaderTimeoutMs: checkOptionalNumber('leaderTimeoutMs', options.leaderTimeoutMs, 5_000, 1),
    limits: normalizeLimits(options.limits),
    agingMs: normalizeAgingMs(options.agingMs),
  };
}

/** `agingMs`: undefined, or a finite number > 0. */
function normalizeAgingMs(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new TypeError(`Expected agingMs to be a finite number > 0, got ${describe(value)}`);
  return value;
}

/** Whether the queue is shared across tabs: only a store every tab opens alike (IndexedDB, by name) can be. */
function normalizeShared(options: SchedulerOptions): boolean {
  const indexedDb = options.store === undefined || options.store === 'indexeddb';
  if (options.shared === undefined) return indexedDb;
  if (typeof options.shared !== 'boolean') throw new TypeError(`Expected shared to be a boolean, got ${describe(options.shared)}`);
  if (options.shared && !indexedDb)
    throw new TypeError(
      `Expected store to be 'indexeddb' for shared: true, got ${describe(options.store)} (only IndexedDB is seen by every tab)`,
    );
  return options.shared;
}
