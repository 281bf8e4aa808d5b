/** The first retry of held state changes waits this long; each failed retry doubles it, up to `RETRY_MAX_MS`. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Why a commit may succeed if tried again later: out of quota (space can be freed: retention,
 * deletions, the user), aborted by the browser (a connection being closed under us), or refused for
 * a reason IndexedDB does not name.
 */
export function isTransient(cause: unknown): boolean {
  const name = (cause as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'AbortError' || name === 'UnknownError' || name === 'InvalidStateError';
}

/** All the policy knows of a write. */
export interface Holdable {
  /**
   * A state change of tasks already stored: a commit that fails for a transient reason (see
   * `isTransient`) keeps it, to be committed again later, instead of rejecting it.
   */
  hold: boolean;
}

/** What the failure policy needs from the write path around it. */
export interface CommitRetryHost<W extends Holdable> {
  /** The connection closed: no failure is transient any more, and nothing is retried. */
  readonly closed: boolean;
  /** The connection is gone (see `GroupCommit.detach`): held state changes go to `orphaned` instead of waiting here. */
  readonly detached: boolean;
  /** Undefined when no transaction is in flight; otherwise settles once every one begun so far has finished. */
  whenIdle(): Promise<unknown> | undefined;
  /** Rejects `write` with `error`: it will not be committed. */
  fail(write: W, error: Error): void;
  /** Takes the state changes out of the writes parked for the next transaction, oldest first. */
  takeParked(): W[];
  /**
   * Commits `writes` in a new transaction of their own. `retry`: it carries held writes again, and
   * its commit is reported to `committed` as one; a version replaced since by a newer write is left
   * out (the newer one is what must land).
   */
  commit(writes: W[], retry: boolean): void;
  /** After `detached`: state changes of a transaction that failed, for the store to carry to its next connection. */
  orphaned(writes: W[], error: Error): void;
  /**
   * Held state changes could not be committed (`error`, its `cause` the DOMException): attempt
   * `attempt` of this episode failed, the next is in `retryInMs`. `count` writes are held.
   */
  failing(error: Error, attempt: number, retryInMs: number, count: number): void;
  /** The held state changes committed: the episode that began at `since` (epoch ms) is over. */
  recovered(since: number): void;
}

/**
 * What happens to writes whose commit failed: which are held (state changes, for a transient
 * cause), when they are tried again (a doubling backoff, or at once when a commit may have freed
 * space), and when they are given up. Held writes keep write order: a newer state change never
 * overtakes an older one.
 */
export class CommitRetry<W extends Holdable> {
  readonly #host: CommitRetryHost<W>;
  /**
   * State changes whose commit failed for a transient reason, oldest first, waiting for `#retry`.
   * While any are held, new state changes join them (they are newer): none overtakes another.
   */
  #held: W[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Failed attempts in the episode under way (0: none), and when it began. */
  #attempts = 0;
  #failingSince = 0;
  /**
   * The last retry of several writes failed: the next one tries the oldest alone, so that what fits
   * in the room there is commits (in order) instead of all of it waiting for room for all of it.
   */
  #retryOne = false;

  constructor(host: CommitRetryHost<W>) {
    this.#host = host;
  }

  /** State changes held after a transient failure, waiting for a retry. */
  get held(): number {
    return this.#held.length;
  }

  /** Whether an episode of failing commits is under way (it ends when the held state changes commit). */
  get failing(): boolean {
    return this.#attempts > 0;
  }

  /** A new state change, while others are held: it waits with them, after them. */
  join(write: W): void {
    this.#held.push(write);
  }

  /**
   * No retry comes any more (the connection closed or is gone): returns the held writes, oldest
   * first, for the caller to fail or carry elsewhere.
   */
  drain(): W[] {
    this.#endEpisode();
    return this.#held.splice(0);
  }

  /** `writes` failed with `error` (caused by `cause`): held state changes wait for a retry when the cause is transient, the rest are rejected. */
  failOrHold(writes: readonly W[], error: Error, cause: unknown): void {
    if (this.#host.detached) {
      const carried = writes.filter((w) => w.hold);
      for (const w of writes) if (!w.hold) this.#host.fail(w, error);
      if (carried.length > 0) this.#host.orphaned(carried, error);
      return;
    }
    const transient = isTransient(cause) && !this.#host.closed;
    const kept: W[] = [];
    for (const w of writes) {
      if (transient && w.hold) kept.push(w);
      else this.#host.fail(w, error);
    }
    if (kept.length > 0) this.#hold(kept, error);
  }

  /**
   * A transaction committed; `retry`: it carried held writes again. `freedSpace` says whether it
   * deleted segments or removed tasks (asked only when held writes may fit now).
   */
  committed(retry: boolean, freedSpace: () => boolean): void {
    if (this.#attempts === 0 || this.#host.detached) return;
    if (retry) this.#retryOne = false;
    if (retry && this.#held.length === 0) {
      const since = this.#failingSince;
      this.#attempts = 0;
      this.#host.recovered(since);
    } else if (retry) {
      // The oldest went in: the rest go now, together.
      this.#scheduleRetry(0);
    } else if (this.#held.length > 0 && freedSpace()) {
      // Space was freed: the held state changes may fit now.
      this.#scheduleRetry(0);
    }
  }

  /** Tries the held state changes once more now; those that still fail are rejected, and no more are held. */
  async giveUp(): Promise<void> {
    this.#stopTimer();
    if (this.#held.length === 0 || this.#host.detached) return;
    for (let idle = this.#host.whenIdle(); idle; idle = this.#host.whenIdle()) await idle;
    const writes = this.#held.splice(0);
    for (const w of writes) w.hold = false;
    // Their last try: what fails now is rejected, not held, so no episode goes on after it.
    this.#endEpisode();
    this.#host.commit(writes, false);
  }

  #endEpisode(): void {
    this.#stopTimer();
    this.#attempts = 0;
    this.#retryOne = false;
  }

  /**
   * Keeps `writes` (the oldest state changes not committed) for a retry after a backoff, with the
   * state changes parked behind them, which are newer; from now on new ones join them too.
   */
  #hold(writes: W[], error: Error): void {
    this.#held = writes.concat(this.#held, this.#host.takeParked());
    if (this.#attempts === 0) this.#failingSince = Date.now();
    this.#attempts++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.#attempts - 1));
    this.#scheduleRetry(delay);
    this.#host.failing(error, this.#attempts, delay, this.#held.length);
  }

  #scheduleRetry(delayMs: number): void {
    this.#stopTimer();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retry();
    }, delayMs);
  }

  #stopTimer(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Commits the held state changes again, in one transaction, once nothing else is in flight. */
  #retry(): void {
    if (this.#host.detached || this.#held.length === 0 || this.#host.closed) return;
    const idle = this.#host.whenIdle();
    if (idle) {
      void idle.then(() => this.#retry());
      return;
    }
    const writes = this.#held.splice(0, this.#retryOne ? 1 : this.#held.length);
    if (writes.length > 1) this.#retryOne = true;
    this.#host.commit(writes, true);
  }
}
