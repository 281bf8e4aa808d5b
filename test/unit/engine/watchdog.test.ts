import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { type Active, LiveTasks } from '../../../src/engine/live-tasks.js';
import { type NormalizedDefaults, newRecord } from '../../../src/engine/task-settings.js';
import { Tells } from '../../../src/engine/tells.js';
import { Watchdog, type WatchdogHost } from '../../../src/engine/watchdog.js';
import { WriteQueue } from '../../../src/engine/write-queue.js';
import { entryOf } from '../../../src/index-entry.js';
import { MemoryStore } from '../../../src/memory-store.js';
import { normalizePoolOptions } from '../../../src/pool.js';
import type { SerializedError, TaskRecord } from '../../../src/types.js';
import type { InFlight, WorkerHandle } from '../../../src/worker-handle.js';
import { fakeWorkerHandle } from './fakes.js';

const T0 = 1_000_000;
const GRACE_MS = 1_000;
const SPAWN_MS = 100;
/** When a doomed worker's replacement may start: 1.5 spawn times before its grace period ends. */
const REPLACE_MS = GRACE_MS - 1.5 * SPAWN_MS;
const REASON: SerializedError = { name: 'TimeoutError', code: 'E_TIMEOUT', message: 'too slow' };

const defaults: NormalizedDefaults = { timeoutMs: 1_000, retry: { stored: { attempts: 1, backoff: 'function' } }, priority: 2 };

function setup(spawnEstimateMs = SPAWN_MS) {
  const clock = new ManualClock(T0);
  const writes = new WriteQueue({ store: new MemoryStore(), warn: () => {} });
  const live: LiveTasks = new LiveTasks({
    handleHost: { cancel: async () => false },
    get tells() {
      return tells;
    },
    onSettled: () => {},
  });
  const tells = new Tells({ writes, handles: live.handles, dispatchEvent: () => true, onDelivered: () => {} });
  const started: [string, number][] = [];
  const timeouts: [WorkerHandle, InFlight][] = [];
  const terminated: [WorkerHandle, Error][] = [];
  let pumps = 0;
  const host: WatchdogHost = {
    clock,
    active: live.active,
    pool: {
      options: normalizePoolOptions({ graceMs: GRACE_MS }),
      spawnEstimateMs,
      terminate: (worker, reason) => {
        terminated.push([worker, reason]);
        worker.terminate(reason);
      },
    },
    onStarted: (active, startedAt) => started.push([active.entry.id, startedAt]),
    onTimeout: (worker, call) => timeouts.push([worker, call]),
    schedulePump: () => pumps++,
  };
  const watchdog = new Watchdog(host);
  let seq = 0;
  /** Sends tasks (with these timeouts) to `worker` as the dispatcher does, and makes them active. */
  const run = (worker: WorkerHandle, ...timeoutMs: number[]): Active[] => {
    const records: TaskRecord[] = timeoutMs.map((ms) => {
      const id = `t${seq}`;
      return newRecord(
        defaults,
        id,
        seq++,
        'job',
        null,
        { priority: 2, timeoutMs: ms, runAt: clock.now(), retry: defaults.retry },
        clock.now(),
      );
    });
    const calls = worker.send(records, clock.now());
    return records.map((record, i) => {
      const active: Active = { entry: entryOf(record), record, prior: 'queued', worker, call: calls[i] };
      live.active.set(record.id, active);
      return active;
    });
  };
  return { clock, live, watchdog, run, started, timeouts, terminated, pumps: () => pumps };
}

describe('Watchdog: timeouts', () => {
  test('a timeout fires exactly timeoutMs after the call starts, once', () => {
    const { clock, watchdog, run, started, timeouts } = setup();
    const { handle } = fakeWorkerHandle(1, clock);
    const [a] = run(handle, 1_000) as [Active];
    watchdog.noteHead(handle);
    expect(started).toEqual([[a.entry.id, T0]]);
    expect(clock.pending()).toEqual([T0 + 1_000]);
    clock.advance(999);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual([[handle, a.call]]);
    clock.advance(10_000);
    expect(timeouts).toHaveLength(1);
  });

  test('noting the same head again neither restarts its timeout nor adds a timer', () => {
    const { clock, watchdog, run, timeouts } = setup();
    const { handle } = fakeWorkerHandle(1, clock);
    const [a] = run(handle, 1_000) as [Active];
    watchdog.noteHead(handle);
    clock.advance(600);
    watchdog.noteHead(handle);
    expect(clock.pending()).toEqual([T0 + 1_000]);
    clock.advance(400);
    expect(timeouts).toEqual([[handle, a.call]]);
  });

  test("the next call's timeout runs from when it reaches the head, not from when it was sent", () => {
    const { clock, watchdog, run, started, timeouts } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    const [a, b] = run(handle, 1_000, 1_000) as [Active, Active];
    watchdog.noteHead(handle);
    clock.advance(300);
    worker.finish(a.call as InFlight);
    expect(b.call?.startedAt).toBe(T0 + 300);
    watchdog.noteHead(handle);
    expect(started).toEqual([
      [a.entry.id, T0],
      [b.entry.id, T0 + 300],
    ]);
    // The timer set for a's deadline is kept (not re-armed) and, when it fires, waits out the rest of b's.
    expect(clock.pending()).toEqual([T0 + 1_000]);
    clock.advance(700);
    expect(clock.pending()).toEqual([T0 + 1_300]);
    clock.advance(299);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual([[handle, b.call]]);
  });

  test('a shorter timeout behind a longer one is re-armed earlier', () => {
    const { clock, watchdog, run, timeouts } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    const [a, b] = run(handle, 5_000, 100) as [Active, Active];
    watchdog.noteHead(handle);
    clock.advance(50);
    worker.finish(a.call as InFlight);
    watchdog.noteHead(handle);
    clock.advance(99);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual([[handle, b.call]]);
  });

  test('a task finishing before its timeout never times out, and timers do not pile up', () => {
    const { clock, watchdog, run, timeouts, started } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    for (let i = 0; i < 50; i++) {
      const [a] = run(handle, 1_000) as [Active];
      watchdog.noteHead(handle);
      clock.advance(900);
      worker.finish(a.call as InFlight);
      watchdog.noteHead(handle);
      // One timer per worker at most: a finished call's timer is let run out, never duplicated.
      expect(clock.pending().length).toBeLessThanOrEqual(1);
    }
    clock.advance(10_000);
    expect(started).toHaveLength(50);
    expect(timeouts).toEqual([]);
    expect(clock.pending()).toEqual([]);
  });

  test('a call with timeoutMs 0 is never timed', () => {
    const { clock, watchdog, run, started, timeouts } = setup();
    const { handle } = fakeWorkerHandle(1, clock);
    run(handle, 0);
    watchdog.noteHead(handle);
    expect(started).toHaveLength(1);
    expect(clock.pending()).toEqual([]);
    clock.advance(1e9);
    expect(timeouts).toEqual([]);
  });

  test('an abandoned head, or one no longer active, is neither reported started nor timed', () => {
    const { clock, live, watchdog, run, started, timeouts } = setup();
    const { handle } = fakeWorkerHandle(1, clock);
    const [a] = run(handle, 1_000) as [Active];
    handle.abort(a.call as InFlight, REASON);
    watchdog.noteHead(handle);
    const other = fakeWorkerHandle(2, clock).handle;
    const [b] = run(other, 1_000) as [Active];
    live.active.delete(b.entry.id);
    watchdog.noteHead(other);
    expect(started).toEqual([]);
    clock.advance(5_000);
    expect(timeouts).toEqual([]);
  });

  test('forget() drops the timer of a worker that exited', () => {
    const { clock, watchdog, run, timeouts } = setup();
    const { handle } = fakeWorkerHandle(1, clock);
    run(handle, 1_000);
    watchdog.noteHead(handle);
    watchdog.forget(handle);
    expect(clock.pending()).toEqual([]);
    clock.advance(5_000);
    expect(timeouts).toEqual([]);
  });
});

describe('Watchdog: abandon, grace, replacement', () => {
  test('abandon aborts the call, dooms the worker, marks it replaced before grace ends, then terminates it', () => {
    const { clock, watchdog, run, terminated, pumps } = setup();
    const { handle, worker, exits } = fakeWorkerHandle(7, clock);
    const [a] = run(handle, 1_000) as [Active];
    watchdog.abandon(a, REASON);
    expect(a.call?.abandoned).toBe(true);
    expect(worker.aborts()).toEqual([[a.call?.callId, REASON]]);
    expect(handle.doomed).toBe(true);
    expect(clock.pending()).toEqual([T0 + REPLACE_MS, T0 + GRACE_MS]);

    clock.advance(REPLACE_MS - 1);
    expect(handle.replaced).toBe(false);
    expect(pumps()).toBe(0);
    clock.advance(1);
    expect(handle.replaced).toBe(true);
    expect(pumps()).toBe(1);
    expect(terminated).toEqual([]);

    clock.advance(GRACE_MS - REPLACE_MS - 1);
    expect(terminated).toEqual([]);
    clock.advance(1);
    expect(terminated).toHaveLength(1);
    const [who, why] = terminated[0] as [WorkerHandle, Error];
    expect(who).toBe(handle);
    expect(why.name).toBe('WorkerCrashedError');
    expect(why.message).toBe(`worker 7 terminated: task "job" (${a.entry.id}) did not stop within ${GRACE_MS} ms of its signal aborting`);
    expect(worker.terminated).toBe(true);
    expect(handle.alive).toBe(false);
    expect(exits.map((e) => e.calls)).toEqual([[a.call]]);
    expect(clock.pending()).toEqual([]);
  });

  test('a replacement slower to spawn than the grace period may start at once', () => {
    const { clock, watchdog, run, pumps } = setup(2 * GRACE_MS);
    const { handle } = fakeWorkerHandle(1, clock);
    const [a] = run(handle, 1_000) as [Active];
    watchdog.abandon(a, REASON);
    expect(clock.pending()).toEqual([T0, T0 + GRACE_MS]);
    clock.advance(0);
    expect(handle.replaced).toBe(true);
    expect(pumps()).toBe(1);
  });

  test('a handler that returns within the grace period: undoom keeps the worker and clears both timers', () => {
    const { clock, watchdog, run, terminated, pumps } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    const [a] = run(handle, 1_000) as [Active];
    watchdog.abandon(a, REASON);
    clock.advance(200);
    worker.finish(a.call as InFlight);
    watchdog.undoom(handle);
    expect(handle.doomed).toBe(false);
    expect(clock.pending()).toEqual([]);
    clock.advance(5_000);
    expect(terminated).toEqual([]);
    expect(handle.replaced).toBe(false);
    expect(pumps()).toBe(0);
    expect(handle.alive).toBe(true);
  });

  test('grace running out spares a worker whose abandoned calls all returned', () => {
    const { clock, watchdog, run, terminated } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    const [a, b] = run(handle, 1_000, 1_000) as [Active, Active];
    watchdog.abandon(a, REASON);
    worker.finish(a.call as InFlight);
    clock.advance(GRACE_MS);
    expect(terminated).toEqual([]);
    expect(handle.alive).toBe(true);
    expect(handle.calls).toEqual([b.call]);
  });

  test('a second abandon on a doomed worker sets no more timers', () => {
    const { clock, watchdog, run, terminated } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    const [a, b] = run(handle, 1_000, 1_000) as [Active, Active];
    watchdog.abandon(a, REASON);
    clock.advance(500);
    watchdog.abandon(b, REASON);
    expect(worker.aborts().map(([id]) => id)).toEqual([a.call?.callId, b.call?.callId]);
    expect(clock.pending()).toEqual([T0 + REPLACE_MS, T0 + GRACE_MS]);
    clock.advance(GRACE_MS - 500);
    expect(terminated).toHaveLength(1);
  });

  test('abandoning a call on a worker already gone aborts it and sets no timer', () => {
    const { clock, watchdog, run } = setup();
    const { handle, worker } = fakeWorkerHandle(1, clock);
    const [a] = run(handle, 0) as [Active];
    handle.terminate(new Error('gone'));
    const posted = worker.posted.length;
    watchdog.abandon(a, REASON);
    expect(a.call?.abandoned).toBe(true);
    expect(worker.posted).toHaveLength(posted);
    expect(handle.doomed).toBe(false);
    expect(clock.pending()).toEqual([]);
  });

  test('stop() clears every timer: timeout, grace and replacement', () => {
    const { clock, watchdog, run, timeouts, terminated, pumps } = setup();
    const one = fakeWorkerHandle(1, clock).handle;
    const two = fakeWorkerHandle(2, clock).handle;
    run(one, 1_000);
    watchdog.noteHead(one);
    const [b] = run(two, 0) as [Active];
    watchdog.abandon(b, REASON);
    expect(clock.pending()).toHaveLength(3);
    watchdog.stop();
    expect(clock.pending()).toEqual([]);
    clock.advance(1e6);
    expect(timeouts).toEqual([]);
    expect(terminated).toEqual([]);
    expect(pumps()).toBe(0);
    expect(two.replaced).toBe(false);
  });
});
