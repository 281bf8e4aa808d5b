import type { IndexEntry } from '../index-entry.js';
import type { DispatchGate } from './gates.js';

export interface ExclusiveHost {
  /**
   * Asks for the Web Lock `name` (exclusive mode); `granted` is called once it is held, with the
   * function that releases it. Aborting `signal` gives up a request not granted yet.
   */
  request(name: string, signal: AbortSignal, granted: (release: () => void) => void): void;
  /** Whether the task is in the running set (taken, not yet finished or requeued). */
  running(id: string): boolean;
  /** Puts a held-back task back in line with its own `readyAt`; false when it is no longer queued. */
  reopen(id: string, readyAt: number, now: number): boolean;
  now(): number;
  schedulePump(): void;
}

/** A task waiting for its lock is re-asked at the latest this long after; the lock's grant reopens it earlier. */
const HOLD_MS = 60_000;

interface Lock {
  /** The task the lock is held (or being asked) for. */
  for?: string;
  /** Set once the lock is held. */
  release?: () => void;
  /** The holder was handed to a worker: its attempt's end releases the lock. */
  taken: boolean;
  abort?: AbortController;
  /** Tasks held back for this lock: id → their own readyAt, in the order they were asked about. */
  waiting: Map<string, number>;
}

/**
 * `exclusive: name` tasks, as a dispatch gate: a task starts only once this page holds the Web Lock
 * `name` for it, and the lock is released when its attempt ends (a retry asks for it again). The
 * request is asynchronous, so the task at the head goes back to the queue delayed (holding no
 * worker) until the grant puts it back in line. One request per lock name is in flight at a time;
 * the others wait here, so a lock contended with another tab costs one pending request, not one per
 * task. The lock is the origin's: other tabs and any other code using `navigator.locks` with the
 * same name are excluded while a task runs, and a dead tab's locks are released by the browser.
 */
export class ExclusiveGate implements DispatchGate {
  readonly name = 'exclusive';
  readonly #host: ExclusiveHost;
  /** Task id → its lock name, for live tasks that have one. */
  readonly #lockOf = new Map<string, string>();
  readonly #locks = new Map<string, Lock>();
  /** Locks held for a task that was taken: `refresh` looks for their attempt's end. */
  readonly #held = new Set<Lock>();

  constructor(host: ExclusiveHost) {
    this.#host = host;
  }

  note(id: string, lock: string): void {
    this.#lockOf.set(id, lock);
  }

  /** A task ended: a lock held or asked for it goes to the next task waiting for it. */
  finished(id: string): void {
    const name = this.#lockOf.get(id);
    if (name === undefined) return;
    this.#lockOf.delete(id);
    const lock = this.#locks.get(name);
    if (!lock) return;
    lock.waiting.delete(id);
    if (lock.for === id) this.#letGo(name, lock);
  }

  notBefore(entry: IndexEntry, now: number): number {
    if (this.#lockOf.size === 0) return now;
    const name = this.#lockOf.get(entry.id);
    if (name === undefined) return now;
    let lock = this.#locks.get(name);
    if (!lock) this.#locks.set(name, (lock = { taken: false, waiting: new Map() }));
    if (lock.for === entry.id && lock.release) return now;
    if (lock.for !== entry.id && !lock.waiting.has(entry.id)) lock.waiting.set(entry.id, entry.readyAt);
    if (lock.for === undefined) this.#ask(name, lock);
    return now + HOLD_MS;
  }

  taken(entry: IndexEntry): void {
    if (this.#lockOf.size === 0) return;
    const name = this.#lockOf.get(entry.id);
    const lock = name === undefined ? undefined : this.#locks.get(name);
    if (lock?.for === entry.id) {
      lock.taken = true;
      this.#held.add(lock);
    }
  }

  refresh(): void {
    if (this.#held.size === 0) return;
    for (const lock of this.#held) {
      const id = lock.for as string;
      if (this.#host.running(id)) continue;
      const name = this.#lockOf.get(id);
      if (name !== undefined) this.#letGo(name, lock);
    }
  }

  /** Locks held or asked for (for tests and the panel): lock name → task id. */
  holders(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, lock] of this.#locks) if (lock.for !== undefined && lock.release) out.set(name, lock.for);
    return out;
  }

  /** Releases every lock held and gives up every request. */
  stop(): void {
    for (const lock of this.#locks.values()) {
      lock.abort?.abort();
      lock.release?.();
    }
    this.#locks.clear();
    this.#held.clear();
  }

  /** Asks for lock `name` for the first task waiting for it. */
  #ask(name: string, lock: Lock): void {
    const next = lock.waiting.keys().next();
    if (next.done) {
      this.#locks.delete(name);
      return;
    }
    const id = next.value;
    const readyAt = lock.waiting.get(id) as number;
    lock.waiting.delete(id);
    lock.for = id;
    lock.taken = false;
    const abort = (lock.abort = new AbortController());
    this.#host.request(name, abort.signal, (release) => {
      if (lock.for !== id || abort.signal.aborted) {
        release();
        return;
      }
      lock.release = release;
      // The task left the queue while the request waited (cancelled, or it is somewhere else): pass it on.
      if (!this.#host.reopen(id, readyAt, this.#host.now())) this.#letGo(name, lock);
      else this.#host.schedulePump();
    });
  }

  /** The lock's task is done with it: release, and ask again for the next one waiting. */
  #letGo(name: string, lock: Lock): void {
    this.#held.delete(lock);
    lock.abort?.abort();
    lock.release?.();
    lock.for = undefined;
    lock.release = undefined;
    lock.abort = undefined;
    lock.taken = false;
    this.#ask(name, lock);
  }
}
