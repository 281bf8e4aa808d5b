import type { PriorityName, Scheduler } from '../src/index.js';
import type { Tasks } from './demo.worker.js';

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;

const rand = (min: number, max: number) => Math.round(min + Math.random() * (max - min));

/** Wires the demo's buttons to the scheduler: each one makes a kind of trouble, or relieves it. */
export function wireControls(scheduler: Scheduler<Tasks>): void {
  const say = (text: string) => {
    $('log').textContent = text;
  };

  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-burst]')) {
    button.addEventListener('click', async () => {
      const priority = button.dataset.burst as PriorityName;
      const size = Number($<HTMLSelectElement>('burst-size').value);
      await scheduler.enqueueMany(
        Array.from({ length: size }, () => ({ name: 'crunch' as const, input: { ms: rand(80, 400) }, options: { priority } })),
      );
      say(`Enqueued ${size.toLocaleString('en-US')} ${priority} tasks in one commit.`);
    });
  }

  $('flaky').addEventListener('click', async () => {
    const p = Number($<HTMLInputElement>('flaky-p').value);
    await scheduler.enqueueMany(
      Array.from({ length: 10 }, () => ({
        name: 'flaky' as const,
        input: { p, ms: rand(200, 700) },
        options: {
          priority: 'high' as const,
          retry: { attempts: 3, backoff: { kind: 'exponential' as const, delayMs: 1_000, maxMs: 8_000 } },
        },
      })),
    );
    say(`10 flaky tasks: each attempt fails with p = ${p}; 3 attempts, then the dead-letter set.`);
  });
  const flakyP = $<HTMLInputElement>('flaky-p');
  flakyP.addEventListener('input', () => {
    $('flaky-p-out').textContent = Number(flakyP.value).toFixed(2);
  });

  $('hang').addEventListener('click', async () => {
    await scheduler.enqueue('hang', { ms: 10 * 60_000 }, { priority: 'high', timeoutMs: 3_000, retry: { attempts: 1 } });
    say('A task that spins forever: after its 3 s timeout and a 1 s grace, its worker is terminated and replaced.');
  });

  $('crash').addEventListener('click', async () => {
    await scheduler.enqueue('crash', null, { priority: 'high', retry: { attempts: 1 } });
    say('A task that closes its own worker: the call fails with WorkerCrashedError and the pool refills.');
  });

  $('delayed').addEventListener('click', async () => {
    await scheduler.enqueueMany(
      Array.from({ length: 6 }, (_, i) => ({ name: 'crunch' as const, input: { ms: 300 }, options: { delayMs: 4_000 + i * 3_000 } })),
    );
    say('6 tasks delayed by 4 to 19 s: see their countdowns in the panel.');
  });

  $('clear').addEventListener('click', async () => {
    const queued = await scheduler.list({ status: ['queued', 'retrying'], name: 'crunch', limit: 100_000 });
    await Promise.all(queued.map((t) => scheduler.cancel(t.id, 'cleared from the demo')));
    say(`Cancelled ${queued.length.toLocaleString('en-US')} queued burst tasks.`);
  });

  const pause = $<HTMLButtonElement>('pause');
  const syncPause = () => {
    pause.textContent = scheduler.paused ? '▶ Resume' : '❚❚ Pause';
    pause.setAttribute('aria-pressed', String(scheduler.paused));
  };
  pause.addEventListener('click', () => (scheduler.paused ? scheduler.resume() : scheduler.pause()));
  scheduler.addEventListener('state', syncPause);
  syncPause();

  const pool = $<HTMLInputElement>('pool');
  pool.addEventListener('input', () => {
    scheduler.resize({ max: Number(pool.value) });
    $('pool-out').textContent = pool.value;
  });
}
