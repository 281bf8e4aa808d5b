import { DEFAULT_BACKOFF } from './backoff.js';
import { DataCloneError } from './errors.js';
import {
  type BackoffFunction,
  type BackoffPolicy,
  PRIORITY_NAMES,
  Priority,
  type PriorityLevel,
  type PriorityName,
  type RetryOptions,
  type StoredRetry,
} from './types.js';

/** Shows a received value in an error message: `-5`, `"fast"`, `NaN`, `an object`. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null) return String(value);
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

/**
 * An options object, as a copy of its own enumerable properties: a getter or proxy trap that
 * throws does so here, once, as a `TypeError` naming the option object, and never later in the
 * middle of the call (a proxy whose `get` throws for keys it does not own copies as `{}`).
 */
export function checkObject(what: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(what, 'an object', value);
  try {
    return { ...(value as Record<string, unknown>) };
  } catch (error) {
    throw new TypeError(`Expected ${what} to be an object whose properties can be read, got one that threw: ${readMessage(error)}`, {
      cause: error,
    });
  }
}

function readMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'an unreadable value';
  }
}

export function normalizePriority(value: unknown, what = 'priority'): PriorityLevel {
  if (typeof value === 'string' && (PRIORITY_NAMES as string[]).includes(value)) return Priority[value as PriorityName];
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 4) return value as PriorityLevel;
  return fail(what, `one of ${PRIORITY_NAMES.map((n) => `'${n}'`).join(', ')} or an integer 0..4`, value);
}

export interface NormalizedRetry {
  stored: StoredRetry;
  /** Present only for a function backoff, which lives in memory and is not persisted. */
  fn?: BackoffFunction;
}

const RETRY_KEYS = optionKeys<RetryOptions>({ attempts: true, backoff: true });
const BACKOFF_KEYS = optionKeys<BackoffPolicy>({ kind: true, delayMs: true, maxMs: true, factor: true, jitter: true });

export function normalizeRetry(value: unknown, fallback: NormalizedRetry, what = 'retry'): NormalizedRetry {
  const retry = checkObject(what, value) as RetryOptions | undefined;
  if (!retry) return fallback;
  checkKeys(what, retry, RETRY_KEYS);
  const attempts = checkOptionalNumber(`${what}.attempts`, retry.attempts, fallback.stored.attempts, 1, true);
  const backoff = retry.backoff;
  if (backoff === undefined) return { stored: { ...fallback.stored, attempts }, fn: fallback.fn };
  if (typeof backoff === 'function') return { stored: { attempts, backoff: 'function' }, fn: backoff };
  const policy = checkObject(`${what}.backoff`, backoff) as BackoffPolicy;
  checkKeys(`${what}.backoff`, policy, BACKOFF_KEYS);
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

/**
 * The known keys of an options type `T`, as a set. Takes a literal listing every key of `T`
 * (a key missing from it, or one `T` lacks, is a compile error), so a new option cannot be
 * forgotten here and then refused as unknown.
 */
export function optionKeys<T>(keys: { readonly [K in keyof Required<T>]: true }): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/** Edit distance with adjacent transpositions (`timoutMs` → `timeoutMs` is 1, `lmit` → `limit` 1). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        ((rows[i - 1] as number[])[j] as number) + 1,
        (row[j - 1] as number) + 1,
        ((rows[i - 1] as number[])[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** The known key `key` looks like a typo of: case aside, within 1 edit (2 for keys of 5 or more characters). */
export function nearestKey(key: string, known: Iterable<string>): string | undefined {
  const lower = key.toLowerCase();
  const limit = key.length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The TypeError for an unknown key of an options object (`at` names the object: `''` at the top,
 * `pool`, `items[3].options`): a feature not built yet says so, a typo names the key it looks like.
 */
export function unknownOption(
  at: string,
  key: string,
  known: ReadonlySet<string>,
  unsupported?: Readonly<Record<string, string>>,
): TypeError {
  const path = (k: string) => (at ? `${at}.${k}` : k);
  const later = unsupported && Object.hasOwn(unsupported, key) ? unsupported[key] : undefined;
  if (later) return new TypeError(`Expected no option "${path(key)}": ${later}`);
  const near = nearestKey(key, known);
  return new TypeError(`Expected no option "${path(key)}" (${near ? `did you mean "${path(near)}"?` : `known: ${[...known].join(', ')}`})`);
}

/**
 * Throws `unknownOption` for the first own enumerable key of `o` that is not in `known`. No
 * allocation when every key is known (the common case, on paths taken per task).
 */
export function checkKeys(at: string, o: object, known: ReadonlySet<string>, unsupported?: Readonly<Record<string, string>>): void {
  for (const key in o) if (!known.has(key) && Object.hasOwn(o, key)) throw unknownOption(at, key, known, unsupported);
}
