import * as publicErrors from './error-classes.js';
import type { SerializedError } from './types.js';

export * from './error-classes.js';

/** Name → class, for every public error class but the base (its constructor takes a code). */
const KNOWN: Record<string, new (message: string) => publicErrors.TasklaneError> = {};
for (const cls of Object.values(publicErrors))
  if (cls !== publicErrors.TasklaneError) KNOWN[cls.name] = cls as new (message: string) => publicErrors.TasklaneError;

/** Codes whose errors never earn a retry. */
const NON_RETRYABLE_CODES = new Set([
  'E_NON_RETRYABLE',
  'E_UNKNOWN_TASK',
  'E_DATA_CLONE',
  'E_CANCELLED',
  'E_WORKER_LOAD',
  'E_UNSUPPORTED_ENVIRONMENT',
]);

export function isRetryable(error: SerializedError): boolean {
  return !(error.code && NON_RETRYABLE_CODES.has(error.code)) && error.name !== 'NonRetryableError';
}

/**
 * Turns anything thrown into plain data, and never throws: a getter or proxy trap that throws while
 * it is read must not stop the attempt from ending. An object keeps its `name` (a non-empty string),
 * `message`, `code` and `stack`; a primitive, a function, or an object with no `name` that is not an
 * Error becomes `HandlerError` (with code `E_HANDLER` unless it has a code of its own).
 */
export function serializeError(error: unknown): SerializedError {
  try {
    return serializeThrown(error);
  } catch {
    // Every read in serializeThrown is guarded; this holds the contract if one is missed.
    return { name: 'HandlerError', code: 'E_HANDLER', message: 'handler threw a value that could not be read' };
  }
}

function serializeThrown(error: unknown): SerializedError {
  if (typeof error !== 'object' || error === null) return handlerError(`handler threw a non-Error value: ${show(error)}`);
  let isError = false;
  try {
    isError = error instanceof Error;
  } catch {
    // A proxy whose getPrototypeOf trap throws: not an Error.
  }
  const name = read(error, 'name');
  const message = read(error, 'message');
  const code = read(error, 'code');
  const stack = read(error, 'stack');
  const out: SerializedError = {
    name: typeof name.value === 'string' && name.value !== '' ? name.value : isError ? 'Error' : 'HandlerError',
    message:
      'thrown' in message
        ? `handler threw a value whose "message" could not be read (reading it threw ${show(message.thrown)})`
        : typeof message.value === 'string'
          ? message.value
          : message.value === undefined && !isError
            ? `handler threw a non-Error value: ${show(error)}`
            : show(message.value),
  };
  if (typeof code.value === 'string' || typeof code.value === 'number') out.code = String(code.value);
  else if (out.name === 'HandlerError') out.code = 'E_HANDLER';
  if (typeof stack.value === 'string') out.stack = stack.value;
  if (out.code === 'E_RATE_LIMITED') {
    const wait = read(error, 'retryAfterMs').value;
    out.retryAfterMs = typeof wait === 'number' && Number.isFinite(wait) && wait > 0 ? wait : 0;
  }
  return out;
}

function handlerError(message: string): SerializedError {
  return { name: 'HandlerError', code: 'E_HANDLER', message };
}

function read(target: object, key: string): { value: unknown } | { value?: undefined; thrown: unknown } {
  try {
    return { value: (target as Record<string, unknown>)[key] };
  } catch (thrown) {
    return { thrown };
  }
}

/** A thrown value as text, however hostile its `toString`. */
function show(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return `a value of type ${typeof value}`;
    }
  }
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
  if (data.retryAfterMs !== undefined)
    Object.defineProperty(error, 'retryAfterMs', { value: data.retryAfterMs, enumerable: true, configurable: true });
  return error;
}
