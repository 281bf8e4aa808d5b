/**
 * The bench page. `bench/run.mjs` loads it in headless Chromium and calls `window.tasklaneBench.run(id)`
 * once per case, all in this one page.
 */
import { type BenchContext, cases } from './cases.js';
import type { Row } from './stats.js';
import { openShared } from './tabs-case.js';

export interface RunOptions {
  quick: boolean;
  runs: number;
}

export interface BenchApi {
  cases: { id: string; title: string }[];
  info(): { cores: number; crossOriginIsolated: boolean; userAgent: string; preciseMemory: boolean };
  run(id: string, options: RunOptions): Promise<Row[]>;
  /** For case 9's frames: a scheduler of a shared queue in this document. */
  openShared: typeof openShared;
}

type Gc = () => Promise<void>;

const api: BenchApi = {
  openShared,
  cases: cases.map(({ id, title }) => ({ id, title })),
  info() {
    const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
    return {
      cores: navigator.hardwareConcurrency,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      userAgent: navigator.userAgent,
      preciseMemory: memory !== undefined,
    };
  },
  async run(id, options) {
    const bench = cases.find((c) => c.id === id);
    if (!bench) throw new Error(`no bench case "${id}"`);
    const gc = (globalThis as { tasklaneBenchGc?: Gc }).tasklaneBenchGc;
    const ctx: BenchContext = {
      quick: options.quick,
      runs: options.runs,
      gc: gc ?? (async () => {}),
      log: (message) => console.debug(`[bench] ${message}`),
    };
    const rows = await bench.run(ctx);
    await ctx.gc();
    const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
    if (memory) ctx.log(`case ${id} done; JS heap after a full GC: ${(memory.usedJSHeapSize / 1e6).toFixed(0)} MB`);
    return rows;
  },
};

(globalThis as { tasklaneBench?: BenchApi }).tasklaneBench = api;
const status = document.getElementById('status');
if (status) status.dataset.ready = 'true';
