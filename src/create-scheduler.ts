import { assertSchedulerEnvironment } from './environment.js';
import { TasklaneError } from './errors.js';
import { WarningEvent } from './events.js';
import { openStore } from './open-store.js';
import { LocalScheduler } from './scheduler.js';
import type { Scheduler, SchedulerOptions } from './scheduler-api.js';
import { normalizeOptions } from './scheduler-options.js';
import { tabsSupported } from './tabs/leadership.js';
import { openShared } from './tabs/shared-scheduler.js';
import type { TaskMap } from './task-types.js';
import { checkObject, describe } from './validate.js';

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
  if (normalized.shared) {
    if (tabsSupported())
      return openShared<T>({
        name,
        leaderTimeoutMs: normalized.leaderTimeoutMs,
        openEngine: async (front, paused) => {
          const store = await openStore({ name, store: o.store, durability: o.durability, persist: o.persist }, (error) =>
            front.events.dispatchEvent(new WarningEvent(error)),
          );
          const engine = new LocalScheduler<TaskMap>(o, normalized, store, front);
          if (paused) engine.pause();
          try {
            await engine._open();
          } catch (error) {
            await engine.close({ drain: false }).catch(() => {});
            throw error;
          }
          return engine;
        },
      });
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
  const store = await openStore({ name, store: o.store, durability: o.durability, persist: o.persist }, warn);
  scheduler = new LocalScheduler<T>(o, normalized, store);
  try {
    await scheduler._open();
  } catch (error) {
    await scheduler.close({ drain: false }).catch(() => {});
    throw error;
  }
  const opened = scheduler;
  const pending = early;
  early = undefined;
  if (pending.length > 0)
    setTimeout(() => {
      for (const e of pending) opened.dispatchEvent(new WarningEvent(e));
    }, 0);
  return scheduler;
}
