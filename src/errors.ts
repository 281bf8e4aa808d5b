import * as publicErrors from './error-classes.js';
import type { SerializedError } from './types.js';

export * from './error-classes.js';

/** Name → class, for every public error class but the base (its constructor takes a code). */
const KNOWN: Record<string, new (message: string) => publicErrors.TasklaneError> = {};
for (const cls of Object.values(publicErrors)) if (cls !== publicErrors.TasklaneError) KNOWN[cls.name] = cls;

/** Codes whose errors never earn a retry. */
const NON_RETRYABLE_CODES = new Set(['E_NON_RETRYABLE', 'E_UNKNOWN_TASK', 'E_DATA_CLONE', 'E_CANCELLED', 'E_WORKER_LOAD']);

export function isRetryable(error: SerializedError): boolean {
  return !(error.code && NON_RETRYABLE_CODES.has(error.code)) && error.name !== 'NonRetryableError';
}

/** Turns anything thrown into plain data that keeps `name`, `message`, `code` and `stack`. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const e = error as { name?: unknown; message?: unknown; code?: unknown; stack?: unknown };
    const out: SerializedError = {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: typeof e.message === 'string' ? e.message : String(e.message),
    };
    if (typeof e.code === 'string' || typeof e.code === 'number') out.code = String(e.code);
    if (typeof e.stack === 'string') out.stack = e.stack;
    return out;
  }
  let shown: string;
  try {
    shown = typeof error === 'string' ? JSON.stringify(error) : String(error);
  } catch {
    shown = Object.prototype.toString.call(error);
  }
  return { name: 'HandlerError', code: 'E_HANDLER', message: `handler threw a non-Error value: ${shown}` };
}

/**
 * Rebuilds an Error from its serialized form. Known tasklane names come back as their class (so
 * `instanceof` works on this side too, as a convenience); anything else is a plain Error whose
 * `name`, `code` and `stack` are the originals.
 */
export function deserializeError(data: SerializedError): Error & { code?: string } {
  const Known = KNOWN[data.name];
  // The original stack replaces ours: capturing one here would cost microseconds per error for nothing.
  const V8Error = Error as ErrorConstructor & { stackTraceLimit?: number };
  const limit = V8Error.stackTraceLimit;
  const skipStack = data.stack !== undefined && data.stack !== '' && typeof limit === 'number';
  if (skipStack) V8Error.stackTraceLimit = 0;
  let error: Error & { code?: string };
  try {
    error = Known ? new Known(data.message) : new Error(data.message);
  } finally {
    if (skipStack) V8Error.stackTraceLimit = limit;
  }
  if (!Known) error.name = data.name;
  if (data.code !== undefined) Object.defineProperty(error, 'code', { value: data.code, enumerable: true, configurable: true });
  if (data.stack) error.stack = data.stack;
  return error;
}
