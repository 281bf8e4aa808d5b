import { systemClock } from './clock.js';
import { assertSchedulerEnvironment } from './environment.js';
import { TasklaneError } from './errors.js';
import { type EventSink, WarningEvent } from './events.js';
import { checkStoreChoice, openStore } from './open-store.js';
import { Pool } from './pool.js';
import { LocalScheduler } from './scheduler.js';
import type { Scheduler, SchedulerOptions } from './scheduler-api.js';
import { type NormalizedOptions, normalizeOptions } from './scheduler-options.js';
import { tabsSupported } from './tabs/leadership.js';
import type { TaskHandleHost } from './task-handle.js';
import type { TaskMap } from './task-types.js';
import { checkObject, describe } from './validate.js';

/**
 * Opens one engine: the pool first (its first worker loads the module while storage is read, so
 * task names are known early and a worker is up for the first dispatch; what it tells meanwhile
 * waits for `Pool.bind`), then the store, then the recovery. A failure at any step closes what the
 * earlier steps opened.
 */
async function openEngine<T extends TaskMap>(
  o: SchedulerOptions,
  normalized: NormalizedOptions,
  name: string,
  warn: (error: Error) => void,
  front?: { events: EventSink; handleHost: TaskHandleHost },
  paused = false,
): Promise<LocalScheduler<T>> {
  const pool = new Pool(o.worker, normalized.pool, undefined, o.clock ?? systemClock);
  void pool.taskNames();
  const store = await openStore({ name, store: o.store, durability: o.durability, persist: o.persist }, warn).catch((error) => {
    pool.close();
    throw error;
  });
  const engine = new LocalScheduler<T>(o, normalized, store, pool, front);
  if (paused) engine.pause();
  try {
    await engine._open();
  } catch (error) {
    await engine.close({ drain: false }).catch(() => {});
    throw error;
  }
  return engine;
}

/**
 * Creates a scheduler and recovers its stored tasks.
 *
 * @example
 * import type { Tasks } from './tasks.worker';
 * const scheduler = await createScheduler<Tasks>({
 *   worker: () => new Worker(new URL('./tasks.worker.ts', import.meta.url), { type: 'module' }),
 * });
 * const task = await scheduler.enqueue('thumbnail', { blob, size: 128 }, { priority: 'high' });
 * const bitmap = await task.result;
 */
export async function createScheduler<T extends TaskMap = TaskMap>(options: SchedulerOptions): Promise<Scheduler<T>> {
  assertSchedulerEnvironment();
  const o = checkObject('options', options) as SchedulerOptions | undefined;
  if (!o) throw new TypeError('Expected options to be an object, got undefined');
  if (typeof o.worker !== 'function')
    throw new TypeError(`Expected options.worker to be a function returning a Worker, got ${describe(o.worker)}`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === ''))
    throw new TypeError(`Expected options.name to be a non-empty string, got ${describe(o.name)}`);
  const normalized = normalizeOptions(o);
  const name = o.name ?? 'tasklane';
  checkStoreChoice({ name, store: o.store, durability: o.durability, persist: o.persist });
  if (normalized.shared) {
    if (tabsSupported()) {
      // Loaded on first use, as the IndexedDB store is: only a shared queue (IndexedDB) needs the multi-tab code.
      const { openShared } = await import('./tabs/shared-scheduler.js');
      return openShared<T>({
        name,
        leaderTimeoutMs: normalized.leaderTimeoutMs,
        openEngine: (front, paused) =>
          openEngine<TaskMap>(o, normalized, name, (error) => front.events.dispatchEvent(new WarningEvent(error)), front, paused),
      });
    }
  }
  // Warnings raised while opening (a memory fallback, corrupt records) wait one macrotask, so a
  // listener added right after `await createScheduler(…)` hears them.
  let scheduler: LocalScheduler<T> | undefined;
  let early: Error[] | undefined = [];
  const warn = (error: Error) => (early ? early.push(error) : scheduler?.dispatchEvent(new WarningEvent(error)));
  if (normalized.shared)
    early.push(
      new TasklaneError(
        `this browser has no ${typeof BroadcastChannel === 'function' ? 'Web Locks' : 'BroadcastChannel'}: queue "${name}" runs in this tab alone, and another tab opening it would dispatch it too`,
        'E_TABS_UNSUPPORTED',
      ),
    );
  scheduler = await openEngine<T>(o, normalized, name, warn);
  const opened = scheduler;
  const pending = early;
  early = undefined;
  if (pending.length > 0)
    setTimeout(() => {
      for (const e of pending) opened.dispatchEvent(new WarningEvent(e));
    }, 0);
  return scheduler;
}
