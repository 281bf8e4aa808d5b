import { describe, expect, test } from 'vitest';
import { DEFAULT_BACKOFF } from '../../src/backoff.js';
import {
  assertCloneable,
  checkKeys,
  checkNumber,
  checkObject,
  nearestKey,
  normalizePriority,
  normalizeRetry,
  normalizeRunAt,
  optionKeys,
} from '../../src/validate.js';

const fallback = { stored: { attempts: 3, backoff: DEFAULT_BACKOFF } };

describe('validate', () => {
  test('unknown keys: a typo names the key it looks like, a feature not built says so, inherited keys are not looked at', () => {
    const known = optionKeys<{ timeoutMs?: number; limit?: number; max?: number; min?: number }>({
      timeoutMs: true,
      limit: true,
      max: true,
      min: true,
    });
    expect(nearestKey('timoutMs', known)).toBe('timeoutMs');
    expect(nearestKey('TIMEOUTMS', known)).toBe('timeoutMs');
    expect(nearestKey('lmit', known)).toBe('limit');
    expect(nearestKey('maxx', known)).toBe('max');
    expect(nearestKey('mid', known)).toBe('min');
    expect(nearestKey('colour', known)).toBeUndefined();
    expect(() => checkKeys('', { timoutMs: 1 }, known)).toThrow(new TypeError('Expected no option "timoutMs" (did you mean "timeoutMs"?)'));
    expect(() => checkKeys('pool', { maxx: 1 }, known)).toThrow(new TypeError('Expected no option "pool.maxx" (did you mean "pool.max"?)'));
    expect(() => checkKeys('', { colour: 1 }, known)).toThrow(
      new TypeError('Expected no option "colour" (known: timeoutMs, limit, max, min)'),
    );
    expect(() => checkKeys('', { group: 'x' }, known, { group: 'groups are not supported yet' })).toThrow(
      new TypeError('Expected no option "group": groups are not supported yet'),
    );
    expect(() => checkKeys('', Object.create({ colour: 1 }), known)).not.toThrow();
    expect(() => checkKeys('', { max: 1, [Symbol('x')]: 1 }, known)).not.toThrow();
  });

  test('numbers say what was expected and what came', () => {
    expect(() => checkNumber('timeoutMs', -5)).toThrow(new TypeError('Expected timeoutMs to be a finite number >= 0, got -5'));
    expect(() => checkNumber('timeoutMs', Number.NaN)).toThrow('got NaN');
    expect(() => checkNumber('timeoutMs', '10')).toThrow('got "10"');
    expect(() => checkNumber('attempts', 1.5, 1, true)).toThrow('a finite integer >= 1, got 1.5');
  });

  test('priorities: names and 0..4 only', () => {
    expect(normalizePriority('critical')).toBe(0);
    expect(normalizePriority('background')).toBe(4);
    expect(normalizePriority(3)).toBe(3);
    expect(() => normalizePriority('urgent')).toThrow(TypeError);
    expect(() => normalizePriority(5)).toThrow(/integer 0\.\.4, got 5/);
    expect(() => normalizePriority(1.5)).toThrow(TypeError);
  });

  test('retry options merge over the defaults', () => {
    expect(normalizeRetry({ attempts: 5 }, fallback).stored).toEqual({ attempts: 5, backoff: DEFAULT_BACKOFF });
    expect(normalizeRetry({ backoff: { kind: 'fixed', delayMs: 10 } }, fallback).stored.backoff).toMatchObject({
      kind: 'fixed',
      delayMs: 10,
      maxMs: 60_000,
    });
    const fn = () => 5;
    expect(normalizeRetry({ backoff: fn }, fallback)).toEqual({ stored: { attempts: 3, backoff: 'function' }, fn });
    expect(() => normalizeRetry({ attempts: 0 }, fallback)).toThrow('Expected retry.attempts to be a finite integer >= 1, got 0');
    expect(() => normalizeRetry({ backoff: { kind: 'random' } }, fallback)).toThrow(/retry.backoff.kind/);
    expect(() => normalizeRetry({ backoff: { delayMs: -1 } }, fallback)).toThrow(/retry.backoff.delayMs/);
    expect(() => normalizeRetry('often', fallback)).toThrow('Expected retry to be an object, got "often"');
  });

  test('runAt takes a Date or epoch ms', () => {
    expect(normalizeRunAt(new Date(5_000))).toBe(5_000);
    expect(normalizeRunAt(7)).toBe(7);
    expect(() => normalizeRunAt(new Date('nope'))).toThrow(TypeError);
    expect(() => normalizeRunAt('tomorrow')).toThrow(TypeError);
  });

  test('cloneability is checked before anything is stored', () => {
    expect(() => assertCloneable({ a: [1, 'x', null, { b: new Date() }], m: new Map([[1, 2]]) })).not.toThrow();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => assertCloneable(cyclic)).not.toThrow();
    for (const bad of [() => 1, { f: () => 1 }, [Symbol('s')], { deep: { deeper: { fn: Math.max } } }]) {
      expect(() => assertCloneable(bad)).toThrow(expect.objectContaining({ name: 'DataCloneError', code: 'E_DATA_CLONE' }));
    }
    const shared = { fn: () => 1 };
    const cycleThroughChild: Record<string, unknown> = { child: { shared } };
    (cycleThroughChild.child as Record<string, unknown>).back = cycleThroughChild;
    const message = 'items[3].input cannot be structured-cloned: it holds a function';
    expect(() => assertCloneable(cycleThroughChild, 'items[3].input')).toThrow(message);
  });
});

describe('checkObject', () => {
  test('copies the options, so a getter that throws does so once, as a TypeError naming them', () => {
    const hostile = {
      get priority(): never {
        throw new Error('no priority for you');
      },
    };
    expect(() => checkObject('options', hostile)).toThrow(TypeError);
    expect(() => checkObject('options', hostile)).toThrow(/options to be an object whose properties can be read.*no priority for you/);
  });

  test('a proxy whose get trap throws copies as the keys it owns: later reads of it cannot throw', () => {
    const proxy = new Proxy({} as Record<string, unknown>, {
      get() {
        throw new Error('trap');
      },
    });
    const copy = checkObject('options', proxy);
    expect(copy).toEqual({});
    expect(() => copy?.priority).not.toThrow();
  });

  test('refuses what is not an object', () => {
    expect(() => checkObject('options', 5)).toThrow(/Expected options to be an object, got 5/);
    expect(() => checkObject('options', [])).toThrow(TypeError);
    expect(checkObject('options', undefined)).toBeUndefined();
  });
});
