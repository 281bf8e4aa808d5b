import { describe, expect, test } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/backoff.js';

const policy = (p: Partial<typeof DEFAULT_BACKOFF>) => ({ ...DEFAULT_BACKOFF, ...p });

describe('backoffDelay', () => {
  test('fixed', () => {
    const p = policy({ kind: 'fixed', delayMs: 250 });
    expect([1, 2, 5].map((a) => backoffDelay(p, a))).toEqual([250, 250, 250]);
  });
  test('linear', () => {
    const p = policy({ kind: 'linear', delayMs: 100 });
    expect([1, 2, 3].map((a) => backoffDelay(p, a))).toEqual([100, 200, 300]);
  });
  test('exponential with factor and cap', () => {
    const p = policy({ kind: 'exponential', delayMs: 100, factor: 3, maxMs: 1_000 });
    expect([1, 2, 3, 4].map((a) => backoffDelay(p, a))).toEqual([100, 300, 900, 1_000]);
  });
  test('jitter draws from [delay/2, delay] with the injected random', () => {
    const p = policy({ kind: 'fixed', delayMs: 1_000, jitter: true });
    expect(backoffDelay(p, 1, undefined, () => 0)).toBe(500);
    expect(backoffDelay(p, 1, undefined, () => 0.5)).toBe(750);
    expect(backoffDelay(p, 1, undefined, () => 0.999999)).toBeCloseTo(1_000, 2);
  });
  test('a function gets the attempt and the error; bad values become 0', () => {
    const seen: unknown[] = [];
    const fn = (attempt: number, error: { message: string }) => {
      seen.push([attempt, error.message]);
      return attempt * 7;
    };
    expect(backoffDelay(fn, 3, { name: 'Error', message: 'x' })).toBe(21);
    expect(seen).toEqual([[3, 'x']]);
    expect(backoffDelay(() => Number.NaN, 1)).toBe(0);
    expect(backoffDelay(() => -5, 1)).toBe(0);
  });
});
