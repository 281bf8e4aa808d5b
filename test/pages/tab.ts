import { createScheduler } from '../../src/index.js';
import type { Tasks } from '../browser/fixtures/tasks.worker.js';

// A page that opens the queue named by `?name=` (leaderTimeoutMs from `?timeout=`) and exposes it
// as `window.tab`, for scripts that drive several real tabs (scripts/tabs-lifecycle.mjs).
const params = new URLSearchParams(location.search);
const scheduler = await createScheduler<Tasks>({
  name: params.get('name') ?? 'tasklane-tabs',
  worker: () => new Worker(new URL('../browser/fixtures/tasks.worker.ts', import.meta.url), { type: 'module' }),
  pool: { max: 2 },
  leaderTimeoutMs: Number(params.get('timeout') ?? 5000),
});
Object.assign(window, { tab: { scheduler } });
document.body.dataset.ready = 'true';
