/**
 * Time, injected. The system clock is monotonic within a page (`performance.timeOrigin +
 * performance.now()`), so a wall-clock jump neither bursts nor starves the queue; across reloads
 * it reads as epoch milliseconds, which is what persisted `runAt` values mean.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once `ms` have passed on this clock. Delays beyond what setTimeout holds are re-armed. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface TimerHandle {
  id: unknown;
}

/** setTimeout's ceiling: larger delays overflow and fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Fixed for the life of the realm; reading it costs as much as `performance.now()`, so once. */
const TIME_ORIGIN = performance.timeOrigin;

export const systemClock: Clock = {
  now: () => TIME_ORIGIN + performance.now(),
  setTimer(fn, ms) {
    const handle: TimerHandle = { id: undefined };
    const deadline = systemClock.now() + Math.max(0, ms);
    const arm = (remaining: number) => {
      handle.id = setTimeout(
        () => {
          const left = deadline - systemClock.now();
          // Timers may fire a hair early, and long ones are chained: wait out the rest.
          if (left > 0.5) arm(left);
          else fn();
        },
        Math.min(Math.max(0, remaining), MAX_TIMER_MS),
      );
    };
    arm(ms);
    return handle;
  },
  clearTimer(handle) {
    clearTimeout(handle.id as ReturnType<typeof setTimeout>);
  },
};

/** A manual clock for tests: time moves only through `advance`, timers fire in deadline order. */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; seq: number; fn: () => void; handle: TimerHandle }[] = [];
  #seq = 0;

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = { id: ++this.#seq };
    this.#timers.push({ at: this.#now + Math.max(0, ms), seq: this.#seq, fn, handle });
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.handle !== handle);
  }

  /** Pending timer deadlines, soonest first. */
  pending(): number[] {
    return this.#timers.map((t) => t.at).sort((a, b) => a - b);
  }

  /** Moves time forward, firing each due timer at its own deadline. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }
}
