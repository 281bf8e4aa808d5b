import { StorageError } from '../errors.js';
import type { SteadyMap } from '../steady-map.js';
import type { TaskHandle } from '../task-handle.js';
import { yieldToEventLoop } from '../yield.js';
import type { WriteQueue } from './write-queue.js';

/** What a step holds until its end: a handle whose staged outcome settles, or an event to dispatch. */
export type Tell = TaskHandle | Event;

/** Many tells made one at a time as they are delivered (a batch's `enqueued` events): `at(i)` for i in 0..size. */
export interface TellRun {
  readonly size: number;
  at(i: number): Tell;
}

function isRun(item: Tell | TellRun): item is TellRun {
  return typeof (item as Partial<TellRun>).at === 'function';
}

/** Main-thread time a slice of the backlog takes before it yields to the event loop, well under a 50 ms long task. */
const SLICE_MS = 8;

export interface TellsHost {
  readonly writes: Pick<WriteQueue, 'inFlight' | 'committed'> & Partial<Pick<WriteQueue, 'unpersisted'>>;
  /** The live handles: a handle leaves them as it settles. */
  readonly handles: SteadyMap<string, TaskHandle>;
  dispatchEvent(event: Event): boolean;
  /** A tell that waited for a commit was delivered: the queue may have become idle. */
  onDelivered(): void;
}

/**
 * Ordered delivery. A tell (a settle or an event) is delivered once every write requested before it
 * has committed, so nobody hears of a state the store does not hold yet, and tells keep their order.
 * A task whose state change could not be stored at all (`WriteQueue.unpersisted`) is not announced:
 * its event is dropped (the write queue warned), and its handle rejects with a `StorageError`.
 * Within a step (a pump, a batch of outcomes: `hold` … `release`) tells are held and delivered at
 * its end, so no listener runs in the middle of a step or sees its state half-changed.
 *
 * A run of tells (`tellRun`) is delivered in slices of about SLICE_MS, yielding to the event loop
 * between them. While a run or what was told after it waits in the backlog, every new tell joins
 * the backlog behind it: order holds across slices, and `pending` counts the backlog.
 */
export class Tells {
  readonly #host: TellsHost;
  #pending = 0;
  /**
   * Tells held by the step under way, in order: `#held[#heldNext..#heldEnd)` are still to deliver.
   * The array is kept between steps (most hold one tell) and cleared slot by slot.
   */
  readonly #held: (Tell | undefined)[] = [];
  #heldNext = 0;
  #heldEnd = 0;
  #holding = false;
  /** Tells and runs waiting for a slice, in order: `#backlog[#backlogNext..]`, the first run from `#runNext`. */
  #backlog: (Tell | TellRun)[] = [];
  #backlogNext = 0;
  #runNext = 0;
  /** A slice is under way: a tell its listeners make joins the backlog, never starts another slice. */
  #slicing = false;
  /** Resolves each run's `tellRun` promise once its last tell is delivered. */
  readonly #runDone = new Map<TellRun, () => void>();

  constructor(host: TellsHost) {
    this.#host = host;
  }

  /** Tells waiting for a commit or in the backlog. */
  get pending(): number {
    return this.#pending + this.#backlog.length - this.#backlogNext;
  }

  tell(tell: Tell): void {
    const writes = this.#host.writes;
    if (writes.inFlight === 0 && this.#pending === 0) {
      this.runOrHold(tell);
      return;
    }
    this.#pending++;
    writes.committed.then(() => {
      this.#pending--;
      if (this.#backlogged()) this.#toBacklog(tell);
      else {
        this.#deliver(tell);
        this.#host.onDelivered();
      }
    });
  }

  /**
   * `tell` of every tell of `run`, in order, delivered in slices. Returns a promise that resolves once
   * the last is delivered, or undefined when all were delivered before this returned.
   *
   * Invariant: a run is told outside a step; one told inside a step is held there tell by tell.
   */
  tellRun(run: TellRun): Promise<void> | undefined {
    if (run.size === 0) return undefined;
    if (this.#holding) {
      for (let i = 0; i < run.size; i++) this.#held[this.#heldEnd++] = run.at(i);
      return undefined;
    }
    const done = new Promise<void>((resolve) => this.#runDone.set(run, resolve));
    const writes = this.#host.writes;
    if (writes.inFlight === 0 && this.#pending === 0) this.#toBacklog(run);
    else {
      this.#pending++;
      writes.committed.then(() => {
        this.#pending--;
        this.#toBacklog(run);
      });
    }
    if (!this.#runDone.has(run)) return undefined;
    return done;
  }

  #backlogged(): boolean {
    return this.#backlogNext < this.#backlog.length;
  }

  /** Appends to the backlog; a backlog that was empty is worked on at once, its first slice in this task. */
  #toBacklog(item: Tell | TellRun): void {
    const start = !this.#backlogged() && !this.#slicing;
    this.#backlog.push(item);
    if (start) this.#slice();
  }

  /** Delivers the backlog for about SLICE_MS, then yields and goes on; calls `onDelivered` once it is empty. */
  #slice(): void {
    const backlog = this.#backlog;
    const started = performance.now();
    this.#slicing = true;
    while (this.#backlogNext < backlog.length) {
      const item = backlog[this.#backlogNext] as Tell | TellRun;
      if (!isRun(item)) {
        backlog[this.#backlogNext++] = undefined as unknown as Tell;
        this.#safely(item, 0);
      } else {
        while (this.#runNext < item.size) {
          this.#safely(item, this.#runNext++);
          if (performance.now() - started > SLICE_MS) break;
        }
        if (this.#runNext < item.size) break;
        backlog[this.#backlogNext++] = undefined as unknown as Tell;
        this.#runNext = 0;
        this.#runDone.get(item)?.();
        this.#runDone.delete(item);
      }
      if (performance.now() - started > SLICE_MS) break;
    }
    this.#slicing = false;
    if (this.#backlogged()) {
      void yieldToEventLoop().then(() => this.#slice());
      return;
    }
    this.#backlog = [];
    this.#backlogNext = 0;
    this.#host.onDelivered();
  }

  /** Delivers a tell, or the i-th of a run; one failing must not cost the others theirs: the error still surfaces, as uncaught. */
  #safely(item: Tell | TellRun, i: number): void {
    try {
      this.#deliver(isRun(item) ? item.at(i) : item);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** A handle settles as it leaves the live handles: from then on `get(id)` answers from the record. */
  #deliver(tell: Tell): void {
    const writes = this.#host.writes;
    if (tell instanceof Event) {
      const task = (tell as Event & { task?: { id?: unknown } }).task;
      if (typeof task?.id === 'string' && writes.unpersisted?.(task.id)) return;
      this.#host.dispatchEvent(tell);
    } else {
      const handles = this.#host.handles;
      if (handles.get(tell.id) === tell) handles.delete(tell.id);
      const failure = writes.unpersisted?.(tell.id);
      if (failure)
        tell._unpersisted(
          new StorageError(
            `task "${tell.name}" (${tell.id}) ended, but its outcome could not be stored (${(failure.cause as Error | undefined)?.message ?? failure.message}): the store keeps its earlier state, so it may run again after a reload`,
            { cause: failure },
          ),
        );
      tell._settle();
    }
  }

  /** Starts a step unless one is under way; returns whether it did (and so must `release`). */
  hold(): boolean {
    if (this.#holding) return false;
    this.#holding = true;
    return true;
  }

  /** Delivers `tell` now, or at `release` when a step is under way, or behind the backlog while there is one. */
  runOrHold(tell: Tell): void {
    if (this.#holding) this.#held[this.#heldEnd++] = tell;
    else if (this.#backlogged()) this.#toBacklog(tell);
    else this.#deliver(tell);
  }

  /**
   * Ends the step and delivers what it held, oldest first. A listener that starts a step of its own
   * holds its tells behind the ones still waiting here, and that step's release delivers all of them.
   */
  release(): void {
    this.#holding = false;
    const held = this.#held;
    while (this.#heldNext < this.#heldEnd) {
      const i = this.#heldNext++;
      const tell = held[i] as Tell;
      held[i] = undefined;
      if (this.#backlogged()) this.#backlog.push(tell);
      else this.#safely(tell, 0);
    }
    this.#heldNext = this.#heldEnd = 0;
    // A step that held very many (the breaker failing every ready task, one report of hundreds of
    // outcomes) does not keep its array's length.
    if (held.length > 1024) held.length = 0;
  }
}
