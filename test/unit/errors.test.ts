import { describe, expect, test } from 'vitest';
import {
  CancelledError,
  deserializeError,
  isRetryable,
  NonRetryableError,
  serializeError,
  TasklaneError,
  TimeoutError,
} from '../../src/errors.js';

describe('errors', () => {
  test('every tasklane error has a stable name and code', () => {
    const e = new TimeoutError('too slow');
    expect(e).toBeInstanceOf(TasklaneError);
    expect(e.name).toBe('TimeoutError');
    expect(e.code).toBe('E_TIMEOUT');
    expect(TimeoutError.name).toBe('TimeoutError');
  });

  test('round trip keeps name, message, code and stack; known names come back as their class', () => {
    const original = new CancelledError('stop');
    const back = deserializeError(serializeError(original));
    expect(back).toBeInstanceOf(CancelledError);
    expect(back.name).toBe('CancelledError');
    expect(back.code).toBe('E_CANCELLED');
    expect(back.stack).toBe(original.stack);
  });

  test('deserializing does not change the stack trace limit; an error that came without a stack gets one of its own', () => {
    const limit = (Error as { stackTraceLimit?: number }).stackTraceLimit;
    deserializeError(serializeError(new CancelledError('a')));
    expect((Error as { stackTraceLimit?: number }).stackTraceLimit).toBe(limit);
    const bare = deserializeError({ name: 'TimeoutError', message: 'late' });
    expect(bare.stack).toMatch(/TimeoutError: late\n\s+at /);
  });

  test('foreign errors keep their name and code without instanceof', () => {
    const err = Object.assign(new RangeError('bad'), { code: 'E_RANGE' });
    const back = deserializeError(serializeError(err));
    expect(back.name).toBe('RangeError');
    expect(back.code).toBe('E_RANGE');
    expect(back.message).toBe('bad');
  });

  test('non-Error throws become a clear HandlerError', () => {
    expect(serializeError('oops')).toMatchObject({
      name: 'HandlerError',
      code: 'E_HANDLER',
      message: 'handler threw a non-Error value: "oops"',
    });
    expect(serializeError(42).message).toContain('42');
    expect(serializeError(undefined).message).toContain('undefined');
  });

  test('serializing never throws, however hostile the value; what cannot be read is said so', () => {
    const boom = () => {
      throw new TypeError('no');
    };
    const getters = Object.defineProperties({}, { name: { get: boom }, message: { get: boom }, code: { get: boom }, stack: { get: boom } });
    expect(serializeError(getters)).toEqual({
      name: 'HandlerError',
      code: 'E_HANDLER',
      message: 'handler threw a value whose "message" could not be read (reading it threw TypeError: no)',
    });
    const trap = new Proxy({}, { get: boom, has: boom, getPrototypeOf: boom, ownKeys: boom });
    expect(serializeError(trap)).toMatchObject({ name: 'HandlerError', code: 'E_HANDLER' });
    const cyclic: { message: string; self?: unknown } = { message: 'loop' };
    cyclic.self = cyclic;
    expect(serializeError(cyclic)).toEqual({ name: 'HandlerError', code: 'E_HANDLER', message: 'loop' });
    expect(serializeError(Symbol('s')).message).toBe('handler threw a non-Error value: Symbol(s)');
    expect(serializeError({ toString: boom }).message).toBe('handler threw a non-Error value: [object Object]');
    expect(serializeError({ message: { toString: boom } }).message).toBe('[object Object]');
  });

  test('a non-Error object keeps its own name, code and stack; without a name it is a HandlerError', () => {
    class Fault {
      name = 'Fault';
      code = 'E_FAULT';
      stack = 'Fault: x\n    at here';
      constructor(readonly message: string) {}
    }
    expect(serializeError(new Fault('x'))).toEqual({ name: 'Fault', code: 'E_FAULT', message: 'x', stack: 'Fault: x\n    at here' });
    expect(serializeError({ message: 'bare' })).toEqual({ name: 'HandlerError', code: 'E_HANDLER', message: 'bare' });
    expect(serializeError({ message: 'coded', code: 7 })).toEqual({ name: 'HandlerError', code: '7', message: 'coded' });
  });

  test('retryability is decided by name and code', () => {
    expect(isRetryable(serializeError(new Error('x')))).toBe(true);
    expect(isRetryable(serializeError(new NonRetryableError('x')))).toBe(false);
    expect(isRetryable({ name: 'NonRetryableError', message: 'from elsewhere' })).toBe(false);
    expect(isRetryable({ name: 'Error', message: 'x', code: 'E_UNKNOWN_TASK' })).toBe(false);
  });
});

describe('RateLimitedError across the boundary', () => {
  test('keeps retryAfterMs, name and code through serialize and deserialize', async () => {
    const { RateLimitedError } = await import('../../src/errors.js');
    const data = serializeError(new RateLimitedError(150));
    expect(data).toMatchObject({ name: 'RateLimitedError', code: 'E_RATE_LIMITED', retryAfterMs: 150 });
    const back = deserializeError(structuredClone(data)) as Error & { code?: string; retryAfterMs?: number };
    expect(back).toBeInstanceOf(RateLimitedError);
    expect([back.name, back.code, back.retryAfterMs, back.message]).toEqual([
      'RateLimitedError',
      'E_RATE_LIMITED',
      150,
      'rate limited: retry after 150 ms',
    ]);
    expect(serializeError(new RateLimitedError(-5)).retryAfterMs).toBe(0);
    expect(serializeError(new Error('x')).retryAfterMs).toBeUndefined();
  });
});
