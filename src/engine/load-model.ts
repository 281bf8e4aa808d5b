import type { InFlight, WorkerHandle } from '../worker-handle.js';

/** What a worker is expected to take, per task, before its result is known: unknown names run alone. */
const UNKNOWN_COST_MS = 1;

/**
 * The measured cost of work: an average run time per task name (an EWMA of reported run times),
 * and the expected work queued in each worker, which the dispatcher keeps under its pipeline budget.
 */
export class LoadModel {
  readonly #avgCost = new Map<string, number>();
  readonly #workerCost = new Map<WorkerHandle, number>();

  costOf(name: string): number {
    return this.#avgCost.get(name) ?? UNKNOWN_COST_MS;
  }

  /** A call of `name` ran for `runMs`. */
  observe(name: string, runMs: number): void {
    const prev = this.#avgCost.get(name);
    this.#avgCost.set(name, prev === undefined ? runMs : prev * 0.8 + runMs * 0.2);
  }

  loadOf(worker: WorkerHandle): number {
    return this.#workerCost.get(worker) ?? 0;
  }

  setLoad(worker: WorkerHandle, load: number): void {
    this.#workerCost.set(worker, load);
  }

  forget(worker: WorkerHandle): void {
    this.#workerCost.delete(worker);
  }

  /** Expected work on `worker`: the average run time of each call it holds and of each reserved for it. */
  recompute(worker: WorkerHandle, reserved: ReadonlySet<{ entry: { name: string } }> | undefined): void {
    let total = 0;
    const calls = worker.calls;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i] as InFlight;
      if (!call.abandoned) total += this.costOf(call.name);
    }
    if (reserved?.size) for (const a of reserved) total += this.costOf(a.entry.name);
    this.#workerCost.set(worker, total);
  }

  /** Least loaded first, stable. An insertion sort: pools are small, and `Array.prototype.sort` allocates. */
  sortByLoad(workers: WorkerHandle[]): void {
    for (let i = 1; i < workers.length; i++) {
      const worker = workers[i] as WorkerHandle;
      const load = this.loadOf(worker);
      let j = i - 1;
      for (; j >= 0 && this.loadOf(workers[j] as WorkerHandle) > load; j--) workers[j + 1] = workers[j] as WorkerHandle;
      workers[j + 1] = worker;
    }
  }
}
