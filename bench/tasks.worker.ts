// The tasklane worker module the bench schedules onto.
import { defineTasks } from '../src/worker.js';

/**
 * Case 5's floor: a plain echo on this same worker thread, answered before tasklane (or Comlink)
 * sees the message. A round trip's cost depends on where the OS put the worker's thread (on the
 * main thread's core or not, 2x apart here), so the floor is measured on the thread our tasks ran on.
 */
self.addEventListener('message', (event: MessageEvent) => {
  const data = event.data as { echo?: number } | null;
  if (data !== null && typeof data === 'object' && typeof data.echo === 'number') {
    event.stopImmediatePropagation();
    (self as unknown as { postMessage(message: unknown): void }).postMessage({ echo: data.echo });
  }
});

/** Busy-waits `ms` on this thread: CPU-bound work, deaf to its signal. */
function spinFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

export const tasks = defineTasks({
  noop(_input: null) {
    return null;
  },
  /** A small persisted task: its input is the point, not its work. */
  small(input: { i: number }) {
    return input.i;
  },
  /** When the handler started, on the shared clock (timeOrigin + now), in ms. */
  stamp(_input: null): number {
    return performance.timeOrigin + performance.now();
  },
  /** About `ms` of CPU work. */
  spin(input: { ms: number }) {
    spinFor(input.ms);
    return null;
  },
  /** A hung task: spins for `ms` ignoring its signal; only terminating the worker stops it. */
  hang(input: { ms: number }) {
    spinFor(input.ms);
    return null;
  },
});

export type Tasks = typeof tasks;
