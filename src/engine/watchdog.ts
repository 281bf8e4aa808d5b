import type { Clock, TimerHandle } from '../clock.js';
import { WorkerCrashedError } from '../errors.js';
import type { Pool } from '../pool.js';
import type { SerializedError } from '../types.js';
import type { InFlight, WorkerHandle } from '../worker-handle.js';
import type { Active } from './live-tasks.js';

/**
 * The timeout of the call a worker runs. One timer per worker, re-armed lazily: a timer set for an
 * earlier call's deadline is kept, and when it fires it waits out what is left of the current one's.
 */
interface TimeoutWatch {
  /** The call being timed, if any. */
  call?: InFlight;
  deadline: number;
  timer?: TimerHandle;
  /** The deadline `timer` was set for. */
  timerAt: number;
}

export interface WatchdogHost {
  readonly clock: Clock;
  readonly active: ReadonlyMap<string, Active>;
  readonly pool: Pick<Pool, 'options' | 'spawnEstimateMs' | 'terminate'>;
  /** The call at the head of a worker is running: its task started at `startedAt`. */
  onStarted(active: Active, startedAt: number): void;
  /** `call` ran past its task's `timeoutMs`. */
  onTimeout(worker: WorkerHandle, call: InFlight): void;
  /** A doomed worker's replacement may start now. */
  schedulePump(): void;
}

/**
 * Time limits on running calls. A timeout starts when the call starts (it reaches the head of its
 * worker), not when it is sent. A call given up on (timed out or cancelled) has its signal aborted;
 * its worker is doomed (sent nothing more) and terminated if the handler has not returned within the
 * grace period, and its replacement may start about 1.5 spawn times before that.
 */
export class Watchdog {
  readonly #host: WatchdogHost;
  readonly #clock: Clock;
  readonly #timeouts = new Map<WorkerHandle, TimeoutWatch>();
  readonly #graceTimers = new Map<WorkerHandle, TimerHandle>();
  /** When a doomed worker's replacement may start: a spawn time before its grace period ends. */
  readonly #replaceTimers = new Map<WorkerHandle, TimerHandle>();

  constructor(host: WatchdogHost) {
    this.#host = host;
    this.#clock = host.clock;
  }

  /** Tells of the call now running at the head of `worker` (`onStarted`), and arms its timeout. */
  noteHead(worker: WorkerHandle): void {
    const head = worker.calls[0];
    const watch = this.#timeouts.get(worker);
    if (watch && watch.call !== head) watch.call = undefined;
    if (!head || head.startedAt === undefined || head.abandoned) return;
    const active = this.#host.active.get(head.id);
    if (!active?.record || active.call !== head) return;
    this.#host.onStarted(active, head.startedAt);
    const timeoutMs = active.record.timeoutMs;
    if (timeoutMs > 0 && watch?.call !== head) this.#watchTimeout(worker, watch, head, head.startedAt + timeoutMs);
  }

  #watchTimeout(worker: WorkerHandle, existing: TimeoutWatch | undefined, call: InFlight, deadline: number): void {
    let watch = existing;
    if (!watch) this.#timeouts.set(worker, (watch = { deadline, timerAt: Number.POSITIVE_INFINITY }));
    watch.call = call;
    watch.deadline = deadline;
    if (watch.timer) {
      if (watch.timerAt <= deadline) return;
      this.#clock.clearTimer(watch.timer);
    }
    this.#armTimeout(worker, watch);
  }

  #armTimeout(worker: WorkerHandle, watch: TimeoutWatch): void {
    const at = watch.deadline;
    watch.timerAt = at;
    watch.timer = this.#clock.setTimer(() => {
      watch.timer = undefined;
      const call = watch.call;
      if (!call) return;
      if (at < watch.deadline) this.#armTimeout(worker, watch);
      else {
        watch.call = undefined;
        this.#host.onTimeout(worker, call);
      }
    }, at - this.#clock.now());
  }

  /**
   * Gives up on a running call: aborts its signal, stops feeding its worker, and terminates the
   * worker if the handler has not returned within the grace period. Its replacement starts about
   * 1.5 spawn times before that, so the pool is back at strength when the worker goes (for that
   * short while the pool may hold one thread beyond `max`).
   */
  abandon(active: Active, reason: SerializedError): void {
    const { worker, call } = active;
    if (!call) return;
    worker.abort(call, reason);
    if (!worker.alive) return;
    worker.doomed = true;
    if (this.#graceTimers.has(worker)) return;
    const pool = this.#host.pool;
    const graceMs = pool.options.graceMs;
    this.#graceTimers.set(
      worker,
      this.#clock.setTimer(() => {
        this.#graceTimers.delete(worker);
        if (worker.alive && worker.calls.some((c) => c.abandoned))
          pool.terminate(
            worker,
            new WorkerCrashedError(
              `worker ${worker.id} terminated: task "${call.name}" (${call.id}) did not stop within ${graceMs} ms of its signal aborting`,
            ),
          );
      }, graceMs),
    );
    this.#replaceTimers.set(
      worker,
      this.#clock.setTimer(
        () => {
          this.#replaceTimers.delete(worker);
          if (!worker.alive || !worker.doomed) return;
          worker.replaced = true;
          this.#host.schedulePump();
        },
        Math.max(0, graceMs - 1.5 * pool.spawnEstimateMs),
      ),
    );
  }

  /** Every abandoned call on `worker` returned: it may take work again. */
  undoom(worker: WorkerHandle): void {
    worker.doomed = false;
    worker.replaced = false;
    for (const timers of [this.#graceTimers, this.#replaceTimers]) {
      const timer = timers.get(worker);
      if (timer) this.#clock.clearTimer(timer);
      timers.delete(worker);
    }
  }

  /** `worker` exited: its timers go. */
  forget(worker: WorkerHandle): void {
    const timeout = this.#timeouts.get(worker);
    if (timeout?.timer) this.#clock.clearTimer(timeout.timer);
    this.#timeouts.delete(worker);
    this.undoom(worker);
  }

  /** On close: every timer goes. */
  stop(): void {
    for (const t of this.#timeouts.values()) if (t.timer) this.#clock.clearTimer(t.timer);
    for (const t of this.#graceTimers.values()) this.#clock.clearTimer(t);
    for (const t of this.#replaceTimers.values()) this.#clock.clearTimer(t);
  }
}
