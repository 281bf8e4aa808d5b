/** What every bench case shares: its context, the schedulers it makes, warm-up, repetition. */
import { createScheduler, type EnqueueItem, openIdbStore, type Scheduler, type SchedulerOptions } from '../src/index.js';
import { median, type Row } from './stats.js';
import type { Tasks } from './tasks.worker.js';

export interface BenchContext {
  quick: boolean;
  /** Measured runs per case (a warm-up run comes first and is not recorded). */
  runs: number;
  /** A full, synchronous major GC of this page (through the DevTools protocol); a no-op if unavailable. */
  gc(): Promise<void>;
  log(message: string): void;
}

export interface BenchCase {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

/** The shared clock the scheduler and the `stamp` task use: epoch-like, sub-millisecond. */
export const clock = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const perTaskUs = (ms: number, n: number): number => (ms * 1000) / n;

export const tasksWorker = (): Worker => new Worker(new URL('./tasks.worker.ts', import.meta.url), { type: 'module' });

export function memScheduler(options: Partial<SchedulerOptions> = {}): Promise<Scheduler<Tasks>> {
  return createScheduler<Tasks>({ worker: tasksWorker, store: 'memory', pool: { max: 2 }, ...options });
}

/**
 * A scheduler on the IndexedDB store. The store is opened here, not by name: where IndexedDB is
 * unavailable this rejects, where `store: 'indexeddb'` would fall back to memory and the IndexedDB
 * rows would measure the memory store.
 */
export async function idbScheduler(name: string): Promise<Scheduler<Tasks>> {
  return createScheduler<Tasks>({ worker: tasksWorker, store: await openIdbStore(name), name, pool: { max: 2 } });
}

/** Runs no-ops until `count` workers are up and have each run something. */
export async function warm(s: Scheduler<Tasks>, count: number): Promise<void> {
  const items = Array.from({ length: 64 }, (): EnqueueItem<Tasks, 'noop'> => ({ name: 'noop', input: null }));
  for (let i = 0; i < 200; i++) {
    await s.enqueueMany(items);
    await s.drain();
    if (s.workers().filter((w) => w.state !== 'starting' && w.completed > 0).length >= count) return;
    await sleep(5);
  }
  throw new Error(`only ${s.workers().length} of ${count} workers came up`);
}

export function noops(n: number): EnqueueItem<Tasks, 'noop'>[] {
  return Array.from({ length: n }, () => ({ name: 'noop', input: null }));
}

export function randomPriorities(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 5);
  return out;
}

/** Calls `fn` once to warm up, then `runs` times, recording each result. */
export async function repeat(ctx: BenchContext, label: string, fn: (record: boolean, run: number) => Promise<void>): Promise<void> {
  for (let run = 0; run <= ctx.runs; run++) {
    ctx.log(`${label}: ${run === 0 ? 'warm-up' : `run ${run}/${ctx.runs}`}`);
    await fn(run > 0, run);
  }
}

/**
 * One run's figure for each side of a pair: the median of `pairs` interleaved measurements, which
 * side goes first alternating within the run and across runs (ABBA…). A single drain of a few
 * thousand no-ops is tens of ms, and one pair swung ±50 % with what else the machine ran.
 */
export async function interleavedPairs(
  pairs: number,
  run: number,
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<{ a: number; b: number }> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < pairs; k++) {
    const aFirst = (run + k) % 2 === 0;
    if (aFirst) as.push(await a());
    bs.push(await b());
    if (!aFirst) as.push(await a());
  }
  return { a: median(as), b: median(bs) };
}

export function heapUsed(): number | undefined {
  const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
  return memory?.usedJSHeapSize;
}

/** Watches main-thread long tasks (> 50 ms) while `fn` runs. */
export async function withLongTasks<T>(fn: () => Promise<T>): Promise<{ value: T; longest: number; count: number }> {
  const durations: number[] = [];
  let observer: PerformanceObserver | undefined;
  try {
    observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) durations.push(e.duration);
    });
    observer.observe({ type: 'longtask', buffered: false });
  } catch {
    observer = undefined;
  }
  // Start `fn` in a task of its own: a long task that began before observe() is never reported.
  await sleep(0);
  const value = await fn();
  // Long-task entries are queued after the task ends: give them a turn to arrive.
  await sleep(0);
  if (observer) {
    for (const e of observer.takeRecords()) durations.push(e.duration);
    observer.disconnect();
  }
  return { value, longest: durations.length ? Math.max(...durations) : 0, count: durations.length };
}
