import type { ScheduleInfo, ScheduleRecord, ScheduleSpec } from '../schedule-types.js';
import type { Repeat, RepeatHost } from './repeat.js';
import { checkScheduleId } from './schedule-id.js';

/**
 * The front of repeat schedules, always loaded: `engine/repeat` (and croner with it) is a chunk of
 * its own, loaded (a dynamic import) only once there is a schedule: the store has some on open, or
 * `schedule` is called. An app that never schedules never loads it. Until then the front answers
 * for an empty set; once loaded, everything goes to `Repeat`, in call order (each call waits for the
 * stored schedules to be read, and for the chunk if it is loading).
 */
export class Schedules {
  readonly #host: RepeatHost;
  /** The stored schedules, read on open; the chunk starts from them. */
  #stored: Promise<readonly ScheduleRecord[]> = Promise.resolve([]);
  #loading: Promise<Repeat> | undefined;
  #repeat: Repeat | undefined;
  #opened: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(host: RepeatHost) {
    this.#host = host;
  }

  /** Reads the stored schedules; when there are any, loads the chunk and catches up what fell due meanwhile. */
  open(): Promise<void> {
    const store = this.#host.store;
    if (!store || this.#stopped) return Promise.resolve();
    this.#stored = store.readSchedules();
    return this.#stored
      .then(async (stored) => {
        if (stored.length === 0 || this.#stopped) return;
        await this.#load();
        await this.#opened;
      })
      .catch((error) => {
        if (!this.#stopped) throw error;
      });
  }

  /** See `Scheduler.schedule`. */
  schedule(id: string, name: string, input: unknown, spec: ScheduleSpec): Promise<ScheduleInfo> {
    return this.#load().then((repeat) => repeat.schedule(id, name, input, spec));
  }

  /** See `Scheduler.unschedule`. */
  unschedule(id: string): Promise<boolean> {
    try {
      checkScheduleId(id);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#loaded().then((repeat) => repeat?.unschedule(id) ?? false);
  }

  /** Every stored schedule with its next run, soonest first. */
  list(): Promise<ScheduleInfo[]> {
    return this.#loaded().then((repeat) => repeat?.list() ?? []);
  }

  stop(): void {
    this.#stopped = true;
    this.#repeat?.stop();
  }

  /** `Repeat` once the stored schedules are read, if it is loaded by then (or loading); undefined while there is no schedule. */
  #loaded(): Promise<Repeat | undefined> {
    return this.#stored.then(
      () => this.#loading,
      () => this.#loading,
    );
  }

  /** Loads the chunk once (again after a failed load), opening `Repeat` on the stored schedules. */
  #load(): Promise<Repeat> {
    if (this.#loading) return this.#loading;
    const loading = (async () => {
      // A failed read was reported by `open`: the chunk then starts with none, as `Repeat.open` would.
      const stored = await this.#stored.catch(() => []);
      const { Repeat } = await import('./repeat.js');
      const repeat = new Repeat(this.#host);
      this.#repeat = repeat;
      if (this.#stopped) repeat.stop();
      // `open` reports what this catch-up hits; with nothing stored there is nothing to catch up.
      this.#opened = repeat.open(stored);
      this.#opened.catch(() => {});
      return repeat;
    })();
    this.#loading = loading;
    loading.catch(() => {
      if (this.#loading === loading) this.#loading = undefined;
    });
    return loading;
  }
}
