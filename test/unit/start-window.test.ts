import { describe, expect, test } from 'vitest';
import { StartWindow } from '../../src/engine/start-window.js';

/** The window as a sorted array: what StartWindow must agree with. */
function model() {
  let times: number[] = [];
  return {
    add(at: number) {
      let i = times.length;
      while (i > 0 && (times[i - 1] as number) > at) i--;
      times.splice(i, 0, at);
    },
    dropThrough(t: number) {
      times = times.filter((x) => x > t);
    },
    get times() {
      return times;
    },
  };
}

describe('StartWindow', () => {
  test('keeps times in order through out-of-order adds, drops, wrap-around and growth, as a sorted array does', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const w = new StartWindow();
    const m = model();
    let now = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.6) {
        now += random() * 3;
        // Mostly in order; now and then a start told late, up to 10 ms back.
        const at = random() < 0.1 ? now - random() * 10 : now;
        w.add(at);
        m.add(at);
      } else if (r < 0.75) {
        const t = now - 50 - random() * 100;
        w.dropThrough(t);
        m.dropThrough(t);
      }
      if (step % 97 === 0 || step > 19_990) {
        expect(w.size).toBe(m.times.length);
        expect(w.oldest()).toBe(m.times[0]);
        const t = now - random() * 60;
        const after = m.times.filter((x) => x > t);
        expect(w.after(t)).toEqual({ count: after.length, oldest: after[0] });
      }
    }
    // Grown well past its first 16 slots, and emptied by a drop past everything.
    expect(m.times.length).toBeGreaterThan(16);
    w.dropThrough(now + 1);
    expect(w.size).toBe(0);
    expect(w.oldest()).toBeUndefined();
    expect(w.after(-1)).toEqual({ count: 0, oldest: undefined });
  });

  test('a time equal to one held goes after it; dropThrough drops times equal to its bound', () => {
    const w = new StartWindow();
    for (const t of [5, 3, 5, 1]) w.add(t);
    expect(w.after(0)).toEqual({ count: 4, oldest: 1 });
    w.dropThrough(3);
    expect(w.size).toBe(2);
    expect(w.oldest()).toBe(5);
  });
});
