import type { Clock } from '../clock.js';
import { StorageError } from '../errors.js';
import type { TaskStore } from '../store.js';
import { yieldToEventLoop } from '../yield.js';

/** Finished tasks between retention trims. */
const TRIM_EVERY = 256;
/** The same for a store with synchronous writes, whose trim is cheap: small steps, so none holds the main thread long. */
const TRIM_EVERY_SYNC = 32;

export interface RetentionTrimHost {
  readonly store: TaskStore;
  readonly limits: { completed: number; failed: number };
  /** Held keys (`keyTtlMs`) are judged against this clock: a task whose key still dedupes is not trimmed. */
  readonly clock: Pick<Clock, 'now'>;
  closed(): boolean;
  warn(error: Error): void;
}

/**
 * Keeps the terminal records within the retention limits: a trim in its own macrotask every so many
 * finished tasks. A store with synchronous writes trims in a task of `yieldToEventLoop` rather than
 * a timer: work that yields the same way (`close({ drain: false })` cancelling a million queued
 * tasks) goes ahead of timers, so a timer's trim waited for all of it, and the memory store kept a
 * million cancelled records alive meanwhile (300,000 with the panel: closed in 4.3 s, untrimmed;
 * now 2.6 s).
 */
export class RetentionTrim {
  readonly #host: RetentionTrimHost;
  readonly #every: number;
  readonly #sync: boolean;
  #sinceTrim = 0;
  #trimming = false;

  constructor(host: RetentionTrimHost) {
    this.#host = host;
    this.#sync = host.store.writeNow !== undefined;
    this.#every = this.#sync ? TRIM_EVERY_SYNC : TRIM_EVERY;
  }

  /** A task reached a terminal status. */
  noteFinished(): void {
    if (++this.#sinceTrim >= this.#every) this.#schedule();
  }

  #schedule(): void {
    if (this.#trimming) return;
    this.#trimming = true;
    this.#sinceTrim = 0;
    const later = this.#sync ? (run: () => void) => void yieldToEventLoop().then(run) : (run: () => void) => setTimeout(run, 0);
    later(() => {
      // A closed scheduler's store is closing: a trim now would only race that.
      if (this.#host.closed()) {
        this.#trimming = false;
        return;
      }
      this.#host.store
        .trim({ ...this.#host.limits, now: this.#host.clock.now() })
        .catch((error: unknown) => this.#host.warn(new StorageError('retention trim failed', { cause: error })))
        .finally(() => {
          this.#trimming = false;
        });
    });
  }
}
