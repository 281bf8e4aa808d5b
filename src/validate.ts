import { DEFAULT_BACKOFF } from './backoff.js';
import { DataCloneError } from './errors.js';
import {
  type BackoffFunction,
  type BackoffPolicy,
  Priority,
  PRIORITY_NAMES,
  type PriorityLevel,
  type PriorityName,
  type RetryOptions,
  type StoredRetry,
} from './types.js';

/** Shows a received value in an error message: `-5`, `"fast"`, `NaN`, `an object`. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null)
    return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value === 'object' ? 'an object' : typeof value}`;
}

function fail(what: string, expected: string, got: unknown): never {
  throw new TypeError(`Expected ${what} to be ${expected}, got ${describe(got)}`);
}

export function checkNumber(what: string, value: unknown, min = 0, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value)))
    fail(what, `a finite ${integer ? 'integer' : 'number'} >= ${min}`, value);
  return value;
}

export function checkOptionalNumber(what: string, value: unknown, fallback: number, min = 0, integer = false): number {
  return value === undefined ? fallback : checkNumber(what, value, min, integer);
}

export function checkObject(what: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(what, 'an object', value);
  return value as Record<string, unknown>;
}

export function normalizePriority(value: unknown, what = 'priority'): PriorityLevel {
  if (typeof value === 'string' && (PRIORITY_NAMES as string[]).includes(value))
    return Priority[value as PriorityName];
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 4) return value as PriorityLevel;
  return fail(what, `one of ${PRIORITY_NAMES.map((n) => `'${n}'`).join(', ')} or an integer 0..4`, value);
}

export interface NormalizedRetry {
  stored: StoredRetry;
  /** Present only for a function backoff, which lives in memory and is not persisted. */
  fn?: BackoffFunction;
}

export function normalizeRetry(value: unknown, fallback: NormalizedRetry, what = 'retry'): NormalizedRetry {
  const retry = checkObject(what, value) as RetryOptions | undefined;
  if (!retry) return fallback;
  const attempts = checkOptionalNumber(`${what}.attempts`, retry.attempts, fallback.stored.attempts, 1, true);
  const backoff = retry.backoff;
  if (backoff === undefined) return { stored: { ...fallback.stored, attempts }, fn: fallback.fn };
  if (typeof backoff === 'function') return { stored: { attempts, backoff: 'function' }, fn: backoff };
  const policy = checkObject(`${what}.backoff`, backoff) as BackoffPolicy;
  const base = fallback.stored.backoff === 'function' ? DEFAULT_BACKOFF : fallback.stored.backoff;
  const kind = policy.kind ?? base.kind;
  if (kind !== 'fixed' && kind !== 'linear' && kind !== 'exponential')
    fail(`${what}.backoff.kind`, "'fixed', 'linear' or 'exponential'", kind);
  if (policy.jitter !== undefined && typeof policy.jitter !== 'boolean') fail(`${what}.backoff.jitter`, 'a boolean', policy.jitter);
  return {
    stored: {
      attempts,
      backoff: {
        kind,
        delayMs: checkOptionalNumber(`${what}.backoff.delayMs`, policy.delayMs, base.delayMs),
        maxMs: checkOptionalNumber(`${what}.backoff.maxMs`, policy.maxMs, base.maxMs),
        factor: checkOptionalNumber(`${what}.backoff.factor`, policy.factor, base.factor, 1),
        jitter: policy.jitter ?? base.jitter,
      },
    },
  };
}

/** Epoch ms from a Date or a number. */
export function normalizeRunAt(value: unknown, what = 'runAt'): number {
  if (value instanceof Date) {
    const t = value.getTime();
    if (Number.isNaN(t)) fail(what, 'a valid Date or epoch ms', 'an invalid Date');
    return t;
  }
  return checkNumber(what, value);
}

const PLAIN_PROTOS = new Set<unknown>([Object.prototype, null, Array.prototype]);

/**
 * Throws `DataCloneError` if `value` cannot be structured-cloned, so a bad input fails at enqueue and
 * not later in the worker. Plain data is walked directly (much cheaper than a full clone); anything
 * else is checked by `structuredClone` itself.
 */
export function assertCloneable(value: unknown, what = 'input'): void {
  try {
    walk(value, what, 0, undefined);
  } catch (error) {
    if (error instanceof DataCloneError) throw error;
    throw new DataCloneError(`${what} cannot be structured-cloned: ${(error as Error).message}`, { cause: error });
  }
}

function walk(value: unknown, what: string, depth: number, seen: Set<object> | undefined): Set<object> | undefined {
  const type = typeof value;
  if (value === null || (type !== 'object' && type !== 'function' && type !== 'symbol')) return seen;
  if (type === 'function') throw new DataCloneError(`${what} cannot be structured-cloned: it holds a function`);
  if (type === 'symbol') throw new DataCloneError(`${what} cannot be structured-cloned: it holds a symbol`);
  const obj = value as object;
  if (!PLAIN_PROTOS.has(Object.getPrototypeOf(obj))) {
    structuredClone(obj);
    return seen;
  }
  if (depth > 16) {
    // Deep or cyclic: let the platform decide, it handles cycles.
    structuredClone(obj);
    return seen;
  }
  // The root is not remembered (no Set for the common flat input): a cycle back to it costs one more visit.
  let set = seen;
  if (depth > 0) {
    set ??= new Set<object>();
    if (set.has(obj)) return set;
    set.add(obj);
  }
  if (Array.isArray(obj)) for (const item of obj) set = walk(item, what, depth + 1, set);
  else for (const key in obj) set = walk((obj as Record<string, unknown>)[key], what, depth + 1, set);
  return set;
}
