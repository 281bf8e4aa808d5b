import '../src/panel.js';
import { createScheduler } from '../src/index.js';
import { wireControls } from './controls.js';
import type { Tasks } from './demo.worker.js';
import { FractalView } from './fractal-view.js';
import { DEMO_LIMITS, wireWorkflows } from './workflows.js';
import './styles.css';

async function main(): Promise<void> {
  const cores = navigator.hardwareConcurrency || 4;
  const poolMax = Math.min(8, Math.max(3, cores - 1));
  const scheduler = await createScheduler<Tasks>({
    // With the IndexedDB store this names the database, and a reload picks up the queue.
    name: 'tasklane-demo',
    worker: () => new Worker(new URL('./demo.worker.ts', import.meta.url), { type: 'module' }),
    pool: { max: poolMax, idleMs: 15_000 },
    limits: DEMO_LIMITS,
    defaults: { timeoutMs: 20_000, retry: { attempts: 3, backoff: { kind: 'exponential', delayMs: 1_000, maxMs: 8_000 } } },
  });

  const panel = document.querySelector('tasklane-panel');
  if (panel) panel.scheduler = scheduler;

  const pool = document.getElementById('pool') as HTMLInputElement;
  pool.value = String(poolMax);
  (document.getElementById('pool-out') as HTMLOutputElement).textContent = String(poolMax);
  wireControls(scheduler);

  const fractal = new FractalView(
    document.getElementById('fractal') as HTMLCanvasElement,
    document.getElementById('overlay') as HTMLCanvasElement,
    scheduler,
  );
  const workflows = wireWorkflows(scheduler, () => fractal.counts);
  const status = document.getElementById('tiles') as HTMLElement;
  fractal.onChange = () => {
    workflows.pictureChanged();
    const { done, total, failed } = fractal.counts;
    status.textContent = `${done} / ${total} tiles${failed ? ` · ${failed} failed` : ''}`;
  };
  const quality = document.getElementById('quality') as HTMLSelectElement;
  quality.value = String(fractal.aa);
  quality.addEventListener('change', () => {
    fractal.aa = Number(quality.value);
    void fractal.rerender();
  });
  document.getElementById('rerender')?.addEventListener('click', () => void fractal.rerender());
  document.getElementById('reset')?.addEventListener('click', () => void fractal.reset());
  await fractal.start();

  // For scripts (the screenshot) and curious people in the console.
  Object.assign(window, { tasklaneDemo: { scheduler, fractal, workflows: workflows.state } });
  document.body.dataset.ready = 'true';
}

main().catch((error: unknown) => {
  console.error(error);
  const out = document.getElementById('log');
  if (out) out.textContent = `The demo failed to start: ${(error as Error)?.message ?? String(error)}`;
});
