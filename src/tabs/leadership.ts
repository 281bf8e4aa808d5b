/** Whether this page can share a queue with its other tabs: Web Locks and BroadcastChannel. */
export function tabsSupported(): boolean {
  return typeof navigator !== 'undefined' && navigator.locks !== undefined && typeof BroadcastChannel === 'function';
}

/**
 * The leader lock of one queue: a Web Lock named `tasklane:<name>:leader`, held while this tab
 * runs the queue. A tab that does not get it at once waits in the lock's own queue, so when the
 * leader's tab closes, crashes or reloads, the browser grants it to the next tab: no polling.
 */
export class Leadership {
  readonly #lockName: string;
  readonly #abort = new AbortController();
  #release?: () => void;
  #granted?: Promise<void>;

  constructor(name: string) {
    this.#lockName = `tasklane:${name}:leader`;
  }

  /** Takes the lock if no tab holds it; true when this tab leads now. */
  async tryNow(): Promise<boolean> {
    let held = false;
    let granted!: () => void;
    const done = new Promise<void>((resolve) => {
      granted = resolve;
    });
    void navigator.locks.request(this.#lockName, { ifAvailable: true }, (lock) => {
      if (!lock) {
        granted();
        return undefined;
      }
      held = true;
      granted();
      return new Promise<void>((resolve) => {
        this.#release = resolve;
      });
    });
    await done;
    return held;
  }

  /** Resolves when the lock is granted to this tab (after every tab ahead of it let go); rejects if `stop()` comes first. */
  whenGranted(): Promise<void> {
    this.#granted ??= new Promise<void>((resolve, reject) => {
      navigator.locks
        .request(this.#lockName, { signal: this.#abort.signal }, () => {
          resolve();
          return new Promise<void>((release) => {
            this.#release = release;
          });
        })
        .catch(reject);
    });
    return this.#granted;
  }

  /** Whether some other tab waits for the lock: closing then hands the queue over. */
  async othersWaiting(): Promise<boolean> {
    const state = await navigator.locks.query();
    return (state.pending ?? []).some((lock) => lock.name === this.#lockName);
  }

  /** Lets go of the lock, or stops waiting for it. */
  stop(): void {
    this.#abort.abort();
    this.#release?.();
    this.#release = undefined;
  }
}
