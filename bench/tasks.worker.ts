// The tasklane worker module the bench schedules onto.
import { defineTasks } from '../src/worker.js';

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
