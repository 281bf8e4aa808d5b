import { afterEach, describe, expect, test, vi } from 'vitest';
import { MAX_TIMER_MS, ManualClock, systemClock } from '../../src/clock.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('clock', () => {
  test('ManualClock fires timers in deadline order at their own time', () => {
    const clock = new ManualClock(0);
    const log: string[] = [];
    clock.setTimer(() => log.push(`b@${clock.now()}`), 20);
    const h = clock.setTimer(() => log.push('cancelled'), 15);
    clock.setTimer(() => log.push(`a@${clock.now()}`), 10);
    clock.clearTimer(h);
    clock.advance(25);
    expect(log).toEqual(['a@10', 'b@20']);
    expect(clock.now()).toBe(25);
  });

  test('a delay beyond what setTimeout holds is re-armed, not fired at once', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = false;
    const far = MAX_TIMER_MS * 2 + 1_000;
    systemClock.setTimer(() => {
      fired = true;
    }, far);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(1_001);
    expect(fired).toBe(true);
  });

  test('the system clock is monotonic: a wall-clock jump does not move it', () => {
    const before = systemClock.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('1999-01-01'));
    const after = systemClock.now();
    expect(after).toBeGreaterThanOrEqual(before);
    vi.setSystemTime(new Date('2099-01-01'));
    expect(systemClock.now() - after).toBeLessThan(1_000);
  });
});
