import type { IndexEntry } from '../index-entry.js';

/**
 * A dispatch policy: the dispatcher asks every gate "may this task start now?" when the task is at
 * the head of the queue and a worker could take it. A gate answers with the scheduler-clock time at
 * which the task may be asked about again: `now` or earlier lets it start (if every gate agrees);
 * a later time sends it back to the queue as a delayed task until then, so it holds no worker and
 * never blocks the tasks behind it. Being asked is no promise that the task starts.
 */
export interface DispatchGate {
  readonly name: string;
  notBefore(entry: IndexEntry, now: number): number;
  /** The dispatcher took `entry` (every gate let it start) and hands it to a worker now. */
  taken?(entry: IndexEntry, now: number): void;
  /** Called before each pump: a gate that waits on running tasks ending looks here (every attempt's end is followed by a pump). */
  refresh?(now: number): void;
}

/** Tells every gate that `entry` was taken. */
export function noteTaken(gates: readonly DispatchGate[], entry: IndexEntry, now: number): void {
  for (let i = 0; i < gates.length; i++) (gates[i] as DispatchGate).taken?.(entry, now);
}

/** Lets every gate look at what changed since the last pump. */
export function refreshGates(gates: readonly DispatchGate[], now: number): void {
  for (let i = 0; i < gates.length; i++) (gates[i] as DispatchGate).refresh?.(now);
}

/** The latest time any gate names for `entry`: `now` or earlier when all of them let it start. */
export function notBefore(gates: readonly DispatchGate[], entry: IndexEntry, now: number): number {
  let at = now;
  for (let i = 0; i < gates.length; i++) {
    const t = (gates[i] as DispatchGate).notBefore(entry, now);
    if (t > at) at = t;
  }
  return at;
}
