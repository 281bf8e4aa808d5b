import type { Clock } from '../clock.js';
import { deserializeError, serializeError, TimeoutError, WorkerCrashedError } from '../errors.js';
import { entryOf } from '../index-entry.js';
import type { Counters } from '../metrics.js';
import type { Pool } from '../pool.js';
import type { RunOutcome } from '../protocol.js';
import type { TaskIndex } from '../task-index.js';
import { completeAttempt, type FailureOutcome, failAttempt } from '../transition.js';
import type { SerializedError, TaskRecord } from '../types.js';
import type { InFlight, WorkerHandle } from '../worker-handle.js';
import type { Dispatcher } from './dispatcher.js';
import type { Emitter } from './emitter.js';
import type { Active, LiveTasks } from './live-tasks.js';
import type { LoadModel } from './load-model.js';
import type { Tells } from './tells.js';
import type { Watchdog } from './watchdog.js';
import type { WriteQueue } from './write-queue.js';

export interface OutcomesHost {
  readonly clock: Clock;
  /** Randomness for backoff jitter. */
  readonly random: () => number;
  readonly index: TaskIndex;
  readonly live: LiveTasks;
  readonly load: LoadModel;
  readonly counters: Counters;
  readonly writes: WriteQueue;
  readonly tells: Tells;
  readonly emitter: Emitter;
  readonly pool: Pick<Pool, 'retiring' | 'terminate'>;
  readonly dispatcher: Dispatcher;
  readonly watchdog: Watchdog;
  /** A handler of `record` threw `RateLimitedError`: its group waits until `until` (limits, if any). */
  rateLimited?(record: TaskRecord, until: number): void;
  /**
   * An attempt's start became known, once per attempt: at the head of its worker (the watchdog) or
   * with its outcome (a pipelined call that ran and finished within one reply). Rate windows count it.
   */
  started?(active: Active, startedAt: number): void;
  /** Whether a failed attempt of `record` is not counted: it needs the network and the browser is offline. */
  offline?(record: TaskRecord): boolean;
}

/**
 * What comes back from workers, applied to the records: results, failures (a retry after a
 * backoff, or the dead-letter set), progress, timeouts and worker exits. Every change is persisted
 * before it is told (settles and events go through the tells).
 */
export class Outcomes {
  readonly #host: OutcomesHost;

  constructor(host: OutcomesHost) {
    this.#host = host;
  }

  /** Emits `started` once per attempt. */
  markStarted(active: Active, startedAt: number): void {
    if (active.notifiedStart || !active.record) return;
    active.notifiedStart = true;
    active.record.startedAt = startedAt;
    this.#host.counters.waitMs.add(Math.max(0, startedAt - active.entry.readyAt));
    this.#host.started?.(active, startedAt);
    this.#host.emitter.task('started', active.record);
  }

  /** A report of finished calls from `worker`: one step. */
  onOutcomes(worker: WorkerHandle, outcomes: RunOutcome<InFlight>[], now: number): void {
    const tells = this.#host.tells;
    const outer = tells.hold();
    try {
      this.#applyOutcomes(worker, outcomes, now);
    } finally {
      if (outer) tells.release();
    }
  }

  #applyOutcomes(worker: WorkerHandle, outcomes: RunOutcome<InFlight>[], now: number): void {
    const host = this.#host;
    const active = host.live.active;
    const changed: TaskRecord[] = new Array(outcomes.length);
    let n = 0;
    let failures: Map<TaskRecord, FailureOutcome> | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i] as RunOutcome<InFlight>;
      const call = outcome.call;
      host.load.observe(call.name, outcome.runMs);
      const a = active.get(call.id);
      if (!a || a.call !== call || call.abandoned || !a.record) continue;
      const record = a.record;
      this.markStarted(a, call.startedAt ?? now - outcome.runMs);
      active.delete(record.id);
      host.counters.runMs.add(outcome.runMs);
      if (outcome.ok) completeAttempt(record, outcome.value, now);
      else (failures ??= new Map()).set(record, this.#fail(record, outcome.error, now));
      changed[n++] = record;
    }
    if (n < changed.length) changed.length = n;
    // Persist, then tell: results and events follow the commit.
    host.writes.persist(changed);
    for (let i = 0; i < changed.length; i++) {
      const record = changed[i] as TaskRecord;
      const failure = failures?.get(record);
      if (failure) this.afterFailure(record, failure, record.errors[record.errors.length - 1] as SerializedError);
      else {
        host.counters.counts.completed++;
        host.live.settle(record, true, record.result);
        host.emitter.task('completed', record);
      }
    }
    if (worker.doomed && !worker.calls.some((c) => c.abandoned)) host.watchdog.undoom(worker);
    host.dispatcher.recomputeLoad(worker);
    host.watchdog.noteHead(worker);
    if (worker.calls.length === 0 && worker.alive) {
      if (host.pool.retiring().has(worker)) host.pool.terminate(worker, new Error('pool resized'));
      else host.emitter.worker(worker.id, 'idle');
    }
    host.dispatcher.pump();
  }

  #fail(record: TaskRecord, error: SerializedError, now: number): FailureOutcome {
    const host = this.#host;
    return failAttempt(record, error, now, host.live.backoffFns.get(record.id), host.random, host.offline?.(record) === true);
  }

  /** After `failAttempt`: re-index for a retry, or settle as failed. The record is already changed and persisted. */
  afterFailure(record: TaskRecord, result: FailureOutcome, error: SerializedError): void {
    const host = this.#host;
    if (result.kind === 'retry') {
      if (error.retryAfterMs !== undefined) host.rateLimited?.(record, record.runAt);
      host.counters.counts.retried++;
      host.index.add(entryOf(record), host.clock.now());
      host.live.setStatus(record.id, 'retrying');
      host.emitter.task('retrying', record, { error: deserializeError(error), delayMs: result.delayMs });
      host.dispatcher.schedulePump();
    } else {
      host.counters.counts.failed++;
      const err = deserializeError(error);
      host.live.settle(record, false, err);
      host.emitter.task('failed', record, { error: err });
    }
  }

  onProgress(call: InFlight, value: number): void {
    const active = this.#host.live.active.get(call.id);
    if (!active?.record || active.call !== call) return;
    active.record.progress = value;
    this.#host.live.handles.get(active.record.id)?._progress(value);
    this.#host.emitter.task('progress', active.record, { progress: value });
  }

  onTimeout(worker: WorkerHandle, call: InFlight): void {
    const host = this.#host;
    const live = host.live;
    const active = live.active.get(call.id);
    if (!active?.record || active.call !== call || call.abandoned) return;
    const record = active.record;
    const error = new TimeoutError(
      `task "${record.name}" (${record.id}) timed out after ${record.timeoutMs} ms on attempt ${record.attempt} of ${record.retry.attempts} (${live.active.size} running, ${host.index.size} queued)`,
    );
    const data = serializeError(error);
    host.watchdog.abandon(active, data);
    live.active.delete(record.id);
    const result = this.#fail(record, data, host.clock.now());
    host.writes.persist([record]);
    this.afterFailure(record, result, data);
    host.watchdog.noteHead(worker);
  }

  /** `worker` is gone: the call it was running fails; calls it had not started go back to the queue. */
  onExit(worker: WorkerHandle, error: Error, calls: InFlight[]): void {
    const host = this.#host;
    const live = host.live;
    host.watchdog.forget(worker);
    for (const call of calls) {
      const active = live.active.get(call.id);
      if (!active || active.call !== call || call.abandoned || !active.record) continue;
      if (call.startedAt !== undefined) {
        // The call that was running: this attempt failed with the worker.
        const data = serializeError(
          error.name === 'WorkerCrashedError' || error.name === 'WorkerLoadError'
            ? error
            : new WorkerCrashedError(`worker ${worker.id} exited while running task "${call.name}" (${call.id}): ${error.message}`),
        );
        live.active.delete(active.record.id);
        const result = this.#fail(active.record, data, host.clock.now());
        host.writes.persist([active.record]);
        this.afterFailure(active.record, result, data);
      } else {
        host.dispatcher.requeue(active);
      }
    }
    host.dispatcher.requeueReserved(worker);
    host.dispatcher.schedulePump();
  }
}
