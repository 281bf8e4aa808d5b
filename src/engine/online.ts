import type { IndexEntry } from '../index-entry.js';
import type { DispatchGate } from './gates.js';

/** How long a task that needs the network waits, while offline, before it is asked about again (an `online` event comes first). */
export const OFFLINE_RECHECK_MS = 5_000;

export interface OnlineHost {
  /** `navigator.onLine`, or true where there is no such thing. */
  isOnline(): boolean;
  /** Subscribes to the browser's `online` event; returns the unsubscribe. */
  onOnline(listener: () => void): () => void;
  /** Puts the queued task `id` back in line, ready now, and pumps (it had been held back offline). */
  readyNow(ids: readonly string[]): void;
}

/**
 * Online-only tasks (`requires: 'online'`): a gate that holds such a task back while the browser is
 * offline, and lets the held ones go on the `online` event. A task is known to need the network by
 * its id, noted when it is admitted or recovered and forgotten when it ends. The scheduler adds the
 * gate to the dispatcher's list only when the first such task is noted: a queue without one asks no gate.
 */
export class OnlineGate implements DispatchGate {
  readonly name = 'online';
  readonly #host: OnlineHost;
  readonly #needs = new Set<string>();
  /** Held back while offline, to let go on `online`. */
  readonly #held = new Set<string>();
  #unsubscribe?: () => void;

  constructor(host: OnlineHost) {
    this.#host = host;
  }

  /** How many live tasks need the network. */
  get size(): number {
    return this.#needs.size;
  }

  note(id: string): void {
    this.#needs.add(id);
    this.#unsubscribe ??= this.#host.onOnline(() => this.#wentOnline());
  }

  /** A task ended: nothing to hold back any more. */
  finished(id: string): void {
    if (this.#needs.size === 0 || !this.#needs.delete(id)) return;
    this.#held.delete(id);
    if (this.#needs.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  notBefore(entry: IndexEntry, now: number): number {
    if (this.#needs.size === 0 || !this.#needs.has(entry.id) || this.#host.isOnline()) return now;
    this.#held.add(entry.id);
    return now + OFFLINE_RECHECK_MS;
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #wentOnline(): void {
    if (this.#held.size === 0) return;
    const ids = [...this.#held];
    this.#held.clear();
    this.#host.readyNow(ids);
  }
}
