import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { notBefore, noteTaken, refreshGates } from '../../../src/engine/gates.js';
import { type GroupLimits, Limits, normalizeLimits } from '../../../src/engine/limits.js';
import type { IndexEntry } from '../../../src/index-entry.js';

let seq = 0;
const entry = (name: string, id = `t${seq}`): IndexEntry => ({ id, name, priority: 2, readyAt: 0, seq: seq++ });

function setup(limits: Record<string, GroupLimits>) {
  const clock = new ManualClock();
  const running = new Set<string>();
  const reopened: string[] = [];
  const gone = new Set<string>();
  /** Tasks whose start was told (the scheduler's `notifiedStart`). */
  const started = new Set<string>();
  let pumps = 0;
  const gate = new Limits(new Map(Object.entries(limits)), {
    running: (id) => running.has(id),
    unstarted: (id) => running.has(id) && !started.has(id),
    reopen: (id) => {
      if (gone.has(id)) return false;
      reopened.push(id);
      return true;
    },
    schedulePump: () => pumps++,
  });
  /** A task reached the head of its worker at `at`: marked started, then the gate is told (as `markStarted` does). */
  const start = (id: string, group: string, at: number) => {
    started.add(id);
    gate.started(id, group, at);
  };
  /** What a dispatcher does: ask, and take the task if it may start. */
  const tryStart = (e: IndexEntry): boolean => {
    const now = clock.now();
    if (notBefore([gate], e, now) > now) return false;
    noteTaken([gate], e, now);
    running.add(e.id);
    // Reaches the head of an idle worker at once (the watchdog's `onStarted`).
    start(e.id, e.name, now);
    return true;
  };
  return { clock, running, reopened, gone, gate, start, tryStart, pumps: () => pumps };
}

describe('Limits gate', () => {
  it('counts a rate window from when a task starts in its worker, not when it was taken; one gone unseen counts from when it was missed', () => {
    const { clock, gate, running, start } = setup({ api: { rate: { max: 2, perMs: 100 } } });
    const [a, b, c] = [entry('api'), entry('api'), entry('api')];
    for (const e of [a, b]) {
      noteTaken([gate], e, clock.now());
      running.add(e.id);
    }
    // Taken, not started (queued in a worker behind another call): both hold a place.
    expect(notBefore([gate], c, clock.now())).toBe(clock.now() + 100);
    clock.advance(30);
    start(a.id, 'api', clock.now());
    clock.advance(70);
    start(b.id, 'api', clock.now());
    // 100 ms after the take, but a started 30 ms in: the window frees 100 ms after that start.
    expect(notBefore([gate], c, clock.now())).toBe(clock.now() + 30);
    // Two more taken in a later window: one whose attempt ends before it starts, one that never ran.
    const d = entry('api');
    clock.advance(200);
    noteTaken([gate], d, clock.now());
    running.add(d.id);
    noteTaken([gate], entry('api', 'x'), clock.now());
    expect(notBefore([gate], c, clock.now())).toBeGreaterThan(clock.now());
    running.delete(d.id);
    refreshGates([gate], clock.now());
    // The next pump, a moment later: what was taken in an earlier one and is gone is noticed now.
    clock.advance(1);
    // d and x left the running set without a start seen: each counts as started at the refresh that missed it.
    expect(notBefore([gate], c, clock.now())).toBe(clock.now() + 100);
    clock.advance(100);
    expect(notBefore([gate], c, clock.now())).toBe(clock.now());
  });

  it('a limit never reached keeps no list of every task run, and still counts an attempt that ended unstarted', () => {
    const { clock, gate, running, start } = setup({ api: { rate: { max: 10_000, perMs: 1_000 } } });
    // x is taken and never sent (its attempt ends before its start).
    noteTaken([gate], entry('api', 'x'), clock.now());
    refreshGates([gate], clock.now());
    clock.advance(1);
    for (let i = 0; i < 600; i++) {
      // A pump each: a task is sent when the pump that took it ends, and told started after that.
      refreshGates([gate], clock.now());
      const e = entry('api');
      noteTaken([gate], e, clock.now());
      running.add(e.id);
      start(e.id, 'api', clock.now());
      running.delete(e.id);
    }
    // 600 starts and x, which holds its place (as a start from when it was found, or unstarted).
    expect(gate.groups(clock.now())[0]?.rate?.starts).toBe(601);
    // A window on, the starts have left it: x was found on the way (the list was cut back) and counted from then.
    clock.advance(1_000);
    expect(gate.groups(clock.now())[0]?.rate?.starts).toBe(0);
  });

  it('lets at most max starts through in any perMs window', () => {
    const { clock, gate, tryStart } = setup({ api: { rate: { max: 3, perMs: 200 } } });
    const started: number[] = [];
    for (let i = 0; i < 12; ) {
      const e = entry('api');
      if (tryStart(e)) {
        started.push(clock.now());
        i++;
      } else {
        const at = gate.notBefore(e, clock.now());
        expect(at).toBeGreaterThan(clock.now());
        clock.advance(at - clock.now());
      }
    }
    for (const t of started) expect(started.filter((s) => s >= t && s < t + 200).length).toBeLessThanOrEqual(3);
    expect((started[11] as number) - (started[0] as number)).toBeGreaterThanOrEqual(600);
  });

  it('leaves tasks of other groups alone', () => {
    const { tryStart } = setup({ api: { concurrency: 1 } });
    expect(tryStart(entry('api'))).toBe(true);
    expect(tryStart(entry('api'))).toBe(false);
    expect(tryStart(entry('other'))).toBe(true);
    expect(tryStart(entry('other'))).toBe(true);
  });

  it('holds a concurrency-blocked task until a running one ends, then reopens it', () => {
    const { clock, running, reopened, gate, tryStart, pumps } = setup({ api: { concurrency: 2 } });
    const [a, b, c, d] = [entry('api'), entry('api'), entry('api'), entry('api')];
    expect(tryStart(a)).toBe(true);
    expect(tryStart(b)).toBe(true);
    expect(tryStart(c)).toBe(false);
    expect(tryStart(d)).toBe(false);
    refreshGates([gate], clock.now());
    expect(reopened).toEqual([]);
    running.delete(a.id);
    refreshGates([gate], clock.now());
    expect(reopened).toEqual([c.id]);
    expect(pumps()).toBe(1);
    expect(tryStart(c)).toBe(true);
    expect(tryStart(d)).toBe(false);
  });

  it('counts a task taken in this pump, not yet in the running set, against concurrency', () => {
    const { clock, gate, running } = setup({ api: { concurrency: 2 } });
    const [a, b, c, d] = [entry('api'), entry('api'), entry('api'), entry('api')];
    noteTaken([gate], a, clock.now());
    running.add(a.id);
    refreshGates([gate], clock.now());
    // The next pump takes b: it is sent (joins the running set) only once the pump is over.
    expect(notBefore([gate], b, clock.now())).toBe(clock.now());
    noteTaken([gate], b, clock.now());
    expect(notBefore([gate], c, clock.now())).toBeGreaterThan(clock.now());
    // a ended: the next pump sees one slot free.
    running.add(b.id);
    running.delete(a.id);
    refreshGates([gate], clock.now());
    expect(notBefore([gate], d, clock.now())).toBe(clock.now());
  });

  it('a task taken again after going back to the queue counts once against concurrency', () => {
    const { clock, gate, running } = setup({ api: { concurrency: 2 } });
    const [a, b, c] = [entry('api'), entry('api'), entry('api')];
    noteTaken([gate], a, clock.now());
    running.add(a.id);
    // a goes back to the queue (its worker exited before it started), then is taken again.
    running.delete(a.id);
    refreshGates([gate], clock.now());
    noteTaken([gate], { ...a }, clock.now());
    noteTaken([gate], b, clock.now());
    running.add(a.id);
    running.add(b.id);
    refreshGates([gate], clock.now());
    expect(notBefore([gate], c, clock.now())).toBeGreaterThan(clock.now());
    // b ended: a alone runs, one slot is free.
    running.delete(b.id);
    refreshGates([gate], clock.now());
    expect(notBefore([gate], entry('api'), clock.now())).toBe(clock.now());
  });

  it('a held task that left the queue (cancelled) takes no slot from the next one', () => {
    const { clock, running, reopened, gone, gate, tryStart } = setup({ api: { concurrency: 1 } });
    const [a, b, c] = [entry('api'), entry('api'), entry('api')];
    expect(tryStart(a)).toBe(true);
    expect(tryStart(b)).toBe(false);
    expect(tryStart(c)).toBe(false);
    gone.add(b.id);
    running.delete(a.id);
    refreshGates([gate], clock.now());
    expect(reopened).toEqual([c.id]);
  });

  it('a paused group waits until the pause ends', () => {
    const { clock, gate, tryStart } = setup({ api: { rate: { max: 100, perMs: 1000 } } });
    gate.pauseGroup('api', clock.now() + 150);
    expect(gate.waitsUntil('api', clock.now())).toBe(clock.now() + 150);
    expect(tryStart(entry('api'))).toBe(false);
    clock.advance(150);
    expect(tryStart(entry('api'))).toBe(true);
  });
});

describe('normalizeLimits', () => {
  it('refuses bad options with named TypeErrors', () => {
    expect(() => normalizeLimits({ api: { rate: { max: -1, perMs: 100 } } })).toThrow(/limits\.api\.rate\.max/);
    expect(() => normalizeLimits({ api: { rate: { max: 1, perMs: 0 } } })).toThrow(/limits\.api\.rate\.perMs/);
    expect(() => normalizeLimits({ api: { concurrency: 0 } })).toThrow(/limits\.api\.concurrency/);
    expect(() => normalizeLimits({ api: { burst: 1 } })).toThrow(TypeError);
    expect(() => normalizeLimits({ api: { rate: { max: 1, perMs: 1, x: 1 } } })).toThrow(TypeError);
    expect(() => normalizeLimits({ api: 3 })).toThrow(/limits\.api/);
    expect(() => normalizeLimits([])).toThrow(TypeError);
  });
  it('accepts good ones; none is no gate', () => {
    expect(normalizeLimits(undefined)).toBeUndefined();
    expect(normalizeLimits({})).toBeUndefined();
    expect(normalizeLimits({ api: { rate: { max: 3, perMs: 200 }, concurrency: 1 } })?.get('api')).toEqual({
      rate: { max: 3, perMs: 200 },
      concurrency: 1,
    });
  });
});
