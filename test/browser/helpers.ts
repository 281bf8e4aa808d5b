import { createScheduler, type Scheduler, type SchedulerOptions } from '../../src/index.js';
import type { Tasks } from './fixtures/tasks.worker.js';

export const tasksWorker = () => new Worker(new URL('./fixtures/tasks.worker.ts', import.meta.url), { type: 'module' });

const open: Scheduler<Tasks>[] = [];

/**
 * A scheduler on the fixture worker; closed (without draining) after each test by `closeAll`. On the
 * memory store unless `options.store` says otherwise (IndexedDB tests name their own databases).
 */
export async function makeScheduler(options: Partial<SchedulerOptions> = {}): Promise<Scheduler<Tasks>> {
  const scheduler = await createScheduler<Tasks>({ worker: tasksWorker, store: 'memory', pool: { max: 2 }, ...options });
  open.push(scheduler);
  return scheduler;
}

export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((s) => s.close({ drain: false })));
}

/** Resolves once a worker has loaded the module (its task names are known: enqueue checks them from then on). */
export async function moduleLoaded(s: Scheduler<Tasks>): Promise<void> {
  const loaded = () => s.workers().some((w) => w.state !== 'starting' && w.state !== 'terminated');
  if (!loaded()) await nextEvent(s, 'worker', loaded);
}

/** Resolves with the first event of `type` that `match` accepts. */
export function nextEvent<E extends Event>(target: EventTarget, type: string, match: (e: E) => boolean = () => true): Promise<E> {
  return new Promise((resolve) => {
    const listener = (event: Event) => {
      if (!match(event as E)) return;
      target.removeEventListener(type, listener);
      resolve(event as E);
    };
    target.addEventListener(type, listener);
  });
}

/** Settles a promise into a value or its error, for asserting on rejections. */
export async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: Error & { code?: string } }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error: error as Error & { code?: string } };
  }
}

/**
 * The start of a test frame's `srcdoc`. Vitest's browser mode serves modules with each dynamic
 * `import()` wrapped in a call to its runner, which exists only in Vitest's own test frame; a frame
 * of ours (a tab of the app) gets a runner that just imports, as the page would without Vitest.
 */
export const FRAME_PRELUDE = '<script>window.__vitest_browser_runner__ = { wrapDynamicImport: (load) => load() };</script>';

/**
 * A function that keeps the main thread busy for about `us` microseconds (at least, on a slower or
 * busier machine), calibrated once: a listener's work that does not depend on the machine's speed.
 */
export function busyFor(us: number): () => void {
  let sink = 0;
  const spin = (n: number) => {
    for (let k = 0; k < n; k++) sink += Math.sqrt(k + sink);
  };
  const probe = 200_000;
  const t0 = performance.now();
  spin(probe);
  const perUs = probe / Math.max(1, (performance.now() - t0) * 1000);
  const n = Math.max(1, Math.round(perUs * us));
  return () => {
    spin(n);
    if (!Number.isFinite(sink)) sink = 0;
  };
}

/**
 * Counts the events `target` delivers of `type` in each slice (a run of them with no turn of the
 * microtask queue between: one task); `counts[i]` is the i-th slice's.
 */
export function sliceCounter(target: EventTarget, type: string): number[] {
  const counts: number[] = [];
  let inSlice = false;
  target.addEventListener(type, () => {
    if (!inSlice) {
      inSlice = true;
      counts.push(0);
      queueMicrotask(() => {
        inSlice = false;
      });
    }
    counts[counts.length - 1] = (counts[counts.length - 1] as number) + 1;
  });
  return counts;
}
