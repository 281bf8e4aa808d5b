import { createScheduler, type Scheduler } from '../../src/index.js';
import type { Tasks } from '../browser/fixtures/tasks.worker.js';

/**
 * A page of `npm run chaos` (scripts/chaos.mjs). `?role=observer`: counts what every other page and
 * worker reports on BroadcastChannels, and never reloads. Otherwise: opens the queue `?name=` and
 * offers `window.chaos` to enqueue tasks, fuzz the API and read the outcome.
 */
const params = new URLSearchParams(location.search);
const run = params.get('run') ?? 'chaos';
const report = new BroadcastChannel(`${run}-report`);

if (params.get('role') === 'observer') {
  const starts = new Map<string, number>();
  const accepted = new Set<string>();
  let unhandled = 0;
  new BroadcastChannel(`${run}-count`).onmessage = (e: MessageEvent<{ label: string; phase: string }>) => {
    if (e.data.phase === 'start') starts.set(e.data.label, (starts.get(e.data.label) ?? 0) + 1);
  };
  report.onmessage = (e: MessageEvent<{ accepted?: string[]; unhandled?: string }>) => {
    for (const label of e.data.accepted ?? []) accepted.add(label);
    if (e.data.unhandled) unhandled++;
  };
  Object.assign(window, {
    chaos: {
      summary: () => ({ accepted: [...accepted], starts: Object.fromEntries(starts), unhandled }),
    },
  });
  document.body.dataset.ready = 'true';
} else {
  window.addEventListener('unhandledrejection', (e) => report.postMessage({ unhandled: String(e.reason) }));
  const scheduler: Scheduler<Tasks> = await createScheduler<Tasks>({
    name: params.get('name') ?? 'tasklane-chaos',
    worker: () => new Worker(new URL('../browser/fixtures/tasks.worker.ts', import.meta.url), { type: 'module' }),
    pool: { max: 2 },
    maxStalls: 100,
    retention: { completed: 1_000_000, failed: 1_000_000 },
    defaults: { retry: { attempts: 3, backoff: { kind: 'fixed', delayMs: 5 } } },
  });
  let n = 0;
  const chaos = {
    scheduler,
    /** Enqueues `count` tasks (random priority, some delayed, some flaky), each keyed by its label; reports the accepted ones. */
    async enqueue(prefix: string, count: number, failP = 0.1): Promise<number> {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const label = `${prefix}-${n++}`;
        const priority = Math.floor(Math.random() * 5) as 0 | 1 | 2 | 3 | 4;
        const delayMs = Math.random() < 0.2 ? Math.floor(Math.random() * 50) : undefined;
        calls.push(
          scheduler
            .enqueue(
              'counted',
              { channel: `${run}-count`, label, ms: Math.floor(Math.random() * 4), failP },
              { key: label, priority, delayMs },
            )
            .then(() => report.postMessage({ accepted: [label] })),
        );
      }
      const settled = await Promise.allSettled(calls);
      return settled.filter((s) => s.status === 'fulfilled').length;
    },
    /** Every stored task of this run: key, status, stalls. */
    async outcome(): Promise<{ key?: string; status: string; stalls: number }[]> {
      const tasks = await scheduler.list({ limit: 1_000_000 });
      return tasks.map((t) => ({ key: t.key, status: t.status, stalls: t.stalls ?? 0 }));
    },
    drain: () => scheduler.drain(),
    leads: () => scheduler.leader.thisTab,
  };
  Object.assign(window, { chaos });
  document.body.dataset.ready = 'true';
}
