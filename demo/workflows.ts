import type { Scheduler, TaskEvent, TaskInfo } from '../src/index.js';
import type { AssembleResult, Tasks } from './demo.worker.js';

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;
const clock = (ms: number) => new Date(ms).toLocaleTimeString('en-GB');

/** The rate-limited group the uploads join: what `createScheduler` is given as `limits`. */
export const DEMO_LIMITS = { upload: { rate: { max: 2, perMs: 1_000 }, concurrency: 1 } };
export const STATS_SCHEDULE = 'demo-stats';
const STATS_EVERY_MS = 10_000;

/** What the page's scripts read back (window.tasklaneDemo.workflows). */
export interface WorkflowsState {
  assembled?: { id: string; gen: number; tiles: number; failed: number; startedAt?: number; finishedAt?: number };
  statsRuns: number;
  uploads: { n: number; status: string; startedAt?: number }[];
  sync: { waiting: number; done: number };
  simulatedOffline: boolean;
}

/**
 * The workflow features, each where it shows: the assembled picture (a task that depends on every
 * tile), a repeat schedule, a rate-limited upload group and an online-only task.
 */
export function wireWorkflows(
  scheduler: Scheduler<Tasks>,
  picture: () => { gen: number; done: number; total: number },
): { state: WorkflowsState; pictureChanged(): void } {
  const currentGen = () => picture().gen;
  const state: WorkflowsState = { statsRuns: 0, uploads: [], sync: { waiting: 0, done: 0 }, simulatedOffline: false };

  // ── the assembled picture: `assemble` ran after every tile, from their results ──
  const thumb = $<HTMLCanvasElement>('assembled');
  const thumbCtx = thumb.getContext('2d') as CanvasRenderingContext2D;
  const assembledOut = $('assembled-out');
  const showAssembled = (task: TaskInfo) => {
    const r = task.result as AssembleResult | undefined;
    if (!r || r.gen !== currentGen()) return;
    thumb.width = r.w;
    thumb.height = r.h;
    thumbCtx.putImageData(new ImageData(new Uint8ClampedArray(r.pixels), r.w, r.h), 0, 0);
    thumb.classList.add('done');
    state.assembled = { id: task.id, gen: r.gen, tiles: r.tiles, failed: r.failed, startedAt: task.startedAt, finishedAt: task.finishedAt };
    assembledOut.textContent = `✓ ran after the last tile, at ${clock(task.finishedAt ?? Date.now())}: ${r.tiles} tile results${r.failed ? `, ${r.failed} failed` : ''}`;
  };
  const pictureChanged = () => {
    const { gen, done, total } = picture();
    if (state.assembled?.gen === gen) return;
    if (state.assembled) {
      state.assembled = undefined;
      thumb.classList.remove('done');
      thumbCtx.clearRect(0, 0, thumb.width, thumb.height);
    }
    assembledOut.textContent = `waiting for ${total - done} of ${total} tiles…`;
  };
  void scheduler.list({ status: 'completed', name: 'assemble', limit: 100 }).then((done) => {
    for (const task of done) showAssembled(task);
  });

  // ── a repeat schedule: a small stats task every 10 s, counted ──
  const statsOut = $('stats-out');
  let next: number | undefined;
  let lastRun: number | undefined;
  const showStats = () => {
    const inS = next === undefined ? '' : ` · next in ${Math.max(0, Math.ceil((next - Date.now()) / 1000))} s`;
    const last = lastRun === undefined ? 'no run yet' : `last at ${clock(lastRun)}`;
    statsOut.textContent = `${state.statsRuns} run${state.statsRuns === 1 ? '' : 's'} · ${last}${inS}`;
  };
  const readSchedule = async () => {
    const info = (await scheduler.schedules()).find((s) => s.id === STATS_SCHEDULE);
    next = info?.next;
    showStats();
  };
  void scheduler.list({ status: 'completed', name: 'stats', limit: 1000 }).then((runs) => {
    state.statsRuns = Math.max(state.statsRuns, runs.length);
    lastRun = Math.max(lastRun ?? 0, ...runs.map((t) => t.finishedAt ?? 0)) || undefined;
    showStats();
  });
  // Called on every load: the same id and timing keep the stored schedule (its next run and count).
  void scheduler
    .schedule(STATS_SCHEDULE, 'stats', null, { every: STATS_EVERY_MS, misfire: 'skip', options: { priority: 'high' } })
    .then(readSchedule);
  scheduler.addEventListener('schedules', () => void readSchedule());
  setInterval(showStats, 1_000);

  // ── a rate-limited upload group: 2 starts a second, one at a time ──
  const uploadsOut = $('uploads-out');
  const showUploads = () => {
    const first = state.uploads.find((u) => u.startedAt !== undefined)?.startedAt;
    uploadsOut.replaceChildren(
      ...state.uploads.map((u) => {
        const chip = document.createElement('span');
        chip.className = `chip ${u.status}`;
        const at = u.startedAt !== undefined && first !== undefined ? ` +${((u.startedAt - first) / 1000).toFixed(1)} s` : '';
        chip.textContent = `${u.status === 'completed' ? '✓' : u.status === 'running' ? '▶' : '…'} ${u.n}${at}`;
        return chip;
      }),
    );
  };
  const uploadIds = new Map<string, WorkflowsState['uploads'][number]>();
  $('uploads').addEventListener('click', async () => {
    const batch = Array.from({ length: 6 }, (_, i) => ({ n: i + 1, status: 'queued' }));
    const ids = await scheduler.enqueueMany(
      batch.map((u) => ({ name: 'upload' as const, input: { n: u.n, ms: 150 }, options: { group: 'upload', priority: 'high' as const } })),
    );
    state.uploads = batch;
    uploadIds.clear();
    for (const [i, id] of ids.entries()) uploadIds.set(id, batch[i] as WorkflowsState['uploads'][number]);
    showUploads();
  });

  // ── an online-only task: waits while the browser is offline ──
  // Simulated offline uses the mechanism the library reads: `navigator.onLine` and the window's
  // `offline` / `online` events (DevTools' "Offline" works the same way, for real).
  const realOnLine = Object.getOwnPropertyDescriptor(Navigator.prototype, 'onLine')?.get;
  Object.defineProperty(navigator, 'onLine', {
    configurable: true,
    get: () => !state.simulatedOffline && (realOnLine ? realOnLine.call(navigator) !== false : true),
  });
  const syncOut = $('sync-out');
  const syncIds = new Set<string>();
  const showSync = () => {
    const net = navigator.onLine ? 'online' : 'offline';
    syncOut.textContent = `${net} · ${state.sync.waiting} waiting · ${state.sync.done} synced`;
    syncOut.className = net;
  };
  const offline = $<HTMLInputElement>('offline');
  offline.addEventListener('change', () => {
    state.simulatedOffline = offline.checked;
    window.dispatchEvent(new Event(navigator.onLine ? 'online' : 'offline'));
  });
  window.addEventListener('online', showSync);
  window.addEventListener('offline', showSync);
  $('sync').addEventListener('click', async () => {
    const n = state.sync.waiting + state.sync.done + 1;
    const task = await scheduler.enqueue('sync', { n }, { requires: 'online', priority: 'high' });
    if (!syncIds.has(task.id) && task.status !== 'completed') {
      syncIds.add(task.id);
      state.sync.waiting++;
    }
    showSync();
  });
  // What a page before this one (a reload, another tab) left: the live ones are counted as waiting.
  void Promise.all([
    scheduler.list({ status: ['queued', 'retrying', 'running'], name: 'sync', limit: 1000 }),
    scheduler.list({ status: 'completed', name: 'sync', limit: 1000 }),
  ]).then(([live, done]) => {
    for (const task of live) {
      if (syncIds.has(task.id)) continue;
      syncIds.add(task.id);
      state.sync.waiting++;
    }
    state.sync.done += done.length;
    showSync();
  });
  showSync();

  const onTask = (e: TaskEvent) => {
    const { task } = e;
    if (task.name === 'assemble' && e.type === 'completed') showAssembled(task);
    else if (task.name === 'assemble' && (e.type === 'failed' || e.type === 'skipped') && !state.assembled)
      assembledOut.textContent = `The assemble task ${e.type}: ${e.error?.message ?? ''}`;
    else if (task.name === 'stats' && e.type === 'completed') {
      state.statsRuns++;
      lastRun = task.finishedAt ?? Date.now();
      showStats();
    } else if (task.name === 'upload') {
      const u = uploadIds.get(task.id);
      if (!u) return;
      u.status = e.type === 'started' || e.type === 'progress' ? 'running' : e.type;
      if (e.type === 'started') u.startedAt = task.startedAt ?? Date.now();
      showUploads();
    } else if (task.name === 'sync' && syncIds.has(task.id) && (e.type === 'completed' || e.type === 'failed' || e.type === 'cancelled')) {
      syncIds.delete(task.id);
      state.sync.waiting--;
      if (e.type === 'completed') state.sync.done++;
      showSync();
    }
  };
  for (const type of ['started', 'completed', 'failed', 'cancelled', 'skipped'] as const) scheduler.addEventListener(type, onTask);

  return { state, pictureChanged };
}
