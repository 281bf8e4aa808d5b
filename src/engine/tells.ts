import { StorageError } from '../errors.js';
import type { SteadyMap } from '../steady-map.js';
import type { TaskHandle } from '../task-handle.js';
import type { WriteQueue } from './write-queue.js';

/** What a step holds until its end: a handle whose staged outcome settles, or an event to dispatch. */
export type Tell = TaskHandle | Event;

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

  constructor(host: TellsHost) {
    this.#host = host;
  }

  /** Tells waiting for a commit. */
  get pending(): number {
    return this.#pending;
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
      this.#deliver(tell);
      this.#host.onDelivered();
    });
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

  /** Delivers `tell` now, or at `release` when a step is under way. */
  runOrHold(tell: Tell): void {
    if (this.#holding) this.#held[this.#heldEnd++] = tell;
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
      try {
        this.#deliver(tell);
      } catch (error) {
        // One failing tell must not cost the others theirs; the error still surfaces, as uncaught.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.#heldNext = this.#heldEnd = 0;
    // A step that held very many (the breaker failing every ready task, one report of hundreds of
    // outcomes) does not keep its array's length.
    if (held.length > 1024) held.length = 0;
  }
}
