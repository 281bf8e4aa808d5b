import { afterEach, expect, test } from 'vitest';
import { createScheduler, type TaskEvent, type TaskRecord } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { FRAME_PRELUDE, tasksWorker } from './helpers.js';
import { dbName, deleteTestDbs, rawAll } from './idb-helpers.js';

afterEach(deleteTestDbs);

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'skipped']);

/**
 * Runs `n` tasks in a scheduler inside an iframe and removes the iframe (a tab closing mid-run)
 * once `killAfter` of them completed. Resolves with what the test saw before the kill.
 */
async function runAndKill(db: string, n: number, killAfter: number) {
  const channel = `reload-${Math.random().toString(36).slice(2)}`;
  const accepted: string[] = [];
  const started = new Set<string>();
  const completed = new Set<string>();
  const frame = document.createElement('iframe');
  const module = new URL('./fixtures/reload-frame.ts', import.meta.url).href;
  frame.srcdoc = `${FRAME_PRELUDE}<script type="module">import { run } from ${JSON.stringify(module)}; run(${JSON.stringify({ db, n, channel })});</script>`;
  let ownerLocks: string[] = [];
  await new Promise<void>((killTime, failed) => {
    const onMessage = async (event: MessageEvent) => {
      const m = event.data as { channel?: string; type: string; id?: string; ids?: string[] };
      if (m?.channel !== channel) return;
      if (m.type === 'accepted') accepted.push(...(m.ids ?? []));
      else if (m.type === 'started') started.add(m.id as string);
      else if (m.type === 'completed') completed.add(m.id as string);
      if (m.type === 'completed' && completed.size === killAfter) {
        window.removeEventListener('message', onMessage);
        try {
          // The frame's scheduler holds its owner lock: note it, to wait for its release after the kill.
          const { held = [] } = await navigator.locks.query();
          ownerLocks = held.map((l) => l.name ?? '').filter((name) => name.startsWith(`tasklane:${db}:owner:`));
          frame.remove();
          killTime();
        } catch (error) {
          failed(error);
        }
      }
    };
    window.addEventListener('message', onMessage);
    document.body.append(frame);
  });
  expect(ownerLocks).toHaveLength(1);
  // The tab is gone once the browser released its lock: wait for that, not for a timer.
  await navigator.locks.request(ownerLocks[0] as string, async () => {});
  return { accepted, started, completed };
}

for (const [n, killAfter] of [
  [40, 6],
  [60, 25],
] as const) {
  test(`a tab closed mid-run (${n} tasks, killed after ${killAfter} completed): after reopening, every accepted task ends once, none lost, only running ones run twice`, async () => {
    const db = dbName('reload');
    const before = await runAndKill(db, n, killAfter);
    expect(before.accepted.length).toBeGreaterThanOrEqual(Math.floor(n / 2)); // the batch, at least

    // What the dead tab left on disk.
    const left = new Map((await rawAll(db)).map((r) => [r.id, r]));
    for (const id of before.accepted) expect(left.has(id)).toBe(true);
    const wasRunning = new Set([...left.values()].filter((r) => r.status === 'running').map((r) => r.id));
    const wasTerminal = new Set([...left.values()].filter((r) => TERMINAL.has(r.status)).map((r) => r.id));
    // Persist, then tell: whatever the dead tab announced is on disk. A 'completed' it heard is
    // terminal there, and a 'started' it heard was written 'running' before the worker got it.
    for (const id of before.completed) expect(wasTerminal.has(id)).toBe(true);
    for (const id of before.started) expect(left.get(id)?.status).not.toBe('queued');

    // Reopen: a new page load on the same database.
    const s = await createScheduler<Tasks>({ name: db, worker: tasksWorker, pool: { max: 2 } });
    const startedAfter: string[] = [];
    s.addEventListener('started', (e: TaskEvent) => startedAfter.push(e.task.id));
    // Handles re-attach: result settles when the task ends.
    const handles = await Promise.all([...left.keys()].map((id) => s.get(id)));
    const results = await Promise.all(handles.map((h) => h?.result));
    await s.close();

    const final = new Map((await rawAll(db)).map((r) => [r.id, r as TaskRecord]));
    // None lost, each in exactly one terminal state (all these tasks succeed).
    expect(final.size).toBe(left.size);
    for (const id of left.keys()) expect(final.get(id)?.status).toBe('completed');
    expect(results.every((r) => typeof r === 'string')).toBe(true);
    // Nothing finished ran again; every unfinished task ran exactly once more.
    expect(startedAfter.filter((id) => wasTerminal.has(id))).toEqual([]);
    expect(new Set(startedAfter).size).toBe(startedAfter.length);
    expect(startedAfter.length).toBe(left.size - wasTerminal.size);
    // Only tasks that were running at the kill ran twice (here and in the dead tab).
    const twice = startedAfter.filter((id) => before.started.has(id));
    for (const id of twice) expect(wasRunning.has(id)).toBe(true);
    // A task recorded running by the dead tab came back as a stall: attempt counted, StalledError kept.
    for (const id of wasRunning) {
      const r = final.get(id) as TaskRecord;
      expect(r.stalls).toBe(1);
      expect(r.errors.map((e) => e.code)).toEqual(['E_STALLED']);
      expect(r.attempt).toBe((left.get(id)?.attempt ?? 0) + 1);
    }
  });
}
