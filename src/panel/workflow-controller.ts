import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { ScheduleInfo } from '../schedule-types.js';
import type { Scheduler } from '../scheduler-api.js';
import { SchedulerSubscription } from './scheduler-subscription.js';

/** What the workflow view needs of a scheduler. */
export type WorkflowScheduler = Pick<Scheduler, 'addEventListener' | 'removeEventListener' | 'schedules' | 'list' | 'metrics'>;

/** A task waiting for its dependencies, with the ones it still waits on. */
export interface WaitRow {
  id: string;
  name: string;
  /** Dependencies whose outcome has not reached it yet. */
  pending: string[];
  total: number;
}

/** Rows of waiting tasks read per refresh. */
const WAIT_ROWS = 6;
/** Events after which waiting tasks may have moved on (their dependencies ended) or new ones come. */
const WAIT_EVENTS = ['enqueued', 'completed', 'failed', 'cancelled', 'skipped'] as const;

/**
 * Feeds the panel's workflow view: repeat schedules with their next run (read again on each
 * `schedules` event), and tasks waiting for dependencies with what they wait on (read again, at most
 * once per animation frame, after events that can change them, and only while some task waits).
 * Like `SchedulerController`, it subscribes while its host is connected and never polls.
 */
export class WorkflowController implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #sub = new SchedulerSubscription<WorkflowScheduler>({
    listener: this,
    types: ['schedules', ...WAIT_EVENTS],
    replaced: () => {
      this.schedules = [];
      this.waits = [];
      this.waitCount = 0;
    },
    subscribed: () => {
      this.#schedulesStale = this.#waitsStale = true;
      this.#sub.requestFrame();
    },
    frame: () => void this.#refresh(),
  });
  #schedulesStale = true;
  #waitsStale = true;
  schedules: ScheduleInfo[] = [];
  waits: WaitRow[] = [];
  waitCount = 0;

  constructor(host: ReactiveControllerHost) {
    this.#host = host;
    host.addController(this);
  }

  attach(scheduler: WorkflowScheduler | undefined): void {
    this.#sub.attach(scheduler);
  }

  hostConnected(): void {
    this.#sub.connect();
  }

  hostDisconnected(): void {
    this.#sub.disconnect();
  }

  handleEvent(event: Event): void {
    if (event.type === 'schedules') this.#schedulesStale = true;
    else this.#waitsStale = true;
    this.#sub.requestFrame();
  }

  async #refresh(): Promise<void> {
    const sub = this.#sub;
    const s = sub.scheduler;
    if (!s) return;
    const generation = sub.generation;
    const reads: Promise<void>[] = [];
    if (this.#schedulesStale) {
      this.#schedulesStale = false;
      reads.push(s.schedules().then((list) => void (generation === sub.generation && (this.schedules = list))));
    }
    if (this.#waitsStale) {
      this.#waitsStale = false;
      const count = s.metrics().waiting;
      // Nothing waits (and nothing did): no read at all.
      if (count > 0 || this.waits.length > 0)
        reads.push(
          s.list({ status: 'waiting', limit: WAIT_ROWS }).then((tasks) => {
            if (generation !== sub.generation) return;
            this.waitCount = count;
            this.waits = tasks.map((t) => {
              const deps = (t.dependsOn ?? []).map((d) => d.id);
              const reached = t.dependencyOutcomes ?? {};
              return { id: t.id, name: t.name, pending: deps.filter((id) => !(id in reached)), total: deps.length };
            });
          }),
        );
      else this.waitCount = 0;
    }
    await Promise.allSettled(reads);
    if (generation === sub.generation) this.#host.requestUpdate();
  }
}
